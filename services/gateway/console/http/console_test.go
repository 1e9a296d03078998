package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/gateway/console/domain"
	consolehttp "github.com/finflow/finflow/services/gateway/console/http"
	"github.com/finflow/finflow/services/gateway/console/store"
	gateway "github.com/finflow/finflow/services/gateway/domain"
)

const (
	devKey  = "dev-key-for-unit-tests-0123456789abcdef"
	seedB64 = "BC1CbsYvZF14/Ok64vLKsx1oco0UMcQgJ9R12TaF/l4="
)

var tokens, _ = gateway.NewTokens(gateway.TokenConfig{DevKey: devKey})

func bearer(sub, role string) string {
	tok, _ := tokens.DevToken(sub, role, time.Hour, time.Now())
	return "Bearer " + tok
}

// fakeServices stands in for the services behind the gateway's sidecar in
// these unit tests (the end-to-end suite uses real ones): every read is
// answered 200 with an empty object, except that a read of the user
// usr_00000000000000000000000000 (or their wallet) is 404, as for a user that does
// not exist.
type fakeServices struct{}

func (fakeServices) Invoke(_ context.Context, _, _, path string, _ []byte, _ nethttp.Header) (*sidecar.Response, error) {
	if strings.Contains(path, "usr_00000000000000000000000000") {
		return &sidecar.Response{Status: 404, Header: nethttp.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"error":{"code":"USER_NOT_FOUND","message":"no such user"}}`)}, nil
	}
	return &sidecar.Response{Status: 200, Header: nethttp.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`)}, nil
}

// limiter stands in for the gateway's rate limiting: it records the
// identity of every request it counts and refuses them all when refuse is
// set.
type limiter struct {
	mu     sync.Mutex
	seen   []string
	refuse bool
}

func (l *limiter) limit(_ *fiber.Ctx, ident auth.Identity) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, ident.Role+":"+ident.Sub)
	if l.refuse {
		return apperr.New(apperr.KindRateLimited, apperr.CodeRateLimited, "too many requests; slow down")
	}
	return nil
}

// consoleApp returns the console mounted on an app, with dev tokens, fake
// services, sign-ins in sessions and its requests counted by lim; every
// service is ready except those named in down.
func consoleApp(t *testing.T, sessions consolehttp.Sessions, lim *limiter, down ...string) *fiber.App {
	t.Helper()
	return consoleAppWith(t, fakeServices{}, sessions, lim, down...)
}

// consoleAppWith is consoleApp reading from services.
func consoleAppWith(t *testing.T, services consolehttp.Invoker, sessions consolehttp.Sessions, lim *limiter, down ...string) *fiber.App {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := server.New(server.Config{Name: "gateway", Logger: log})
	signer, err := auth.NewSigner(seedB64)
	if err != nil {
		t.Fatal(err)
	}
	readiness := func(context.Context, string) map[string]string {
		ready := map[string]string{"gateway": "ok"}
		for _, app := range gateway.Backends {
			ready[app] = "ok"
		}
		for _, app := range down {
			ready[app] = "unavailable: " + app + " is down"
		}
		return ready
	}
	consolehttp.New(consolehttp.Deps{Services: services, Sessions: sessions, Tokens: tokens, Signer: signer,
		Limit: lim.limit, Readiness: readiness, Log: log}).Routes(app)
	return app
}

// downState is a sidecar whose state store does not answer.
type downState struct{}

var errStoreDown = fmt.Errorf("%w: state store: connection refused", sidecar.ErrSidecar)

func (downState) BulkGet(context.Context, string, []string) ([]sidecar.Item, error) {
	return nil, errStoreDown
}
func (downState) SaveTTL(context.Context, string, string, []byte, string, int) error {
	return errStoreDown
}
func (downState) Delete(context.Context, string, string, string) error { return errStoreDown }

