package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// addressed is a client of the gateway whose connections come from a
// loopback address of its own (all of 127.0.0.0/8 is local), so that its
// anonymous requests have a rate-limit budget and an Idempotency-Key scope
// that no other test shares. Its exchanges are not checked against
// /openapi.json (the harness's client does that): some are HEADs, which
// the description leaves to GET.
type addressed struct {
	ip     string
	client *http.Client
}

// newAddressed returns a client from a random loopback address other than
// 127.0.0.1.
func newAddressed(t *testing.T) *addressed {
	t.Helper()
	ip := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &addressed{ip: ip, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request with header's values (each as many times as listed;
// no Authorization unless header has one) and returns the answer.
func (a *addressed) do(t *testing.T, method, path, body string, header http.Header) *harness.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, a.ip, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return &harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// counted returns how many requests the gateway's rate limiter has counted
// for caller ("ip:127.x.y.z", "user:usr_..."), over every window.
func counted(t *testing.T, caller string) int64 {
	t.Helper()
	ctx := context.Background()
	keys, err := env.Redis().Keys(ctx, "gateway-ratelimit:"+caller+":*").Result()
	if err != nil {
		t.Fatalf("reading the rate limiter's counters: %v", err)
	}
	var n int64
	for _, k := range keys {
		v, err := env.Redis().Get(ctx, k).Int64()
		if err != nil {
			t.Fatalf("counter %s: %v", k, err)
		}
		n += v
	}
	return n
}

func headerOf(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// gatewayInputErrors are the kinds of input the gateway refuses itself, on
// routes that need a token, with what an admin and the user me get.
func gatewayInputErrors(me string) []struct {
	name, method, path, body string
	header                   http.Header
	admin, user              int
} {
	good := `{"user_id":"` + me + `","amount":100,"description":"x"}`
	js := "application/json"
	return []struct {
		name, method, path, body string
		header                   http.Header
		admin, user              int
	}{
		{"malformed bill id", "GET", "/billing/bill_bad", "", nil, 404, 404},
		// A user naming an id that is not theirs is refused before the id
		// is checked (403 says nothing); an admin learns it is not found.
		{"malformed user id", "GET", "/users/usr_bad", "", nil, 404, 403},
		{"malformed user id, HEAD", "HEAD", "/users/usr_bad", "", nil, 404, 403},
		{"malformed JSON", "POST", "/billing/create", `{"user_id":`, headerOf("Content-Type", js), 400, 400},
		{"trailing data", "POST", "/billing/create", good + "{}", headerOf("Content-Type", js), 400, 400},
		{"not an object", "POST", "/billing/create", `[1]`, headerOf("Content-Type", js), 400, 400},
		{"text/plain", "POST", "/billing/create", good, headerOf("Content-Type", "text/plain"), 415, 415},
		{"no Content-Type", "POST", "/billing/create", good, nil, 415, 415},
		{"gzip-encoded", "POST", "/billing/create", good, headerOf("Content-Type", js, "Content-Encoding", "gzip"), 415, 415},
		{"unknown query parameter", "GET", "/billing/user/" + me + "?foo=1", "", nil, 400, 400},
		{"unknown query parameter, admin-only route", "GET", "/users/all?foo=1", "", nil, 400, 403},
		{"query parameter twice", "GET", "/billing/user/" + me + "?limit=1&limit=2", "", nil, 400, 400},
		{"empty Idempotency-Key", "POST", "/billing/create", good, headerOf("Content-Type", js, "Idempotency-Key", ""), 400, 400},
		{"Idempotency-Key too long", "POST", "/billing/create", good, headerOf("Content-Type", js, "Idempotency-Key", strings.Repeat("k", 256)), 400, 400},
		{"Idempotency-Key twice", "POST", "/billing/create", good, headerOf("Content-Type", js, "Idempotency-Key", "k-1", "Idempotency-Key", "k-2"), 400, 400},
	}
}

// Through a real topology, the gateway checks the token before the input:
// without a token every kind of input error it checks is 401 on a route
// that needs one; with a token it is the input error (or 403 where the
// caller may not act at all). Every one of these requests is counted by
// the rate limiter, against the caller's own budget: anonymous ones by
// address.
func TestGatewayChecksTheTokenBeforeTheInput(t *testing.T) {
	t.Parallel()
	anon := newAddressed(t)
	me := id.New(id.User)
	userToken := "Bearer " + env.Token(t, me, "user")
	adminToken := "Bearer " + env.AdminToken
	var anonymous, user int64
	for _, tc := range gatewayInputErrors(me) {
		for _, caller := range []struct {
			name, authz string
			want        int
			count       *int64
		}{
			{"no token", "", 401, &anonymous},
			{"an invalid token", "Bearer x.y.z", 401, &anonymous},
			{"the user", userToken, tc.user, &user},
			{"an admin", adminToken, tc.admin, nil},
		} {
			h := tc.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			if caller.authz != "" {
				h.Set("Authorization", caller.authz)
			}
			r := anon.do(t, tc.method, tc.path, tc.body, h)
			if caller.count != nil {
				*caller.count++
			}
			if r.Status != caller.want {
				t.Errorf("%s, %s: %s %s = %d %s, want %d", tc.name, caller.name, tc.method, tc.path, r.Status, r.Body, caller.want)
			}
			if caller.want == 401 && tc.method != "HEAD" && r.ErrorCode() != "UNAUTHENTICATED" {
				t.Errorf("%s, %s: code %s, want UNAUTHENTICATED", tc.name, caller.name, r.ErrorCode())
			}
			if tc.method == "HEAD" && len(r.Body) != 0 {
				t.Errorf("%s, %s: HEAD answered a body: %s", tc.name, caller.name, r.Body)
			}
		}
	}
	if n := counted(t, "ip:"+anon.ip); n != anonymous {
		t.Errorf("the limiter counted %d requests from %s, want all %d sent without a valid token", n, anon.ip, anonymous)
	}
	if n := counted(t, "user:"+me); n != user {
		t.Errorf("the limiter counted %d requests of the user, want all %d", n, user)
	}
}

// Requests the gateway refuses for their input spend the budget as any
// other: a client sending only malformed requests is limited (429 with
// Retry-After) once its budget is spent, anonymous by address and a user
// by identity, whatever the limit is set to.
func TestGatewayCountsEveryRequest(t *testing.T) {
	t.Parallel()
	me := id.New(id.User)
	userToken := "Bearer " + env.Token(t, me, "user")
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
		want                     int
	}{
		{"anonymous, a malformed id", "GET", "/users/usr_bad", "", nil, 401},
		{"anonymous, a malformed sign-up", "POST", "/users/create", `{"name":`, headerOf("Content-Type", "application/json"), 400},
		{"a user, malformed bodies", "POST", "/billing/create", `{"user_id":`, headerOf("Content-Type", "application/json", "Authorization", userToken), 400},
		// The gateway's own routes too: each /health fans out to six probes.
		{"anonymous, GET /health", "GET", "/health", "", nil, 200},
		{"anonymous, GET /openapi.json", "GET", "/openapi.json", "", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAddressed(t)
			// Two windows' budgets at most: a window may end during the run.
			limit := setting(t, "gateway.ratelimit.anonymous_per_minute")
			if tc.header.Get("Authorization") != "" {
				limit = setting(t, "gateway.ratelimit.user_per_minute")
			}
			sent := int64(0)
			for ; sent <= 2*limit+1; sent++ {
				r := a.do(t, tc.method, tc.path, tc.body, tc.header)
				if r.Status == http.StatusTooManyRequests {
					if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 || r.ErrorCode() != "RATE_LIMITED" {
						t.Fatalf("429 %s with Retry-After %q, want RATE_LIMITED and 1..60 s", r.Body, r.Header.Get("Retry-After"))
					}
					return
				}
				if r.Status != tc.want {
					t.Fatalf("request %d: %s %s = %d %s, want %d until the budget is spent", sent+1, tc.method, tc.path, r.Status, r.Body, tc.want)
				}
			}
			t.Fatalf("%d malformed requests at a budget of %d a minute, and never 429: they are not counted", sent, limit)
		})
	}
}

// setting returns a runtime setting's value as the configuration store
// holds it ("value||version").
func setting(t *testing.T, key string) int64 {
	t.Helper()
	raw, err := env.Redis().Get(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("setting %s: %v", key, err)
	}
	v, _, _ := strings.Cut(raw, "||")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("setting %s = %q: %v", key, raw, err)
	}
	return n
}

