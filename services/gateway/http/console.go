package http

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	nethttp "net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/domain"
)

// The ops console: one server-rendered page for admins at GET /console
// showing each service's health and its sidecar's metadata, recent
// payments with their history, Razorpay webhook deliveries, dead letters
// and the money-conservation check of each user. It reads everything
// through the same service invocation (and access policies) as the API,
// with the admin's identity; it changes nothing.
//
// A browser cannot send a bearer token on navigation, so POST
// /console/login takes the admin's token once, starts a console session in
// the gateway's state store (an hour, or until the token expires if that
// is sooner) and sets a cookie holding only the session's random id
// (HttpOnly, SameSite=Strict, path /console). POST /console/logout deletes
// the session, so the cookie stops working everywhere at once. An
// Authorization header works too.

//go:embed console.html
var consoleFS embed.FS

var consoleTmpl = template.Must(template.New("console.html").Funcs(template.FuncMap{
	"rupees": formatPaise,
	"when":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
}).ParseFS(consoleFS, "console.html"))

// consoleCookie holds the console session's id.
const consoleCookie = "finflow_console"

// Console limits: how much one page load reads.
const (
	consoleUsers       = 20
	consolePayments    = 50
	consoleLedgerPages = 5
	consoleLedgerPage  = 100
)

// formatPaise writes paise as rupees with two decimals, in integers.
func formatPaise(p int64) string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	return fmt.Sprintf("%s₹%d.%02d", sign, p/100, p%100)
}

// consoleView is what the page shows.
type consoleView struct {
	Admin       string
	Generated   time.Time
	Login       bool
	LoginError  string
	Services    []serviceView
	Payments    []opsPayment
	PaymentsErr string
	Deliveries  []webhookDelivery
	DeliveryErr string
	DeadLetters []deadLetter
	DeadErr     string
	Users       []userMoney
	UsersErr    string
	NextUsers   string
	// MoneyVerdict sums the money check up: "all conserved", "problems
	// found" (a violation), or "not all checked" (a user could not be read).
	MoneyVerdict string
}

type serviceView struct {
	Name       string
	Ready      bool
	Health     string
	Sidecar    *sidecar.Metadata
	SidecarErr string
}

