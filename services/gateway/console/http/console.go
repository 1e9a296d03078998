// Package http is the ops console: one server-rendered page for admins at
// GET /console showing each service's health and its sidecar's metadata,
// recent payments with their history, Razorpay webhook deliveries, dead
// letters and the money-conservation check of each user. It reads
// everything through the same service invocation (and access policies) as
// the API, with the admin's identity; it changes nothing.
//
// A browser cannot send a bearer token on navigation, so POST
// /console/login takes the admin's token once, starts a console session in
// the gateway's state store (an hour, or until the token expires if that
// is sooner) and sets a cookie holding only the session's random id
// (HttpOnly, SameSite=Strict, path /console). POST /console/logout deletes
// the session, so the cookie stops working everywhere at once. An
// Authorization header works too.
//
// The gateway mounts it (Console.Routes) and lends it its rate limiting
// and its readiness fan-out, so the console counts against the same
// budgets and reports the same health as GET /health.
package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	nethttp "net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/console/domain"
)

// cookieName is the cookie holding the console session's id.
const cookieName = "finflow_console"

// identityTTL bounds how long the identity the console forwards is valid:
// one page load (as the gateway's own).
const identityTTL = 60 * time.Second

// Invoker calls a service through the gateway's sidecar. If it also has
// Metadata (the sidecar client does), the console shows the gateway's own
// sidecar's metadata.
type Invoker interface {
	Invoke(ctx context.Context, appID, method, path string, body []byte, header nethttp.Header) (*sidecar.Response, error)
}

// Sessions keeps the console's sign-ins (see the console's store package).
type Sessions interface {
	// Create stores s under id for ttlSeconds.
	Create(ctx context.Context, id string, s domain.Session, ttlSeconds int) error
	// Get returns the session id names; found is false when there is none.
	// Returns domain.ErrSessionUnreadable for a record that does not decode.
	Get(ctx context.Context, id string) (s domain.Session, found bool, err error)
	// Delete ends the session id names (ending none is not an error).
	Delete(ctx context.Context, id string) error
}

// Tokens checks clients' bearer tokens (the gateway's domain.Tokens).
type Tokens interface {
	// Verify returns the caller of an Authorization header value. Returns
	// auth.ErrUnauthenticated.
	Verify(header string, now time.Time) (auth.Identity, error)
	// VerifyExpiry is Verify that also returns when the token expires.
	VerifyExpiry(header string, now time.Time) (auth.Identity, time.Time, error)
}

// Deps is what a Console is built from.
type Deps struct {
	// Services reaches FinFlow's services (the gateway's sidecar).
	Services Invoker
	// Sessions keeps the sign-ins.
	Sessions Sessions
	// Tokens checks the admins' bearer tokens.
	Tokens Tokens
	// Signer vouches for the admin to the services.
	Signer *auth.Signer
	// Limit counts a request against the caller's budget (an anonymous
	// caller's by address): the gateway's rate limiting. It returns the
	// error to answer when the caller is over it.
	Limit func(c *fiber.Ctx, ident auth.Identity) error
	// Readiness asks every service's readiness, all at once: the gateway's
	// GET /health fan-out, "ok" or "unavailable: <why>" per service.
	Readiness func(ctx context.Context, requestID string) map[string]string
	// Log is the logger; Now the clock (time.Now when nil).
	Log *slog.Logger
	Now func() time.Time
}

// Console serves the ops console.
type Console struct {
	d Deps
}

// New returns the console built from d.
func New(d Deps) *Console {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Console{d: d}
}

// Routes registers GET /console, POST /console/login and POST
// /console/logout on r.
func (con *Console) Routes(r fiber.Router) {
	r.Get("/console", con.page)
	r.Post("/console/login", con.login)
	r.Post("/console/logout", con.logout)
}

// anonymous is the caller before a session or token says who it is: its
// budget is its address's.
var anonymous = auth.Identity{}