// Idempotency-Keys are scoped per caller, anonymous sign-ups included: a
// second anonymous client (another address) sending the same key and the
// same body is not replayed the first client's user (it signs up for
// itself, and the email is taken); each client's repeat is its own replay.
func TestGatewayScopesAnonymousKeysByAddress(t *testing.T) {
	t.Parallel()
	first, second := newAddressed(t), newAddressed(t)
	for first.ip == second.ip {
		second = newAddressed(t)
	}
	key := "signup-" + strings.TrimPrefix(id.New("t"), "t_")
	body := fmt.Sprintf(`{"name":"Scope","email":%q}`, uniqueEmail("scope"))
	h := headerOf("Content-Type", "application/json", "Idempotency-Key", key)
	signUp := func(a *addressed) (status int, userID, replayed, code string) {
		r := a.do(t, "POST", "/users/create", body, h)
		var u struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(r.Body, &u)
		return r.Status, u.ID, r.Header.Get("Idempotent-Replayed"), r.ErrorCode()
	}

	status, mine, replayed, _ := signUp(first)
	if status != http.StatusCreated || mine == "" || replayed != "" {
		t.Fatalf("first client's sign-up = %d %q replayed=%q, want 201", status, mine, replayed)
	}
	if status, got, replayed, _ := signUp(first); status != http.StatusCreated || got != mine || replayed != "true" {
		t.Fatalf("first client again = %d %q replayed=%q, want 201 %s replayed", status, got, replayed, mine)
	}
	status, got, replayed, code := signUp(second)
	if got == mine || replayed != "" || status != http.StatusConflict || code != "EMAIL_TAKEN" {
		t.Fatalf("second client, same key and body = %d %s user %q replayed=%q; want its own answer (409 EMAIL_TAKEN), never the first client's 201", status, code, got, replayed)
	}
	if status, _, replayed, code := signUp(second); status != http.StatusConflict || code != "EMAIL_TAKEN" || replayed != "true" {
		t.Fatalf("second client again = %d %s replayed=%q, want its own 409 replayed", status, code, replayed)
	}
	if status, got, replayed, _ := signUp(first); status != http.StatusCreated || got != mine || replayed != "true" {
		t.Fatalf("first client after the second = %d %q replayed=%q, want 201 %s replayed", status, got, replayed, mine)
	}
}