type opsPayment struct {
	ID            string  `json:"id"`
	BillID        string  `json:"bill_id"`
	UserID        *string `json:"user_id"`
	Amount        *int64  `json:"amount"`
	Method        string  `json:"method"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	CreatedAt     string  `json:"created_at"`
	History       []struct {
		At   time.Time `json:"at"`
		What string    `json:"what"`
	} `json:"history"`
}

type webhookDelivery struct {
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	Event     string    `json:"event"`
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Result    string    `json:"result"`
}

type deadLetter struct {
	EventID  string    `json:"event_id"`
	Reason   string    `json:"reason"`
	Received time.Time `json:"received"`
	Result   struct {
		OrderID   string `json:"order_id"`
		PaymentID string `json:"payment_id"`
		Status    string `json:"status"`
	} `json:"result"`
}

type userMoney struct {
	domain.Conservation
	Name     string
	NoWallet bool
	Err      string
}

// GET /console?user=<id> checks one user's money instead of a page of
// users (?users_cursor=).

// consoleIdentity returns who is asking: the bearer token's identity if
// there is an Authorization header, else the console session's. It fails
// with auth.ErrUnauthenticated when there is neither (or it is not valid),
// with another error when the session store does not answer or the
// caller's address is over its budget (checked before the store is read:
// anyone can send a cookie).
func (g *Gateway) consoleIdentity(c *fiber.Ctx) (auth.Identity, error) {
	if header := c.Get(fiber.HeaderAuthorization); header != "" {
		return g.tokens.Verify(header, g.now())
	}
	id := c.Cookies(consoleCookie)
	if !domain.ValidConsoleSessionID(id) {
		return auth.Identity{}, auth.ErrUnauthenticated
	}
	if err := g.limit(c, domain.Route{}, auth.Identity{}); err != nil {
		return auth.Identity{}, err
	}
	sess, found, err := g.sessions.Get(c.UserContext(), id)
	if errors.Is(err, domain.ErrConsoleSessionUnreadable) {
		server.Log(c, g.log).Warn("console session record unreadable; asking to sign in again", "err", err.Error())
		return auth.Identity{}, auth.ErrUnauthenticated
	}
	if err != nil {
		return auth.Identity{}, err
	}
	if !found {
		return auth.Identity{}, auth.ErrUnauthenticated.With("the console session has ended; sign in again", nil)
	}
	return sess.Identity(g.now())
}

// consolePage renders the page (or the login form) with status.
func consolePage(c *fiber.Ctx, status int, v consoleView) error {
	var b strings.Builder
	if err := consoleTmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("rendering the console: %w", err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Status(status).SendString(b.String())
}

// consoleLogin checks the token of the login form and, for an admin's,
// starts a console session and sets its cookie. A session the browser
// already had is ended first, so signing in again leaves one session.
func (g *Gateway) consoleLogin(c *fiber.Ctx) error {
	if err := g.limit(c, domain.Route{}, auth.Identity{}); err != nil {
		return err
	}
	form, err := consoleForm(c)
	if err != nil {
		return err
	}
	tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(form), "Bearer "))
	now := g.now()
	ident, expiry, err := g.tokens.VerifyExpiry("Bearer "+tok, now)
	switch {
	case err != nil:
		return consolePage(c, fiber.StatusUnauthorized, consoleView{Login: true, LoginError: "That token is not valid (or has expired)."})
	case !ident.Admin():
		return consolePage(c, fiber.StatusForbidden, consoleView{Login: true, LoginError: "The console is for admins; that token is a user's."})
	}
	sess, id, err := domain.NewConsoleSession(ident, expiry, now)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return consolePage(c, fiber.StatusUnauthorized, consoleView{Login: true, LoginError: "That token expires within a minute; get a fresh one."})
	}
	if err != nil {
		return err
	}
	if old := c.Cookies(consoleCookie); domain.ValidConsoleSessionID(old) {
		if err := g.sessions.Delete(c.UserContext(), old); err != nil {
			return err
		}
	}
	ttl := sess.TTL(now)
	if err := g.sessions.Create(c.UserContext(), id, sess, ttl); err != nil {
		return err
	}
	server.Log(c, g.log).Info("console sign-in", "admin", ident.Sub, "until", sess.Expires)
	g.setConsoleCookie(c, id, ttl)
	return c.Redirect("/console", fiber.StatusSeeOther)
}

// consoleForm reads the sign-in form's token, from an
// application/x-www-form-urlencoded body only: a token in the URL's query
// ends up in access logs and browser history, and a body of another type
// is not the console's form.
func consoleForm(c *fiber.Ctx) (string, error) {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationForm {
		return "", server.ErrUnsupportedMediaType.With("sign in with the console's form (Content-Type: application/x-www-form-urlencoded)", map[string]any{"header": "Content-Type"})
	}
	if c.Request().URI().QueryArgs().Len() > 0 {
		return "", apperr.Invalid("token", "the sign-in takes no query parameters: never put a token in a URL")
	}
	tokens := c.Request().PostArgs().PeekMulti("token")
	if len(tokens) != 1 {
		return "", apperr.Invalid("token", "the sign-in form takes exactly one token")
	}
	return string(tokens[0]), nil
}

// consoleLogout ends the console session (if any) and clears the cookie.
func (g *Gateway) consoleLogout(c *fiber.Ctx) error {
	if err := g.limit(c, domain.Route{}, auth.Identity{}); err != nil {
		return err
	}
	if id := c.Cookies(consoleCookie); domain.ValidConsoleSessionID(id) {
		if err := g.sessions.Delete(c.UserContext(), id); err != nil {
			// The cookie is kept: clearing it would look like a sign-out
			// while the session still works for anyone holding a copy.
			return err
		}
		server.Log(c, g.log).Info("console sign-out")
	}
	g.setConsoleCookie(c, "", -1)
	return c.Redirect("/console", fiber.StatusSeeOther)
}

// setConsoleCookie sets the session cookie for maxAge seconds (< 0 clears
// it).
func (g *Gateway) setConsoleCookie(c *fiber.Ctx, id string, maxAge int) {
	ck := &fiber.Cookie{Name: consoleCookie, Value: id, Path: "/console", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https", MaxAge: maxAge}
	if maxAge < 0 {
		ck.Expires = time.Unix(1, 0)
	}
	c.Cookie(ck)
}

// console serves the page to an admin, the login form to anyone else.
func (g *Gateway) console(c *fiber.Ctx) error {
	ident, err := g.consoleIdentity(c)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return consolePage(c, fiber.StatusUnauthorized, consoleView{Login: true})
	}
	if err != nil {
		return err
	}
	if !ident.Admin() {
		return consolePage(c, fiber.StatusForbidden, consoleView{Login: true, LoginError: "The console is for admins; you are signed in as a user."})
	}
	if err := g.limit(c, domain.Route{}, ident); err != nil {
		return err
	}
	signed, err := g.signer.Sign(ident, identityTTL, g.now())
	if err != nil {
		return fmt.Errorf("signing the identity: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	r := &consoleReader{g: g, header: nethttp.Header{auth.HeaderIdentity: {signed}, server.HeaderRequestID: {server.RequestID(c)}}}
	v := consoleView{Admin: ident.Sub, Generated: g.now().UTC()}

	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() { v.Services = r.services(ctx) })
	run(func() {
		var out struct{ Items []opsPayment }
		v.PaymentsErr = r.get(ctx, "payment", fmt.Sprintf("/ops/payments?limit=%d", consolePayments), &out)
		v.Payments = out.Items
	})
	run(func() {
		var out struct{ Items []webhookDelivery }
		v.DeliveryErr = r.get(ctx, "razorpay", "/ops/webhooks", &out)
		v.Deliveries = out.Items
	})
	run(func() {
		var out struct{ Items []deadLetter }
		v.DeadErr = r.get(ctx, "payment", "/Payment/dead-letters", &out)
		v.DeadLetters = out.Items
	})
	run(func() {
		if one := c.Query("user"); one != "" {
			v.Users = []userMoney{r.userMoney(ctx, one, "")}
			return
		}
		v.Users, v.NextUsers, v.UsersErr = r.money(ctx, c.Query("users_cursor"))
	})
	wg.Wait()
	v.MoneyVerdict = moneyVerdict(v.Users, v.UsersErr)
	return consolePage(c, fiber.StatusOK, v)
}

// moneyVerdict sums up the money checks of the page's users.
func moneyVerdict(users []userMoney, listErr string) string {
	verdict := "all conserved"
	if listErr != "" {
		verdict = "not all checked"
	}
	for _, u := range users {
		switch {
		case u.Err != "":
			verdict = "not all checked"
		case !u.NoWallet && !u.OK():
			return "problems found"
		}
	}
	return verdict
}

// consoleReader reads what the console shows from the services.
type consoleReader struct {
	g      *Gateway
	header nethttp.Header
}

// get invokes GET path on app and decodes a 200 answer into out; it
// returns what went wrong as text for the page, or "".
func (r *consoleReader) get(ctx context.Context, app, path string, out any) string {
	status, err := r.getStatus(ctx, app, path, out)
	if err != nil {
		return err.Error()
	}
	if status != 200 {
		return fmt.Sprintf("%s answered %d", app, status)
	}
	return ""
}

func (r *consoleReader) getStatus(ctx context.Context, app, path string, out any) (int, error) {
	resp, err := r.g.dapr.Invoke(ctx, app, "GET", path, nil, r.header.Clone())
	if err != nil {
		return 0, fmt.Errorf("%s: %v", app, err)
	}
	if resp.Status == 200 && out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp.Status, fmt.Errorf("%s: undecodable answer: %v", app, err)
		}
	}
	return resp.Status, nil
}

// metadataSource is the gateway's own sidecar client (its metadata).
type metadataSource interface {
	Metadata(ctx context.Context) (sidecar.Metadata, error)
}

// services reads every service's readiness (as GET /health does) and its
// sidecar's metadata, all at once.
func (r *consoleReader) services(ctx context.Context) []serviceView {
	apps := append([]string{"gateway"}, domain.Backends...)
	out := make([]serviceView, len(apps))
	var ready map[string]string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ready = r.g.readiness(ctx, r.header.Get(server.HeaderRequestID)) }()
	for i, app := range apps {
		wg.Add(1)
		go func(i int, app string) {
			defer wg.Done()
			out[i].Name = app
			out[i].Sidecar, out[i].SidecarErr = r.sidecar(ctx, app)
		}(i, app)
	}
	wg.Wait()
	for i := range out {
		out[i].Health = ready[out[i].Name]
		out[i].Ready = out[i].Health == "ok"
	}
	return out
}

// sidecar reads the metadata of app's sidecar: the gateway's own directly,
// any other through the app's GET /ops/sidecar.
func (r *consoleReader) sidecar(ctx context.Context, app string) (*sidecar.Metadata, string) {
	if app == "gateway" {
		ms, ok := r.g.dapr.(metadataSource)
		if !ok {
			return nil, "no sidecar metadata here"
		}
		md, err := ms.Metadata(ctx)
		if err != nil {
			return nil, err.Error()
		}
		return &md, ""
	}
	var md sidecar.Metadata
	if msg := r.get(ctx, app, "/ops/sidecar", &md); msg != "" {
		return nil, msg
	}
	return &md, ""
}

// money checks the conservation of money for one page of users.
func (r *consoleReader) money(ctx context.Context, cursor string) ([]userMoney, string, string) {
	q := url.Values{"limit": {fmt.Sprint(consoleUsers)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if msg := r.get(ctx, "user", "/users/all?"+q.Encode(), &page); msg != "" {
		return nil, "", msg
	}
	out := make([]userMoney, len(page.Items))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, u := range page.Items {
		wg.Add(1)
		go func(i int, id, name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = r.userMoney(ctx, id, name)
		}(i, u.ID, u.Name)
	}
	wg.Wait()
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return out, next, ""
}

var errLedgerTooLong = errors.New("ledger longer than the console reads")

func (r *consoleReader) userMoney(ctx context.Context, id, name string) userMoney {
	u := userMoney{Name: name}
	u.UserID = id
	// The ledger first, then the balance: a payment or top-up in between
	// shows as a differing balance, read again once, and otherwise reported
	// as not checked rather than as a violation.
	var ledger []domain.LedgerEntry
	var balance int64
	for attempt := 0; ; attempt++ {
		var err error
		if ledger, err = r.ledger(ctx, id); err != nil {
			u.Err = err.Error()
			return u
		}
		var bal struct {
			Balance int64 `json:"balance"`
		}
		status, err := r.getStatus(ctx, "wallet", "/wallet/balance/"+url.PathEscape(id), &bal)
		switch {
		case err != nil:
			u.Err = err.Error()
			return u
		case status == 404:
			u.NoWallet = true
			return u
		case status != 200:
			u.Err = fmt.Sprintf("wallet answered %d", status)
			return u
		}
		balance = bal.Balance
		if len(ledger) == 0 || ledger[0].BalanceAfter == balance {
			break
		}
		if attempt == 1 {
			u.Err = "the wallet changed while it was read; reload"
			return u
		}
	}
	payments := map[string]domain.PaymentState{}
	for _, e := range ledger {
		if e.Type != "DEBIT" || e.Reference == nil {
			continue
		}
		ref := *e.Reference
		if _, done := payments[ref]; done {
			continue
		}
		var p struct {
			Status string `json:"status"`
			Amount *int64 `json:"amount"`
		}
		status, err := r.getStatus(ctx, "payment", "/Payment/"+url.PathEscape(ref), &p)
		switch {
		case err != nil:
			u.Err = err.Error()
			return u
		case status == 404: // no such payment: CheckConservation says so
		case status != 200:
			u.Err = fmt.Sprintf("payment %s: the payment service answered %d", ref, status)
			return u
		default:
			ps := domain.PaymentState{Status: p.Status}
			if p.Amount != nil {
				ps.Amount = *p.Amount
			}
			payments[ref] = ps
		}
	}
	u.Conservation = domain.CheckConservation(id, balance, ledger, payments)
	sort.Strings(u.Problems)
	return u
}

// ledger reads a user's whole ledger, newest first, up to
// consoleLedgerPages pages.
func (r *consoleReader) ledger(ctx context.Context, id string) ([]domain.LedgerEntry, error) {
	var ledger []domain.LedgerEntry
	cursor := ""
	for page := 0; page < consoleLedgerPages; page++ {
		q := url.Values{"limit": {fmt.Sprint(consoleLedgerPage)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var out struct {
			Items      []domain.LedgerEntry `json:"items"`
			NextCursor *string              `json:"next_cursor"`
		}
		status, err := r.getStatus(ctx, "wallet", "/wallet/transactions/"+url.PathEscape(id)+"?"+q.Encode(), &out)
		switch {
		case err != nil:
			return nil, err
		case status == 404:
			return nil, nil // no wallet: the balance read says so
		case status != 200:
			return nil, fmt.Errorf("wallet answered %d", status)
		}
		ledger = append(ledger, out.Items...)
		if out.NextCursor == nil || *out.NextCursor == "" {
			return ledger, nil
		}
		cursor = *out.NextCursor
	}
	return nil, fmt.Errorf("%w (%d entries)", errLedgerTooLong, consoleLedgerPages*consoleLedgerPage)
}