// identity returns who is asking: the bearer token's identity if there is
// an Authorization header, else the console session's. It fails with
// auth.ErrUnauthenticated when there is neither (or it is not valid), with
// another error when the session store does not answer or the caller is
// over its budget. Every way in is counted: a token that does not verify,
// a missing or malformed cookie and a session's cookie (before the store is
// read: anyone can send one) by address; a valid token's caller by the
// page, as that user or admin.
func (con *Console) identity(c *fiber.Ctx) (auth.Identity, error) {
	if header := c.Get(fiber.HeaderAuthorization); header != "" {
		ident, err := con.d.Tokens.Verify(header, con.d.Now())
		if err != nil {
			// A token that does not verify is counted by address, as the
			// API counts it: guessing tokens here costs the same budget.
			if lerr := con.d.Limit(c, anonymous); lerr != nil {
				return auth.Identity{}, lerr
			}
		}
		return ident, err
	}
	if err := con.d.Limit(c, anonymous); err != nil {
		return auth.Identity{}, err
	}
	id := c.Cookies(cookieName)
	if !domain.ValidSessionID(id) {
		return auth.Identity{}, auth.ErrUnauthenticated
	}
	sess, found, err := con.d.Sessions.Get(c.UserContext(), id)
	if errors.Is(err, domain.ErrSessionUnreadable) {
		server.Log(c, con.d.Log).Warn("console session record unreadable; asking to sign in again", "err", err.Error())
		return auth.Identity{}, auth.ErrUnauthenticated
	}
	if err != nil {
		return auth.Identity{}, err
	}
	if !found {
		return auth.Identity{}, auth.ErrUnauthenticated.With("the console session has ended; sign in again", nil)
	}
	return sess.Identity(con.d.Now())
}

// login checks the token of the login form and, for an admin's, starts a
// console session and sets its cookie. A session the browser already had
// is ended first, so signing in again leaves one session.
func (con *Console) login(c *fiber.Ctx) error {
	if err := con.d.Limit(c, anonymous); err != nil {
		return err
	}
	if err := sameOrigin(c); err != nil {
		return err
	}
	form, err := loginForm(c)
	if err != nil {
		return err
	}
	// The token alone, or pasted as the header value it came in (its
	// scheme in any case, as the gateway reads the header).
	header := strings.TrimSpace(form)
	if !strings.ContainsAny(header, " \t") {
		header = "Bearer " + header
	}
	now := con.d.Now()
	ident, expiry, err := con.d.Tokens.VerifyExpiry(header, now)
	switch {
	case err != nil:
		return render(c, fiber.StatusUnauthorized, view{Login: true, LoginError: "That token is not valid (or has expired)."})
	case !ident.Admin():
		return render(c, fiber.StatusForbidden, view{Login: true, LoginError: "The console is for admins; that token is a user's."})
	}
	sess, id, err := domain.NewSession(ident, expiry, now)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return render(c, fiber.StatusUnauthorized, view{Login: true, LoginError: "That token has expired or expires within a minute; get a fresh one."})
	}
	if err != nil {
		return err
	}
	if old := c.Cookies(cookieName); domain.ValidSessionID(old) {
		if err := con.d.Sessions.Delete(c.UserContext(), old); err != nil {
			return err
		}
	}
	ttl := sess.TTL(now)
	if err := con.d.Sessions.Create(c.UserContext(), id, sess, ttl); err != nil {
		return err
	}
	server.Log(c, con.d.Log).Info("console sign-in", "admin", ident.Sub, "until", sess.Expires)
	setCookie(c, id, ttl)
	return c.Redirect("/console", fiber.StatusSeeOther)
}