// Every GET route answers HEAD exactly as GET (authentication, status,
// headers), without the body.
func TestGatewayHeadIsGet(t *testing.T) {
	t.Parallel()
	a := newAddressed(t)
	u := env.MustCreateUser(t, "Head", uniqueEmail("head"))
	env.MustCreateWallet(t, u.ID)
	bill := env.MustCreateBill(t, u.ID, 1500)
	userToken := "Bearer " + env.Token(t, u.ID, "user")
	for _, path := range []string{
		"/users/" + u.ID, "/wallet/balance/" + u.ID, "/wallet/transactions/" + u.ID + "?limit=5",
		"/billing/" + bill.ID, "/billing/user/" + u.ID, "/Payment/user/" + u.ID,
		"/users/" + id.New(id.User), "/users/all?limit=1", "/health",
	} {
		for _, authz := range []string{userToken, "Bearer " + env.AdminToken, ""} {
			h := http.Header{}
			if authz != "" {
				h.Set("Authorization", authz)
			}
			get := a.do(t, "GET", path, "", h)
			head := a.do(t, "HEAD", path, "", h)
			if head.Status != get.Status || len(head.Body) != 0 {
				t.Errorf("HEAD %s = %d with %d bytes, GET = %d; want GET's status without a body", path, head.Status, len(head.Body), get.Status)
			}
			for _, name := range []string{"Content-Type", "Content-Length"} {
				if head.Header.Get(name) != get.Header.Get(name) {
					t.Errorf("HEAD %s: %s %q, GET's %q", path, name, head.Header.Get(name), get.Header.Get(name))
				}
			}
		}
	}
}

// POST /auth/dev-token takes the checks every public route does, and
// issues tokens only for FinFlow identities, naming the field at fault.
func TestGatewayDevTokenTakesTheChecks(t *testing.T) {
	t.Parallel()
	a := newAddressed(t)
	js := headerOf("Content-Type", "application/json")
	with := func(kv ...string) http.Header {
		h := js.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	admin := `{"sub":"ops","role":"admin"}`
	for _, tc := range []struct {
		name, query, body string
		header            http.Header
		want              int
		field             string
	}{
		{"an admin", "", admin, js, 200, ""},
		{"a valid Idempotency-Key", "", admin, with("Idempotency-Key", "dev-1"), 200, ""},
		{"no role", "", `{"sub":"ops"}`, js, 400, "role"},
		{"an admin sub with a NUL", "", `{"sub":"ops\u0000","role":"admin"}`, js, 400, "sub"},
		{"an admin sub with a space", "", `{"sub":"ops admin","role":"admin"}`, js, 400, "sub"},
		{"an unknown query parameter", "?ttl=1", admin, js, 400, "ttl"},
		{"an invalid bearer token", "", admin, with("Authorization", "Bearer nope"), 401, ""},
		{"an empty Idempotency-Key", "", admin, with("Idempotency-Key", ""), 400, "Idempotency-Key"},
		{"Idempotency-Key twice", "", admin, with("Idempotency-Key", "a", "Idempotency-Key", "b"), 400, "Idempotency-Key"},
	} {
		before := counted(t, "ip:"+a.ip)
		r := a.do(t, "POST", "/auth/dev-token"+tc.query, tc.body, tc.header)
		if r.Status != tc.want || (tc.field != "" && r.ErrorField() != tc.field) {
			t.Errorf("%s: POST /auth/dev-token%s = %d %s, want %d naming %q", tc.name, tc.query, r.Status, r.Body, tc.want, tc.field)
		}
		if n := counted(t, "ip:"+a.ip); n != before+1 {
			t.Errorf("%s: the limiter counted %d requests, want 1 (by address)", tc.name, n-before)
		}
	}
}