// consoleClient sends requests to a console using sessions, without an
// Authorization header unless one is given.
func consoleClient(t *testing.T, sessions consolehttp.Sessions) func(method, path, cookie, authz string, form url.Values) *nethttp.Response {
	t.Helper()
	app := consoleApp(t, sessions, &limiter{})
	return func(method, path, cookie, authz string, form url.Values) *nethttp.Response {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.AddCookie(&nethttp.Cookie{Name: "finflow_console", Value: cookie})
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
}

// fakeSessionID is a session id of the right shape made of c (the last
// character "A", so its unused bits are zero).
func fakeSessionID(c string) string { return strings.Repeat(c, 42) + "A" }

func sessionCookie(resp *nethttp.Response) *nethttp.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "finflow_console" {
			return c
		}
	}
	return nil
}

// The console's sign-in keeps the token out of the browser, and signing
// out ends the session for every copy of the cookie.
func TestConsoleSessionLifecycle(t *testing.T) {
	do := consoleClient(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"))
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")

	resp := do("POST", "/console/login", "", "", url.Values{"token": {adminTok}})
	ck := sessionCookie(resp)
	if resp.StatusCode != nethttp.StatusSeeOther || ck == nil {
		t.Fatalf("login = %d, cookie %v; want 303 with a session cookie", resp.StatusCode, ck)
	}
	if !domain.ValidSessionID(ck.Value) || strings.Contains(ck.Value, adminTok) || ck.Value == adminTok {
		t.Fatalf("cookie value %q is not a session id", ck.Value)
	}
	// The dev token lasts an hour, so the session does too (less a moment).
	if ck.MaxAge < 3590 || ck.MaxAge > 3600 || !ck.HttpOnly || ck.SameSite != nethttp.SameSiteStrictMode || ck.Path != "/console" {
		t.Errorf("cookie %+v: want MaxAge ≈ 3600, HttpOnly, SameSite=Strict, Path=/console", ck)
	}

	cases := []struct {
		name   string
		cookie string
		want   int
	}{
		{"the session opens the console", ck.Value, 200},
		{"another id of the same shape does not", fakeSessionID("A"), 401},
		{"the raw token as cookie does not", adminTok, 401},
		{"garbage does not", "x", 401},
	}
	for _, tc := range cases {
		if got := do("GET", "/console", tc.cookie, "", nil).StatusCode; got != tc.want {
			t.Errorf("%s: GET /console = %d, want %d", tc.name, got, tc.want)
		}
	}

	resp = do("POST", "/console/logout", ck.Value, "", url.Values{})
	if cleared := sessionCookie(resp); resp.StatusCode != nethttp.StatusSeeOther || cleared == nil || cleared.Value != "" || (cleared.MaxAge >= 0 && !cleared.Expires.Before(time.Now())) {
		t.Fatalf("logout = %d, cookie %+v; want 303 clearing the cookie", resp.StatusCode, cleared)
	}
	if got := do("GET", "/console", ck.Value, "", nil).StatusCode; got != 401 {
		t.Errorf("GET /console with the signed-out cookie = %d, want 401", got)
	}
	// Signing out without a session, or twice, is fine.
	if got := do("POST", "/console/logout", ck.Value, "", url.Values{}).StatusCode; got != nethttp.StatusSeeOther {
		t.Errorf("second logout = %d, want 303", got)
	}
}

// A token with less than a minute left does not start a session.
func TestConsoleLoginRefusesAnExpiringToken(t *testing.T) {
	do := consoleClient(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"))
	tok, err := tokens.DevToken("ops-admin", "admin", 30*time.Second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp := do("POST", "/console/login", "", "", url.Values{"token": {tok}})
	if resp.StatusCode != 401 || sessionCookie(resp) != nil {
		t.Fatalf("login = %d with cookie %v; want 401 and none", resp.StatusCode, sessionCookie(resp))
	}
}

// When the session store does not answer, the console says so (503) and
// neither signs anyone in nor pretends to sign them out.
func TestConsoleSessionStoreDown(t *testing.T) {
	do := consoleClient(t, store.NewSessions(downState{}, "gateway-store"))
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")
	id := fakeSessionID("A")
	cases := []struct {
		name   string
		method string
		path   string
		cookie string
		form   url.Values
	}{
		{"login", "POST", "/console/login", "", url.Values{"token": {adminTok}}},
		{"page with a session cookie", "GET", "/console", id, nil},
		{"logout", "POST", "/console/logout", id, url.Values{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(tc.method, tc.path, tc.cookie, "", tc.form)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 503 || !strings.Contains(string(body), `"code":"UNAVAILABLE"`) {
				t.Fatalf("= %d %s, want 503 UNAVAILABLE", resp.StatusCode, body)
			}
			if c := sessionCookie(resp); c != nil {
				t.Errorf("Set-Cookie %+v on a failed %s", c, tc.name)
			}
		})
	}
	// An Authorization header does not need the session store.
	if got := do("GET", "/console", "", bearer("ops-admin", "admin"), nil).StatusCode; got != 200 {
		t.Errorf("GET /console with a bearer token = %d, want 200", got)
	}
}

// Sessions the store still holds but that must not work: expired (the
// store's TTL is not the only guard), unreadable, or replaced by signing
// in again.
func TestConsoleSessionsThatNoLongerWork(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	sessions := store.NewSessions(mem, "gateway-store")
	do := consoleClient(t, sessions)

	expiredID := fakeSessionID("E")
	expired := domain.Session{Sub: "ops-admin", Role: auth.RoleAdmin, Expires: time.Now().Add(-time.Second)}
	if err := sessions.Create(ctx, expiredID, expired, 60); err != nil {
		t.Fatal(err)
	}
	unreadableID := fakeSessionID("U")
	sum := sha256.Sum256([]byte(unreadableID))
	if err := mem.Save(ctx, "gateway-store", "console/session/"+hex.EncodeToString(sum[:]), []byte("{not json"), ""); err != nil {
		t.Fatal(err)
	}
	userID := fakeSessionID("S") // a session can only be an admin's, but check anyway
	if err := sessions.Create(ctx, userID, domain.Session{Sub: id.New(id.User), Role: auth.RoleUser, Expires: time.Now().Add(time.Hour)}, 3600); err != nil {
		t.Fatal(err)
	}
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")
	first := sessionCookie(do("POST", "/console/login", "", "", url.Values{"token": {adminTok}}))
	second := sessionCookie(do("POST", "/console/login", first.Value, "", url.Values{"token": {adminTok}}))
	if first == nil || second == nil || first.Value == second.Value {
		t.Fatalf("two sign-ins gave cookies %v and %v, want two sessions", first, second)
	}

	cases := []struct {
		name   string
		cookie string
		want   int
	}{
		{"expired", expiredID, 401},
		{"unreadable", unreadableID, 401},
		{"a user's", userID, 403},
		{"replaced by signing in again", first.Value, 401},
		{"the new one", second.Value, 200},
	}
	for _, tc := range cases {
		if got := do("GET", "/console", tc.cookie, "", nil).StatusCode; got != tc.want {
			t.Errorf("%s: GET /console = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The sign-in takes its token from the form's body only: not from the URL
// (where it would be logged), not from a body of another type.
func TestConsoleSignInTakesTheFormOnly(t *testing.T) {
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")
	cases := []struct {
		name, path, contentType, body string
		want                          int
	}{
		{"the form", "/console/login", "application/x-www-form-urlencoded", url.Values{"token": {adminTok}}.Encode(), nethttp.StatusSeeOther},
		{"the token in the URL", "/console/login?token=" + adminTok, "application/x-www-form-urlencoded", "", nethttp.StatusBadRequest},
		{"JSON", "/console/login", "application/json", `{"token":"` + adminTok + `"}`, nethttp.StatusUnsupportedMediaType},
		{"text/plain", "/console/login", "text/plain", "token=" + adminTok, nethttp.StatusUnsupportedMediaType},
		{"two tokens", "/console/login", "application/x-www-form-urlencoded", url.Values{"token": {adminTok, adminTok}}.Encode(), nethttp.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := consoleApp(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"), &limiter{})
			req := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want || (tc.want != nethttp.StatusSeeOther) == (sessionCookie(resp) != nil) {
				t.Fatalf("POST %s (%s) = %d, cookie %v; want %d", tc.path, tc.contentType, resp.StatusCode, sessionCookie(resp), tc.want)
			}
		})
	}
}

// Every console request counts against the gateway's budgets: an
// anonymous caller's (its address's) before a cookie is looked up in the
// session store, since anyone can send a cookie, and the admin's once
// known.
func TestConsoleCountsAgainstTheRateLimit(t *testing.T) {
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")
	cases := []struct {
		name     string
		method   string
		path     string
		cookie   string
		authz    string
		form     url.Values
		wantSeen string // the identities counted, in order ("role:sub")
	}{
		{"a cookie, before the store is read", "GET", "/console", fakeSessionID("A"), "", nil, ":"},
		{"the sign-in", "POST", "/console/login", "", "", url.Values{"token": {adminTok}}, ":"},
		{"the sign-out", "POST", "/console/logout", fakeSessionID("A"), "", url.Values{}, ":"},
		{"an admin's page", "GET", "/console", "", bearer("ops-admin", "admin"), nil, "admin:ops-admin"},
		// Every other way in is counted too (guessing tokens or sessions
		// costs the address's budget).
		{"a token that does not verify", "GET", "/console", "", "Bearer x.y.z", nil, ":"},
		{"a user's token", "GET", "/console", "", bearer("usr_0123456789abcdefghjkmnpqrs", "user"), nil, "user:usr_0123456789abcdefghjkmnpqrs"},
		{"no token, no cookie", "GET", "/console", "", "", nil, ":"},
		{"a malformed cookie", "GET", "/console", "nope", "", nil, ":"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The session store is down: a refused request never reaches it.
			lim := &limiter{refuse: true}
			app := consoleApp(t, store.NewSessions(downState{}, "gateway-store"), lim)
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.form.Encode()))
			if tc.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.cookie != "" {
				req.AddCookie(&nethttp.Cookie{Name: "finflow_console", Value: tc.cookie})
			}
			if tc.authz != "" {
				req.Header.Set("Authorization", tc.authz)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != nethttp.StatusTooManyRequests {
				t.Fatalf("%s %s over the limit = %d, want 429", tc.method, tc.path, resp.StatusCode)
			}
			if got := strings.Join(lim.seen, " "); got != tc.wantSeen {
				t.Errorf("counted %q, want %q", got, tc.wantSeen)
			}
		})
	}
}

// adminPage GETs path from the console as an admin (a bearer token) and
// returns the answer's status and body.
func adminPage(t *testing.T, app *fiber.App, path string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", bearer("ops-admin", "admin"))
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The page shows each service's health as the gateway's readiness fan-out
// reports it.
func TestConsoleShowsReadiness(t *testing.T) {
	app := consoleApp(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"), &limiter{}, "billing")
	status, page := adminPage(t, app, "/console")
	if status != 200 {
		t.Fatalf("GET /console = %d, want 200", status)
	}
	for _, app := range append([]string{"gateway"}, gateway.Backends...) {
		want := `data-service="` + app + `"`
		if !strings.Contains(page, want) {
			t.Errorf("the page has no card %s", want)
		}
	}
	if !strings.Contains(page, `data-health="down">unavailable: billing is down`) || strings.Count(page, `data-health="ok"`) != len(gateway.Backends) {
		t.Errorf("the page does not show billing down and every other service ready:\n%s", page)
	}
}

// The money check of one user (?user=) never says "all conserved" about a
// user it could not check: an id that is not a user id, or a user that
// does not exist, is said so, and the verdict is "not all checked".
func TestConsoleOneUserThatCannotBeChecked(t *testing.T) {
	app := consoleApp(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"), &limiter{})
	for _, tc := range []struct{ user, says string }{
		{"usr_00000000000000000000000000", "there is no user usr_00000000000000000000000000"},
		{"bad", "&#34;bad&#34; is not a user id"},
		{"pay_00000000000000000000000000", "&#34;pay_00000000000000000000000000&#34; is not a user id"},
		{"usr_has space", "is not a user id"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			status, page := adminPage(t, app, "/console?user="+url.QueryEscape(tc.user))
			if status != 200 || !strings.Contains(page, `id="money-verdict">not all checked<`) || !strings.Contains(page, tc.says) || strings.Contains(page, `data-money="ok"`) {
				t.Fatalf("GET /console?user=%s = %d; want the verdict not all checked, saying %q, and no user conserved:\n%s", tc.user, status, tc.says, page)
			}
		})
	}
}

// Another site's page cannot sign the admin out (which the SameSite=Strict
// cookie would leave signed in on the server while the browser forgot it)
// or into an attacker's session: a sign-in or sign-out the browser marks
// cross-site (Sec-Fetch-Site) or from another origin (Origin) is 403 and
// changes nothing; the console's own page, and clients that are not
// browsers, are served.
func TestConsoleRefusesCrossSiteSignInAndOut(t *testing.T) {
	app := consoleApp(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"), &limiter{})
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")
	post := func(path, cookie string, hdr map[string]string, form url.Values) *nethttp.Response {
		t.Helper()
		req := httptest.NewRequest("POST", "http://localhost:8080"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.AddCookie(&nethttp.Cookie{Name: "finflow_console", Value: cookie})
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(cookie string) int {
		t.Helper()
		req := httptest.NewRequest("GET", "http://localhost:8080/console", nil)
		req.AddCookie(&nethttp.Cookie{Name: "finflow_console", Value: cookie})
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	own := map[string]string{"Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-origin"}
	resp := post("/console/login", "", own, url.Values{"token": {adminTok}})
	ck := sessionCookie(resp)
	if resp.StatusCode != nethttp.StatusSeeOther || ck == nil {
		t.Fatalf("sign-in from the console's own page = %d, want 303 with a cookie", resp.StatusCode)
	}
	foreign := []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://127.0.0.1:9000"},
		{"Origin": "http://localhost:8080.evil.example"},
		{"Origin": "null"},
		{"Origin": "http://localhost:8080", "Sec-Fetch-Site": "cross-site"},
	}
	for _, hdr := range foreign {
		if r := post("/console/logout", ck.Value, hdr, url.Values{}); r.StatusCode != 403 || sessionCookie(r) != nil {
			t.Errorf("sign-out with %v = %d (cookie %v), want 403 and the cookie kept", hdr, r.StatusCode, sessionCookie(r))
		}
		if r := post("/console/login", "", hdr, url.Values{"token": {adminTok}}); r.StatusCode != 403 || sessionCookie(r) != nil {
			t.Errorf("sign-in with %v = %d (cookie %v), want 403 and no session", hdr, r.StatusCode, sessionCookie(r))
		}
	}
	if got := get(ck.Value); got != 200 {
		t.Fatalf("after the refused sign-outs GET /console = %d, want 200 (still signed in)", got)
	}
	for _, hdr := range []map[string]string{{"Sec-Fetch-Site": "none"}, nil} {
		if r := post("/console/login", "", hdr, url.Values{"token": {adminTok}}); r.StatusCode != nethttp.StatusSeeOther {
			t.Errorf("sign-in with %v = %d, want 303", hdr, r.StatusCode)
		}
	}
	if r := post("/console/logout", ck.Value, own, url.Values{}); r.StatusCode != nethttp.StatusSeeOther || get(ck.Value) != 401 {
		t.Fatalf("sign-out from the console's own page = %d, want 303 and the session ended", r.StatusCode)
	}
}