// loginForm reads the sign-in form's token, from an
// application/x-www-form-urlencoded body only: a token in the URL's query
// ends up in access logs and browser history, and a body of another type
// is not the console's form.
func loginForm(c *fiber.Ctx) (string, error) {
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

// logout ends the console session (if any) and clears the cookie.
func (con *Console) logout(c *fiber.Ctx) error {
	if err := con.d.Limit(c, anonymous); err != nil {
		return err
	}
	if err := sameOrigin(c); err != nil {
		return err
	}
	if id := c.Cookies(cookieName); domain.ValidSessionID(id) {
		if err := con.d.Sessions.Delete(c.UserContext(), id); err != nil {
			// The cookie is kept: clearing it would look like a sign-out
			// while the session still works for anyone holding a copy.
			return err
		}
		server.Log(c, con.d.Log).Info("console sign-out")
	}
	setCookie(c, "", -1)
	return c.Redirect("/console", fiber.StatusSeeOther)
}

// errCrossSite refuses a sign-in or sign-out another site's page sent.
var errCrossSite = apperr.New(apperr.KindForbidden, apperr.CodeForbidden,
	"the console's sign-in and sign-out are taken from the console's own page only, not from another site's")

// sameOrigin refuses a form post that a browser says came from another
// site (a cross-site request forgery: a page elsewhere signing the admin
// out, which the SameSite=Strict cookie would leave signed in on the
// server, or into the attacker's session): Sec-Fetch-Site other than
// same-origin or none (typed, bookmarked), which the browser works out
// from the page's origin, so it holds behind a proxy that changes Host;
// from a browser too old to send it, an Origin other than the console's
// own (the Host it was asked at; "null" included). A request with neither
// header is not a browser's cross-site one (curl, scripts), and is taken.
// (OWASP's CSRF prevention cheat sheet: Fetch Metadata, then the Origin
// header.)
func sameOrigin(c *fiber.Ctx) error {
	switch c.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return errCrossSite
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, string(c.Request().Host())) {
			return errCrossSite
		}
	}
	return nil
}

// setCookie sets the session cookie for maxAge seconds (< 0 clears it).
func setCookie(c *fiber.Ctx, id string, maxAge int) {
	ck := &fiber.Cookie{Name: cookieName, Value: id, Path: "/console", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https", MaxAge: maxAge}
	if maxAge < 0 {
		ck.Expires = time.Unix(1, 0)
	}
	c.Cookie(ck)
}

// page serves the console to an admin, the login form to anyone else.
// GET /console?user=<id> checks one user's money instead of a page of
// users (?users_cursor=).
func (con *Console) page(c *fiber.Ctx) error {
	ident, err := con.identity(c)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return render(c, fiber.StatusUnauthorized, view{Login: true})
	}
	if err != nil {
		return err
	}
	if err := con.d.Limit(c, ident); err != nil {
		return err
	}
	if !ident.Admin() {
		return render(c, fiber.StatusForbidden, view{Login: true, LoginError: "The console is for admins; you are signed in as a user."})
	}
	signed, err := con.d.Signer.Sign(ident, identityTTL, con.d.Now())
	if err != nil {
		return fmt.Errorf("signing the identity: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	r := &reader{services: con.d.Services, readiness: con.d.Readiness,
		header: nethttp.Header{auth.HeaderIdentity: {signed}, server.HeaderRequestID: {server.RequestID(c)}}}
	v := view{Admin: ident.Sub, Generated: con.d.Now().UTC()}

	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() { v.Services = r.health(ctx) })
	run(func() { v.Payments, v.PaymentsErr = r.payments(ctx) })
	run(func() { v.Deliveries, v.DeliveryErr = r.deliveries(ctx) })
	run(func() {
		var dead []deadLetter
		dead, v.DeadErr = r.deadLetters(ctx)
		v.DeadLetters, v.OpenDeadLetters = openFirst(dead)
	})
	run(func() {
		if one := c.Query("user"); one != "" {
			v.Users, v.UsersErr = r.oneUser(ctx, one)
			return
		}
		v.Users, v.NextUsers, v.UsersErr = r.money(ctx, c.Query("users_cursor"))
	})
	wg.Wait()
	v.MoneyVerdict = domain.MoneyVerdict(v.Users, v.UsersErr, c.Query("user") != "" || c.Query("users_cursor") == "" && v.NextUsers == "")
	return render(c, fiber.StatusOK, v)
}
