package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/gateway/domain"
	gatewayhttp "github.com/finflow/finflow/services/gateway/http"
	"github.com/finflow/finflow/services/gateway/ratelimit"
	"github.com/finflow/finflow/services/gateway/store"
)

// fakeDapr records invocations and answers from a table. It stands in for
// the sidecar in these unit tests only; the end-to-end suite uses real ones.
type fakeDapr struct {
	mu    sync.Mutex
	calls []call
	down  map[string]bool
	hold  chan struct{} // when set, /wallet/add waits for it
}

func (f *fakeDapr) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.path == path {
			n++
		}
	}
	return n
}

type call struct {
	app, method, path string
	body              string
	header            nethttp.Header
}

func (f *fakeDapr) Invoke(_ context.Context, app, method, path string, body []byte, h nethttp.Header) (*sidecar.Response, error) {
	f.mu.Lock()
	f.calls = append(f.calls, call{app, method, path, string(body), h})
	f.mu.Unlock()
	if f.down[app] {
		return nil, &sidecar.InvokeError{AppID: app, Status: 500, DaprCode: "ERR_DIRECT_INVOKE", Message: "no such app"}
	}
	if path == "/readyz" {
		return &sidecar.Response{Status: 200, Header: nethttp.Header{}, Body: []byte(`{"status":"ok"}`)}, nil
	}
	if strings.HasPrefix(path, "/users/usr_") {
		return &sidecar.Response{Status: 404, Header: nethttp.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"error":{"code":"USER_NOT_FOUND","message":"user not found"}}`)}, nil
	}
	if path == "/billing/create" {
		return &sidecar.Response{Status: 500, Header: nethttp.Header{}, Body: []byte(`panic: oops`)}, nil
	}
	if path == "/Payment/pay" && strings.Contains(string(body), "bill_empty") {
		// What a sidecar once answered while the payment service restarted.
		return &sidecar.Response{Status: 200, Header: nethttp.Header{}, Body: nil}, nil
	}
	for word, answer := range map[string]string{
		"bill_reused": `{"error":{"code":"IDEMPOTENCY_KEY_REUSED","message":"this Idempotency-Key was used with a different request"}}`,
		"bill_inuse":  `{"error":{"code":"IDEMPOTENCY_KEY_IN_USE","message":"a request with this Idempotency-Key is still being processed"}}`,
	} {
		if path == "/Payment/pay" && strings.Contains(string(body), word) {
			status := 422
			if word == "bill_inuse" {
				status = 409
			}
			return &sidecar.Response{Status: status, Header: nethttp.Header{"Content-Type": {"application/json"}}, Body: []byte(answer)}, nil
		}
	}
	if f.hold != nil && path == "/wallet/add" {
		<-f.hold
	}
	return &sidecar.Response{Status: 201, Header: nethttp.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"ok":true}`)}, nil
}

func (f *fakeDapr) Healthy(context.Context) error { return nil }

func (f *fakeDapr) last() call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return call{}
	}
	return f.calls[len(f.calls)-1]
}

const (
	devKey   = "dev-key-for-unit-tests-0123456789abcdef"
	seedB64  = "BC1CbsYvZF14/Ok64vLKsx1oco0UMcQgJ9R12TaF/l4="
	pubB64   = "TfV/++EDliwoV82lUR6Zo3VDn/EKhC1HPMeO0tTKZkY="
	noHeader = "\x00" // a header value meaning "do not send the header"
)

var tokens, _ = domain.NewTokens(domain.TokenConfig{DevKey: devKey})

func bearer(sub, role string) string {
	tok, _ := tokens.DevToken(sub, role, time.Hour, time.Now())
	return "Bearer " + tok
}

// newGateway returns a function that sends a request to a gateway over a
// fake sidecar; requests carry an admin token unless hdr sets
// Authorization (noHeader sends none).
func newGateway(t *testing.T, f *fakeDapr) func(method, path, body string, hdr map[string]string) (int, map[string]any, nethttp.Header) {
	t.Helper()
	app := gatewayApp(t, f)
	return func(method, path, body string, hdr map[string]string) (int, map[string]any, nethttp.Header) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", bearer("ops-admin", "admin"))
		for k, v := range hdr {
			if v == noHeader {
				req.Header.Del(k)
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out, resp.Header
	}
}

// gatewayApp returns a gateway with dev tokens over the fake sidecar f and
// idempotency records in memory.
func gatewayApp(t *testing.T, f *fakeDapr) *fiber.App {
	t.Helper()
	return gatewayWith(t, f, &countingLimiter{}, nil)
}

// gatewayWith is gatewayApp counting requests with l, its settings changed
// by set.
func gatewayWith(t *testing.T, f gatewayhttp.Invoker, l gatewayhttp.Limiter, set map[string]string) *fiber.App {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := server.New(server.Config{Name: "gateway", Logger: log})
	signer, err := auth.NewSigner(seedB64)
	if err != nil {
		t.Fatal(err)
	}
	s := settings.New(log, domain.Settings...)
	s.Apply(set)
	gatewayhttp.New(f, store.New(sidecartest.NewMemState(), "gateway-store", 86400), tokens, signer, l, s, log).Routes(app)
	return app
}

func code(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestRouting(t *testing.T) {
	uid := id.New(id.User)
	sid := id.New(id.Subscription)
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		hdr        map[string]string
		wantStatus int
		wantCode   string
		wantApp    string // "" means no hop may happen
		wantPath   string
	}{
		{"create user goes to user", "POST", "/users/create", `{"name":"A"}`, json, 201, "", "user", "/users/create"},
		{"list keeps the query", "GET", "/users/all?limit=5&cursor=abc", "", nil, 201, "", "user", "/users/all?limit=5&cursor=abc"},
		{"webhook drops the merchant's query", "POST", "/razorpay/webhook?source=rzp", `{}`, map[string]string{"X-Razorpay-Signature": "abc"}, 201, "", "razorpay", "/razorpay/webhook"},
		{"get user passes the service's 404", "GET", "/users/" + uid, "", nil, 404, "USER_NOT_FOUND", "user", "/users/" + uid},
		{"malformed user id costs no hop", "GET", "/users/not-an-id", "", nil, 404, "USER_NOT_FOUND", "", ""},
		{"traversal in an id", "GET", "/billing/..%2Fwallet%2Fdeduct", "", nil, 404, "BILL_NOT_FOUND", "", ""},
		{"malformed JSON costs no hop", "POST", "/users/create", `{"name":`, json, 400, "VALIDATION_FAILED", "", ""},
		{"trailing garbage", "POST", "/users/create", `{"name":"A"} {}`, json, 400, "VALIDATION_FAILED", "", ""},
		{"not an object", "POST", "/users/create", `["a"]`, json, 400, "VALIDATION_FAILED", "", ""},
		{"form body", "POST", "/users/create", `name=A`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "UNSUPPORTED_MEDIA_TYPE", "", ""},
		{"internal deduct hidden", "POST", "/wallet/deduct", `{}`, json, 404, "ROUTE_NOT_FOUND", "", ""},
		// Not forwarded: the path is the public GET /billing/{billId}'s
		// (and GET /Payment/{paymentId}'s), which has no PUT (POST).
		{"internal updateStatus hidden", "PUT", "/billing/updateStatus", `{}`, json, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"internal confirm hidden", "POST", "/Payment/confirm", `{}`, json, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"internal create-order hidden", "POST", "/razorpay/create-order", `{}`, json, 404, "ROUTE_NOT_FOUND", "", ""},
		{"GET on updateStatus is not a bill", "GET", "/billing/updateStatus", "", nil, 404, "BILL_NOT_FOUND", "", ""},
		{"GET on confirm is not a payment", "GET", "/Payment/confirm", "", nil, 404, "PAYMENT_NOT_FOUND", "", ""},
		{"paths are case sensitive", "POST", "/payment/pay", `{}`, json, 404, "ROUTE_NOT_FOUND", "", ""},
		// An id of another kind names no payment: the route's 404 (its
		// message says what the id is), and no hop.
		{"a top-up refunded is not a payment", "POST", "/Payment/" + id.New(id.TopUp) + "/refund", `{"reason":"dup"}`, json, 404, "PAYMENT_NOT_FOUND", "", ""},
		{"a bill read as a payment", "GET", "/Payment/" + id.New(id.Bill), "", nil, 404, "PAYMENT_NOT_FOUND", "", ""},
		// A literal path of the contract is not an id of another method's
		// route: it exists, with another method.
		{"GET on create is not a bill", "GET", "/billing/create", "", nil, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"GET on subscriptions is not a bill", "GET", "/billing/subscriptions", "", nil, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"HEAD on create is not a bill", "HEAD", "/billing/create", "", nil, 405, "", "", ""},
		{"GET on pay is not a payment", "GET", "/Payment/pay", "", nil, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"GET on rozarpay is not a payment", "GET", "/Payment/rozarpay", "", nil, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"GET on users/create is not a user", "GET", "/users/create", "", nil, 405, "METHOD_NOT_ALLOWED", "", ""},
		{"health takes no query", "GET", "/health?x=1&x=2", "", nil, 400, "VALIDATION_FAILED", "", ""},
		{"health takes no body", "GET", "/health", `{"a":1}`, json, 400, "VALIDATION_FAILED", "", ""},
		{"the description takes no query", "GET", "/openapi.json?v=2", "", nil, 400, "VALIDATION_FAILED", "", ""},
		{"the description takes no body", "GET", "/openapi.json", `{"a":1}`, json, 400, "VALIDATION_FAILED", "", ""},
		{"webhook body passes raw", "POST", "/razorpay/webhook", `not json at all`, map[string]string{"X-Razorpay-Signature": "abc"}, 201, "", "razorpay", "/razorpay/webhook"},
		{"service error without envelope is normalised", "POST", "/billing/create", `{}`, json, 503, "UNAVAILABLE", "billing", "/billing/create"},
		{"no-body route refuses a text body", "POST", "/billing/subscriptions/" + sid + "/cancel", `garbage{`, map[string]string{"Content-Type": "text/plain"}, 400, "VALIDATION_FAILED", "", ""},
		{"no-body route refuses a JSON body", "POST", "/wallet/create/" + uid, `{"balance":999999}`, json, 400, "VALIDATION_FAILED", "", ""},
		{"no-body route refuses a body without a type", "POST", "/wallet/create/" + uid, `{}`, nil, 400, "VALIDATION_FAILED", "", ""},
		{"GET refuses a body", "GET", "/users/" + uid, `{}`, json, 400, "VALIDATION_FAILED", "", ""},
		{"no-body route takes an empty body with a type", "POST", "/billing/subscriptions/" + sid + "/cancel", "", json, 201, "", "billing", "/subscriptions/cancel/" + sid},
		{"no-body route takes an empty body", "POST", "/wallet/create/" + uid, "", nil, 201, "", "wallet", "/wallet/create/" + uid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDapr{}
			do := newGateway(t, f)
			status, body, hdr := do(tc.method, tc.path, tc.body, tc.hdr)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("%s %s = %d %v, want %d %s", tc.method, tc.path, status, body, tc.wantStatus, tc.wantCode)
			}
			if hdr.Get(server.HeaderRequestID) == "" {
				t.Errorf("no request id on the response")
			}
			got := f.last()
			if got.app != tc.wantApp || got.path != tc.wantPath {
				t.Fatalf("invoked %q %q, want %q %q", got.app, got.path, tc.wantApp, tc.wantPath)
			}
			if tc.wantApp != "" {
				if got.header.Get(server.HeaderRequestID) != hdr.Get(server.HeaderRequestID) {
					t.Errorf("request id not forwarded: %v", got.header)
				}
				if got.body != tc.body {
					t.Errorf("forwarded body %q, want %q", got.body, tc.body)
				}
			}
		})
	}
}

func TestServiceDownIs503WithRetryAfter(t *testing.T) {
	f := &fakeDapr{down: map[string]bool{"wallet": true}}
	do := newGateway(t, f)
	status, body, hdr := do("POST", "/wallet/add", `{"user_id":"x"}`, map[string]string{"Content-Type": "application/json"})
	if status != 503 || code(body) != "UNAVAILABLE" || hdr.Get("Retry-After") == "" {
		t.Fatalf("wallet down: %d %v Retry-After=%q, want 503 UNAVAILABLE with Retry-After", status, body, hdr.Get("Retry-After"))
	}
	if strings.Contains(body["error"].(map[string]any)["message"].(string), "no such app") {
		t.Fatalf("503 leaks the sidecar's message: %v", body)
	}
}

func TestHealth(t *testing.T) {
	f := &fakeDapr{}
	do := newGateway(t, f)
	if status, body, _ := do("GET", "/health", "", nil); status != 200 || body["status"] != "ok" {
		t.Fatalf("GET /health = %d %v, want 200 ok", status, body)
	}
	f.down = map[string]bool{"billing": true, "payment": true}
	status, body, _ := do("GET", "/health", "", nil)
	if status != 503 || code(body) != "UNAVAILABLE" {
		t.Fatalf("GET /health with two down = %d %v, want 503", status, body)
	}
	failing := body["error"].(map[string]any)["details"].(map[string]any)["failing"].([]any)
	if len(failing) != 2 || failing[0] != "billing" || failing[1] != "payment" {
		t.Fatalf("failing = %v, want [billing payment]", failing)
	}
	// Anyone may ask for /health: a service down is "unavailable", without
	// the sidecar's error (addresses, ports), which goes to the log.
	services := body["services"].(map[string]any)
	if services["billing"] != "unavailable" || services["payment"] != "unavailable" || services["wallet"] != "ok" {
		t.Fatalf("services = %v, want billing and payment \"unavailable\" and nothing more", services)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := &fakeDapr{}
	do := newGateway(t, f)
	json := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "topup-1"}
	body := `{"user_id":"usr_x","amount":100}`

	status, first, hdr := do("POST", "/wallet/add", body, json)
	if status != 201 || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first = %d %v replayed=%q", status, first, hdr.Get("Idempotent-Replayed"))
	}
	token := f.last().header.Get("X-Idempotency-Token")
	if len(token) != 64 {
		t.Fatalf("X-Idempotency-Token = %q, want a 64-char token", token)
	}
	// Same key, same body (other spacing): replayed without a second hop.
	status, again, hdr := do("POST", "/wallet/add", `{ "amount": 100, "user_id": "usr_x" }`, json)
	if status != 201 || hdr.Get("Idempotent-Replayed") != "true" || f.count("/wallet/add") != 1 || again["ok"] != true {
		t.Fatalf("replay = %d %v replayed=%q hops=%d", status, again, hdr.Get("Idempotent-Replayed"), f.count("/wallet/add"))
	}
	// Same key, different body: 422.
	if status, body, _ := do("POST", "/wallet/add", `{"user_id":"usr_x","amount":999}`, json); status != 422 || code(body) != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("different body = %d %v, want 422 IDEMPOTENCY_KEY_REUSED", status, body)
	}
	// A bad key: 400.
	if status, body, _ := do("POST", "/wallet/add", body, map[string]string{"Content-Type": "application/json", "Idempotency-Key": strings.Repeat("k", 256)}); status != 400 || code(body) != "VALIDATION_FAILED" {
		t.Fatalf("bad key = %d %v, want 400", status, body)
	}
}

func TestIdempotencyKeyInFlightAndFailures(t *testing.T) {
	f := &fakeDapr{hold: make(chan struct{})}
	do := newGateway(t, f)
	hdr := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "slow-1"}
	done := make(chan int)
	go func() {
		status, _, _ := do("POST", "/wallet/add", `{"amount":1}`, hdr)
		done <- status
	}()
	for f.count("/wallet/add") == 0 {
		time.Sleep(time.Millisecond)
	}
	status, body, h := do("POST", "/wallet/add", `{"amount":1}`, hdr)
	if status != 409 || code(body) != "IDEMPOTENCY_KEY_IN_USE" {
		t.Fatalf("while in flight = %d %v, want 409 IDEMPOTENCY_KEY_IN_USE", status, body)
	}
	// It says when the first request's record may be taken over: its
	// deadline (the invoke timeout, at most 120 s, plus the grace to
	// record the outcome).
	details, _ := body["error"].(map[string]any)["details"].(map[string]any)
	wait, err := strconv.Atoi(h.Get("Retry-After"))
	if max := 120 + 2; err != nil || wait < 1 || wait > max || details["retry_after_seconds"] != float64(wait) {
		t.Fatalf("while in flight: Retry-After %q, details %v; want 1 to %d seconds in both", h.Get("Retry-After"), details, max)
	}
	close(f.hold)
	if status := <-done; status != 201 {
		t.Fatalf("first = %d", status)
	}

	// A service failure keeps no record: the retry runs again.
	fail := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "fail-1"}
	for i := 1; i <= 2; i++ {
		if status, _, _ := do("POST", "/billing/create", `{}`, fail); status != 503 {
			t.Fatalf("attempt %d = %d, want 503", i, status)
		}
		if n := f.count("/billing/create"); n != i {
			t.Fatalf("after attempt %d: %d hops, want %d (no record kept)", i, n, i)
		}
	}

	// An answer that is not JSON (an empty 200) is no answer: 503, and no
	// record is kept, so the retry runs again.
	empty := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "empty-1"}
	for i := 1; i <= 2; i++ {
		status, body, _ := do("POST", "/Payment/pay", `{"bill_id":"bill_empty"}`, empty)
		if status != 503 || code(body) != "UNAVAILABLE" {
			t.Fatalf("empty answer, attempt %d = %d %v, want 503 UNAVAILABLE", i, status, body)
		}
		if n := f.count("/Payment/pay"); n != i {
			t.Fatalf("after attempt %d: %d hops, want %d (no record kept)", i, n, i)
		}
	}

	// A service's word that the key is another request's (its record of
	// the key's first request, whose answer the gateway lost) is no answer
	// to keep: kept under this body, it would refuse the key's first
	// request retried with its own body (the outside tester's report).
	for _, word := range []string{"bill_reused", "bill_inuse"} {
		key := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "svc-" + word}
		before := f.count("/Payment/pay")
		for i := 1; i <= 2; i++ {
			if status, body, _ := do("POST", "/Payment/pay", `{"bill_id":"`+word+`"}`, key); status < 409 || !strings.HasPrefix(code(body), "IDEMPOTENCY_KEY_") {
				t.Fatalf("%s, attempt %d = %d %v, want the service's answer", word, i, status, body)
			}
		}
		if status, body, hdr := do("POST", "/Payment/pay", `{"bill_id":"bill_first"}`, key); status != 201 || hdr.Get("Idempotent-Replayed") != "" {
			t.Fatalf("%s: the key's first request retried = %d %v, want it run again (201)", word, status, body)
		}
		if n := f.count("/Payment/pay") - before; n != 3 {
			t.Fatalf("%s: %d hops, want 3 (no record kept of the refusals)", word, n)
		}
	}

	// A client cannot forge the downstream token.
	do("POST", "/users/create", `{"name":"A"}`, map[string]string{"Content-Type": "application/json", "X-Idempotency-Token": "forged"})
	if got := f.last().header.Get("X-Idempotency-Token"); got != "" {
		t.Fatalf("client-sent X-Idempotency-Token forwarded: %q", got)
	}
}

func TestAuthentication(t *testing.T) {
	me, other := id.New(id.User), id.New(id.User)
	verifier, _ := auth.NewVerifier(pubB64)
	json := "application/json"
	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		authz      string
		wantStatus int
		wantCode   string
	}{
		{"sign-up needs no token", "POST", "/users/create", `{"name":"A"}`, noHeader, 201, ""},
		{"webhook needs no token", "POST", "/razorpay/webhook", `x`, noHeader, 201, ""},
		{"missing token", "GET", "/users/" + me, "", noHeader, 401, "UNAUTHENTICATED"},
		{"malformed token", "GET", "/users/" + me, "", "Bearer abc.def", 401, "UNAUTHENTICATED"},
		{"not a bearer token", "GET", "/users/" + me, "", "Token abc", 401, "UNAUTHENTICATED"},
		{"bad token on a public route", "POST", "/users/create", `{"name":"A"}`, "Bearer nope", 401, "UNAUTHENTICATED"},
		{"own user", "GET", "/users/" + me, "", bearer(me, "user"), 404, "USER_NOT_FOUND"},
		{"another user's record", "GET", "/users/" + other, "", bearer(me, "user"), 403, "FORBIDDEN"},
		{"another user's wallet", "GET", "/wallet/balance/" + other, "", bearer(me, "user"), 403, "FORBIDDEN"},
		{"user listing users", "GET", "/users/all", "", bearer(me, "user"), 403, "FORBIDDEN"},
		{"user topping up", "POST", "/wallet/add", `{"user_id":"` + me + `"}`, bearer(me, "user"), 403, "FORBIDDEN"},
		{"user reading dead letters", "GET", "/admin/dead-letters", "", bearer(me, "user"), 403, "FORBIDDEN"},
		{"admin reads anyone", "GET", "/users/" + other, "", bearer("ops", "admin"), 404, "USER_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDapr{}
			do := newGateway(t, f)
			status, body, _ := do(tc.method, tc.path, tc.body, map[string]string{"Authorization": tc.authz, "Content-Type": json})
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("= %d %v, want %d %s", status, body, tc.wantStatus, tc.wantCode)
			}
			if status == 401 || status == 403 {
				if n := len(f.calls); n != 0 {
					t.Fatalf("a refused request still made %d hops", n)
				}
				return
			}
			fwd := f.last().header.Get(auth.HeaderIdentity)
			if tc.authz == noHeader {
				if fwd != "" {
					t.Fatalf("anonymous request forwarded an identity")
				}
				return
			}
			if _, err := verifier.Verify(fwd); err != nil {
				t.Fatalf("forwarded identity does not verify: %v", err)
			}
		})
	}
}

func TestClientCannotForgeTheIdentityHeader(t *testing.T) {
	f := &fakeDapr{}
	do := newGateway(t, f)
	do("POST", "/users/create", `{"name":"A"}`, map[string]string{"Authorization": noHeader, "Content-Type": "application/json", auth.HeaderIdentity: "forged"})
	if got := f.last().header.Get(auth.HeaderIdentity); got != "" {
		t.Fatalf("client-sent identity forwarded: %q", got)
	}
}

// POST /auth/dev-token goes through the checks every route does (headers,
// query, Idempotency-Key, a token if sent) and issues a token only for a
// FinFlow identity, naming the field that is not one.
func TestDevToken(t *testing.T) {
	user := id.New(id.User)
	jsonType := nethttp.Header{"Content-Type": {"application/json"}}
	with := func(k string, vs ...string) nethttp.Header { return withHeader(jsonType, k, vs...) }
	cases := []struct {
		name       string
		query      string
		body       string
		header     nethttp.Header
		wantStatus int
		wantCode   string
		wantField  string // details.field of a 400
		wantIdent  auth.Identity
	}{
		{"a user", "", `{"sub":"` + user + `","role":"user"}`, jsonType, 200, "", "", auth.Identity{Sub: user, Role: "user"}},
		{"an admin", "", `{"sub":"ops","role":"admin"}`, jsonType, 200, "", "", auth.Identity{Sub: "ops", Role: "admin"}},
		{"a valid token sent along", "", `{"sub":"ops","role":"admin"}`, with("Authorization", bearer(user, "user")), 200, "", "", auth.Identity{Sub: "ops", Role: "admin"}},
		{"a valid Idempotency-Key", "", `{"sub":"ops","role":"admin"}`, with("Idempotency-Key", "dev-1"), 200, "", "", auth.Identity{Sub: "ops", Role: "admin"}},
		{"no role", "", `{"sub":"ops"}`, jsonType, 400, "VALIDATION_FAILED", "role", auth.Identity{}},
		{"another role", "", `{"sub":"x","role":"root"}`, jsonType, 400, "VALIDATION_FAILED", "role", auth.Identity{}},
		{"a user sub that is not a user id", "", `{"sub":"bob","role":"user"}`, jsonType, 400, "VALIDATION_FAILED", "sub", auth.Identity{}},
		{"an admin sub with a NUL", "", `{"sub":"ops\u0000","role":"admin"}`, jsonType, 400, "VALIDATION_FAILED", "sub", auth.Identity{}},
		{"an admin sub with a newline", "", `{"sub":"ops\nroot","role":"admin"}`, jsonType, 400, "VALIDATION_FAILED", "sub", auth.Identity{}},
		{"an admin sub with a space", "", `{"sub":"ops admin","role":"admin"}`, jsonType, 400, "VALIDATION_FAILED", "sub", auth.Identity{}},
		{"an admin sub not ASCII", "", `{"sub":"op\u00e9","role":"admin"}`, jsonType, 400, "VALIDATION_FAILED", "sub", auth.Identity{}},
		{"an empty admin sub", "", `{"sub":"","role":"admin"}`, jsonType, 400, "VALIDATION_FAILED", "sub", auth.Identity{}},
		{"an unknown field", "", `{"sub":"ops","role":"admin","exp":1}`, jsonType, 400, "VALIDATION_FAILED", "", auth.Identity{}},
		{"an unknown query parameter", "?ttl=99999", `{"sub":"ops","role":"admin"}`, jsonType, 400, "VALIDATION_FAILED", "ttl", auth.Identity{}},
		{"an invalid bearer token", "", `{"sub":"ops","role":"admin"}`, with("Authorization", "Bearer nope"), 401, "UNAUTHENTICATED", "", auth.Identity{}},
		{"an empty Idempotency-Key", "", `{"sub":"ops","role":"admin"}`, with("Idempotency-Key", ""), 400, "VALIDATION_FAILED", "Idempotency-Key", auth.Identity{}},
		{"an Idempotency-Key too long", "", `{"sub":"ops","role":"admin"}`, with("Idempotency-Key", strings.Repeat("k", 256)), 400, "VALIDATION_FAILED", "Idempotency-Key", auth.Identity{}},
		{"an Idempotency-Key not printable", "", `{"sub":"ops","role":"admin"}`, with("Idempotency-Key", "k\x7f"), 400, "VALIDATION_FAILED", "Idempotency-Key", auth.Identity{}},
		{"Idempotency-Key twice", "", `{"sub":"ops","role":"admin"}`, with("Idempotency-Key", "k-1", "k-2"), 400, "VALIDATION_FAILED", "Idempotency-Key", auth.Identity{}},
		{"Authorization twice", "", `{"sub":"ops","role":"admin"}`, with("Authorization", bearer(user, "user"), bearer("ops", "admin")), 400, "VALIDATION_FAILED", "Authorization", auth.Identity{}},
		{"text/plain", "", `{"sub":"ops","role":"admin"}`, nethttp.Header{"Content-Type": {"text/plain"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "", auth.Identity{}},
		{"not JSON", "", `{"sub":`, jsonType, 400, "VALIDATION_FAILED", "", auth.Identity{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDapr{}
			resp, raw := send(t, gatewayApp(t, f), "POST", "/auth/dev-token"+tc.query, tc.body, tc.header)
			var out answer
			_ = json.Unmarshal(raw, &out)
			if resp.StatusCode != tc.wantStatus || out.Error.Code != tc.wantCode {
				t.Fatalf("POST /auth/dev-token%s %s = %d %s, want %d %s", tc.query, tc.body, resp.StatusCode, raw, tc.wantStatus, tc.wantCode)
			}
			if tc.wantField != "" && out.Error.Details["field"] != tc.wantField {
				t.Fatalf("details = %v, want field %s", out.Error.Details, tc.wantField)
			}
			if tc.wantStatus == 200 {
				ident, err := tokens.Verify("Bearer "+out.Token, time.Now())
				if err != nil || ident != tc.wantIdent {
					t.Fatalf("the token issued is for %+v (%v), want %+v", ident, err, tc.wantIdent)
				}
			}
			if len(f.calls) != 0 {
				t.Fatalf("dev-token made %d hops", len(f.calls))
			}
		})
	}
}

func TestNoDevTokenOutsideDevMode(t *testing.T) {
	prod, err := domain.NewTokens(domain.TokenConfig{HS256Keys: []string{strings.Repeat("p", 40)}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := server.New(server.Config{Name: "gateway", Logger: log})
	signer, _ := auth.NewSigner(seedB64)
	gatewayhttp.New(&fakeDapr{}, store.New(sidecartest.NewMemState(), "gateway-store", 86400), prod, signer, &countingLimiter{}, settings.New(log, domain.Settings...), log).Routes(app)
	req := httptest.NewRequest("POST", "/auth/dev-token", strings.NewReader(`{"sub":"ops","role":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := app.Test(req, -1)
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("POST /auth/dev-token outside dev mode = %v %v, want 404", resp.StatusCode, err)
	}
}

// countingLimiter is an in-memory limiter with the Redis one's semantics,
// for unit tests (the Redis one is tested against Redis).
type countingLimiter struct {
	mu sync.Mutex
	n  map[string]int64
}

func (l *countingLimiter) Allow(_ context.Context, caller string, limit int64, _ time.Duration) (ratelimit.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int64{}
	}
	l.n[caller]++
	if l.n[caller] > limit {
		return ratelimit.Decision{RetryAfter: 42 * time.Second}, nil
	}
	return ratelimit.Decision{Allowed: true, Remaining: limit - l.n[caller]}, nil
}

func TestRateLimitPerCaller(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := server.New(server.Config{Name: "gateway", Logger: log})
	signer, _ := auth.NewSigner(seedB64)
	set := settings.New(log, domain.Settings...)
	set.Apply(map[string]string{domain.SettingRateUserPerMinute: "3"})
	f := &fakeDapr{}
	gatewayhttp.New(f, store.New(sidecartest.NewMemState(), "gateway-store", 86400), tokens, signer, &countingLimiter{}, set, log).Routes(app)
	get := func(authz string) *nethttp.Response {
		req := httptest.NewRequest("GET", "/users/"+id.New(id.User), nil)
		req.Header.Set("Authorization", authz)
		resp, _ := app.Test(req, -1)
		return resp
	}
	me, other := id.New(id.User), id.New(id.User)
	for i := 0; i < 3; i++ {
		get(bearer(me, "admin"))
	}
	statuses := []int{}
	for i := 0; i < 5; i++ {
		statuses = append(statuses, get(bearer(me, "user")).StatusCode)
	}
	if fmt.Sprint(statuses) != "[403 403 403 429 429]" {
		t.Fatalf("user statuses %v, want three answers then 429s", statuses)
	}
	resp := get(bearer(me, "user"))
	if resp.Header.Get("Retry-After") != "43" {
		t.Fatalf("Retry-After = %q, want 43", resp.Header.Get("Retry-After"))
	}
	if s := get(bearer(other, "user")).StatusCode; s == 429 {
		t.Fatalf("another user was limited")
	}
}

// Headers and media types that carry meaning are taken only as the contract
// says; anything looser is refused before a hop, and changes nothing.
func TestHeadersAndMediaTypesTakenStrictly(t *testing.T) {
	user := id.New(id.User)
	add := `{"user_id":"` + user + `","amount":100}`
	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		header     nethttp.Header
		wantStatus int
		wantCode   string
		wantField  string // details.field or details.header
		wantHop    bool
	}{
		{"application/json", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/json"}}, 201, "", "", true},
		{"charset=UTF-8", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/json; charset=UTF-8"}}, 201, "", "", true},
		{"text/plain;charset=json (no CORS preflight)", "POST", "/users/create", `{"name":"A","email":"a@example.in"}`, nethttp.Header{"Content-Type": {"text/plain; charset=json"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type", false},
		{"text/plain", "POST", "/users/create", `{"name":"A","email":"a@example.in"}`, nethttp.Header{"Content-Type": {"text/plain"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type", false},
		{"no Content-Type", "POST", "/wallet/add", add, nethttp.Header{}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type", false},
		{"application/jsonp", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/jsonp"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type", false},
		{"a +json type", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/vnd.api+json"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type", false},
		{"gzip-encoded", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Encoding", false},
		{"invalid UTF-8", "POST", "/users/create", "{\"name\":\"\xc3\x28\"}", nethttp.Header{"Content-Type": {"application/json"}}, 400, "VALIDATION_FAILED", "body", false},
		{"Idempotency-Key present but empty", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {""}}, 400, "VALIDATION_FAILED", "Idempotency-Key", false},
		{"Idempotency-Key twice", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-1", "k-2"}}, 400, "VALIDATION_FAILED", "Idempotency-Key", false},
		{"Idempotency-Key too long", "POST", "/wallet/add", add, nethttp.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {strings.Repeat("k", 256)}}, 400, "VALIDATION_FAILED", "Idempotency-Key", false},
		{"Authorization twice", "GET", "/users/" + user, "", nethttp.Header{"Authorization": {bearer(user, "user"), bearer("ops-admin", "admin")}}, 400, "VALIDATION_FAILED", "Authorization", false},
		{"webhook signature twice", "POST", "/razorpay/webhook", `{}`, nethttp.Header{"X-Razorpay-Signature": {"a", "b"}}, 400, "VALIDATION_FAILED", "X-Razorpay-Signature", false},
		{"unknown query parameter", "GET", "/users/all?limt=5", "", nil, 400, "VALIDATION_FAILED", "limt", false},
		{"query parameter twice", "GET", "/users/all?limit=5&limit=500", "", nil, 400, "VALIDATION_FAILED", "limit", false},
		{"an empty query value", "GET", "/users/all?limit=", "", nil, 400, "VALIDATION_FAILED", "limit", false},
		{"a query parameter without a value", "GET", "/users/all?cursor", "", nil, 400, "VALIDATION_FAILED", "cursor", false},
		{"an empty filter", "GET", "/billing/user/" + user + "?status=", "", nil, 400, "VALIDATION_FAILED", "status", false},
		{"a long unknown query parameter is quoted back cut short", "GET", "/users/all?" + strings.Repeat("k", 6000) + "=1", "", nil, 400, "VALIDATION_FAILED", strings.Repeat("k", 64), false},
		{"an unknown query parameter with a bidi control is quoted back escaped", "GET", "/users/all?a%E2%80%AEb=1", "", nil, 400, "VALIDATION_FAILED", `a\u202eb`, false},
		{"query on a route that takes none", "POST", "/wallet/add?user_id=" + user, add, nethttp.Header{"Content-Type": {"application/json"}}, 400, "VALIDATION_FAILED", "user_id", false},
		{"Idempotency-Key on a read has no effect", "GET", "/users/all", "", nethttp.Header{"Idempotency-Key": {""}}, 201, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDapr{}
			app := gatewayApp(t, f)
			header := nethttp.Header{"Authorization": {bearer("ops-admin", "admin")}}
			for k, vs := range tc.header {
				header[k] = vs
			}
			resp, raw := send(t, app, tc.method, tc.path, tc.body, header)
			var out answer
			_ = json.Unmarshal(raw, &out)
			if resp.StatusCode != tc.wantStatus || out.Error.Code != tc.wantCode {
				t.Fatalf("%s %s = %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, raw, tc.wantStatus, tc.wantCode)
			}
			if tc.wantField != "" && out.Error.Details["field"] != tc.wantField && out.Error.Details["header"] != tc.wantField {
				t.Fatalf("details = %v, want it to name %s", out.Error.Details, tc.wantField)
			}
			if hopped := f.last().app != ""; hopped != tc.wantHop {
				t.Fatalf("hop made: %v, want %v", hopped, tc.wantHop)
			}
		})
	}
}

// answer is an answer of the gateway as the tests read it: the token of
// POST /auth/dev-token, or the contract's error envelope.
type answer struct {
	Token string `json:"token"`
	Error struct {
		Code    string         `json:"code"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// withHeader returns a copy of h (nil: none) with k set to vs.
func withHeader(h nethttp.Header, k string, vs ...string) nethttp.Header {
	out := nethttp.Header{}
	for name, values := range h {
		out[name] = values
	}
	out[k] = vs
	return out
}

// send sends one request to app, with header's values (each as many times
// as listed), and returns the answer and its body.
func send(t *testing.T, app *fiber.App, method, path, body string, header nethttp.Header) (*nethttp.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// Every request is authenticated first, then counted against the caller's
// budget, then refused if its token is missing or wrong (or the caller may
// not use the route), and only then are its headers, path id, query and
// body checked. So every kind of input error is 401 without a token on a
// route that needs one, and every request is counted, whatever it is
// refused for: with a budget of one, the same request again is 429, from
// the caller's own budget (anonymous callers by address).
func TestAuthenticateThenLimitThenCheckInput(t *testing.T) {
	me := id.New(id.User)
	good := `{"user_id":"` + me + `","amount":100,"description":"x"}`
	jsonType := nethttp.Header{"Content-Type": {"application/json"}}
	with := withHeader
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header nethttp.Header
		// The first answer to each caller: an admin, the user me, no
		// token, and an invalid token.
		admin, user, none, badToken int
	}{
		{"malformed id", "GET", "/billing/bill_bad", "", nil, 404, 404, 401, 401},
		{"traversal in an id", "GET", "/billing/..%2Fwallet%2Fdeduct", "", nil, 404, 404, 401, 401},
		// A user naming an id that is not theirs is refused before the id
		// is checked: 403, which tells nothing. An admin learns it is 404.
		{"malformed user id (own-id route)", "GET", "/users/usr_bad", "", nil, 404, 403, 401, 401},
		{"malformed user id (own-id route with a body)", "POST", "/wallet/create/usr_bad", "", nil, 404, 403, 401, 401},
		{"malformed payment id (body route)", "POST", "/Payment/pay_bad/refund", `{"reason":"x"}`, jsonType, 404, 403, 401, 401},
		{"malformed JSON", "POST", "/billing/create", `{"user_id":`, jsonType, 400, 400, 401, 401},
		{"trailing data", "POST", "/billing/create", good + ` {}`, jsonType, 400, 400, 401, 401},
		{"not an object", "POST", "/billing/create", `["a"]`, jsonType, 400, 400, 401, 401},
		{"no body", "POST", "/billing/create", ``, jsonType, 400, 400, 401, 401},
		{"invalid UTF-8", "POST", "/billing/create", "{\"description\":\"\xc3\x28\"}", jsonType, 400, 400, 401, 401},
		{"text/plain", "POST", "/billing/create", good, nethttp.Header{"Content-Type": {"text/plain"}}, 415, 415, 401, 401},
		{"no Content-Type", "POST", "/billing/create", good, nil, 415, 415, 401, 401},
		{"a form", "POST", "/billing/create", `a=1`, nethttp.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 415, 415, 401, 401},
		{"gzip-encoded", "POST", "/billing/create", good, with(jsonType, "Content-Encoding", "gzip"), 415, 415, 401, 401},
		{"unknown query parameter", "GET", "/billing/user/" + me + "?foo=1", "", nil, 400, 400, 401, 401},
		{"unknown query parameter (admin-only route)", "GET", "/users/all?foo=1", "", nil, 400, 403, 401, 401},
		{"query parameter twice", "GET", "/billing/user/" + me + "?limit=1&limit=2", "", nil, 400, 400, 401, 401},
		{"query on a route that takes none", "POST", "/billing/create?user_id=" + me, good, jsonType, 400, 400, 401, 401},
		{"empty Idempotency-Key", "POST", "/billing/create", good, with(jsonType, "Idempotency-Key", ""), 400, 400, 401, 401},
		{"Idempotency-Key too long", "POST", "/billing/create", good, with(jsonType, "Idempotency-Key", strings.Repeat("k", 256)), 400, 400, 401, 401},
		{"Idempotency-Key not printable", "POST", "/billing/create", good, with(jsonType, "Idempotency-Key", "k\x7f"), 400, 400, 401, 401},
		{"Idempotency-Key twice", "POST", "/billing/create", good, with(jsonType, "Idempotency-Key", "k-1", "k-2"), 400, 400, 401, 401},
		{"webhook signature twice", "POST", "/billing/create", good, with(jsonType, "X-Razorpay-Signature", "a", "b"), 400, 400, 401, 401},
		{"HEAD of a malformed id", "HEAD", "/billing/bill_bad", "", nil, 404, 404, 401, 401},
		{"HEAD with an unknown query parameter", "HEAD", "/billing/user/" + me + "?foo=1", "", nil, 400, 400, 401, 401},
		// On a public route the input is checked without a token; a token,
		// if sent, must be valid.
		{"malformed JSON on sign-up", "POST", "/users/create", `{"name":`, jsonType, 400, 400, 400, 401},
		{"text/plain on sign-up", "POST", "/users/create", `{"name":"A"}`, nethttp.Header{"Content-Type": {"text/plain"}}, 415, 415, 415, 401},
		{"unknown query parameter on sign-up", "POST", "/users/create?foo=1", `{"name":"A"}`, jsonType, 400, 400, 400, 401},
		{"empty Idempotency-Key on sign-up", "POST", "/users/create", `{"name":"A"}`, with(jsonType, "Idempotency-Key", ""), 400, 400, 400, 401},
		{"malformed JSON on dev-token", "POST", "/auth/dev-token", `{"sub":`, jsonType, 400, 400, 400, 401},
		{"a role that is not one on dev-token", "POST", "/auth/dev-token", `{"sub":"ops"}`, jsonType, 400, 400, 400, 401},
	}
	callers := []struct {
		name, authz, bucket string
		want                func(admin, user, none, badToken int) int
	}{
		{"admin", bearer("ops", "admin"), "admin:ops", func(a, _, _, _ int) int { return a }},
		{"user", bearer(me, "user"), "user:" + me, func(_, u, _, _ int) int { return u }},
		{"no token", "", "ip:0.0.0.0", func(_, _, n, _ int) int { return n }},
		{"invalid token", "Bearer nope", "ip:0.0.0.0", func(_, _, _, b int) int { return b }},
	}
	for _, tc := range cases {
		for _, caller := range callers {
			t.Run(tc.name+"/"+caller.name, func(t *testing.T) {
				f, l := &fakeDapr{}, &countingLimiter{}
				app := gatewayWith(t, f, l, map[string]string{
					domain.SettingRateAnonPerMinute: "1", domain.SettingRateUserPerMinute: "1", domain.SettingRateAdminPerMinute: "1",
				})
				header := tc.header.Clone()
				if caller.authz != "" {
					header = with(header, "Authorization", caller.authz)
				}
				want := caller.want(tc.admin, tc.user, tc.none, tc.badToken)
				resp, raw := send(t, app, tc.method, tc.path, tc.body, header)
				if resp.StatusCode != want {
					t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, raw, want)
				}
				if tc.method == "HEAD" && len(raw) != 0 {
					t.Fatalf("HEAD answered a body: %s", raw)
				}
				resp, raw = send(t, app, tc.method, tc.path, tc.body, header)
				if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("the same request again = %d %s (Retry-After %q), want 429: the first was not counted", resp.StatusCode, raw, resp.Header.Get("Retry-After"))
				}
				if n := l.count(caller.bucket); n != 2 {
					t.Fatalf("%s counted %d times, want 2 (counts: %v)", caller.bucket, n, l.n)
				}
				if len(f.calls) != 0 {
					t.Fatalf("a refused request made %d hops", len(f.calls))
				}
			})
		}
	}
}

// count returns how many requests of caller were counted.
func (l *countingLimiter) count(caller string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[caller]
}

// serve serves app on a loopback port for the test's lifetime and returns
// its base URL.
func serve(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// clientFrom returns a client whose connections come from the loopback
// address ip (all of 127.0.0.0/8 is local on Linux).
func clientFrom(ip string) *nethttp.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &nethttp.Client{Transport: &nethttp.Transport{DialContext: d.DialContext}}
}

// Idempotency-Keys are scoped per caller, anonymous callers included: an
// anonymous client's key is scoped by its address (the address the rate
// limiter counts it by, never a header it sends), so a second anonymous
// client sending the same key and body gets its own answer, not the first
// client's replayed.
func TestAnonymousKeysAreScopedByAddress(t *testing.T) {
	f := &fakeDapr{}
	base := serve(t, gatewayApp(t, f))
	signUp := func(from string, header map[string]string) (status int, replayed, token string) {
		t.Helper()
		req, _ := nethttp.NewRequest("POST", base+"/users/create", strings.NewReader(`{"name":"A","email":"a@example.in"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "signup-1")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := clientFrom(from).Do(req)
		if err != nil {
			t.Fatalf("sign-up from %s: %v", from, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), f.last().header.Get("X-Idempotency-Token")
	}
	steps := []struct {
		name         string
		from         string
		header       map[string]string
		wantReplayed string
		wantHops     int
	}{
		{"the first client", "127.0.0.2", nil, "", 1},
		{"the first client again (replayed)", "127.0.0.2", nil, "true", 1},
		{"a second client, same key and body", "127.0.0.3", nil, "", 2},
		{"a third client naming the first's address", "127.0.0.4", map[string]string{"X-Forwarded-For": "127.0.0.2", "X-Real-Ip": "127.0.0.2"}, "", 3},
		{"the second client again (replayed)", "127.0.0.3", nil, "true", 3},
	}
	tokens := map[string]string{}
	for _, s := range steps {
		status, replayed, token := signUp(s.from, s.header)
		if status != 201 || replayed != s.wantReplayed || f.count("/users/create") != s.wantHops {
			t.Fatalf("%s: %d replayed=%q hops=%d, want 201 replayed=%q hops=%d", s.name, status, replayed, f.count("/users/create"), s.wantReplayed, s.wantHops)
		}
		if s.wantReplayed == "" {
			tokens[s.from] = token
		}
	}
	if len(tokens) != 3 || tokens["127.0.0.2"] == tokens["127.0.0.3"] || tokens["127.0.0.2"] == tokens["127.0.0.4"] {
		t.Fatalf("downstream tokens %v: each address's key must be its own", tokens)
	}
}

// Every GET route answers HEAD as it answers GET (same authentication,
// budget, status and headers, the service asked with GET), without a body.
func TestHeadIsGetWithoutABody(t *testing.T) {
	me := id.New(id.User)
	for _, r := range domain.Routes {
		if r.Method != "GET" {
			continue
		}
		path := r.Path
		if r.Param != "" {
			v := id.New(r.Prefix)
			if r.OwnParam {
				v = me
			}
			path = strings.Replace(path, ":"+r.Param, v, 1)
		}
		for _, caller := range []struct{ name, authz string }{
			{"admin", bearer("ops", "admin")}, {"user", bearer(me, "user")}, {"no token", ""}, {"invalid token", "Bearer nope"},
		} {
			t.Run(r.Path+"/"+caller.name, func(t *testing.T) {
				f := &fakeDapr{}
				app := gatewayApp(t, f)
				header := nethttp.Header{}
				if caller.authz != "" {
					header.Set("Authorization", caller.authz)
				}
				get, getBody := send(t, app, "GET", path, "", header)
				getHop := f.last()
				head, headBody := send(t, app, "HEAD", path, "", header)
				if head.StatusCode != get.StatusCode || len(headBody) != 0 {
					t.Fatalf("HEAD %s = %d with %d bytes, GET = %d %s; want GET's status and no body", path, head.StatusCode, len(headBody), get.StatusCode, getBody)
				}
				for _, h := range []string{"Content-Type", "Content-Length", "Retry-After", "Allow"} {
					if head.Header.Get(h) != get.Header.Get(h) {
						t.Errorf("HEAD %s: %s = %q, GET's %q", path, h, head.Header.Get(h), get.Header.Get(h))
					}
				}
				if head.Header.Get(server.HeaderRequestID) == "" {
					t.Errorf("HEAD %s: no request id", path)
				}
				if hops := len(f.calls); get.StatusCode == 401 || get.StatusCode == 403 {
					if hops != 0 {
						t.Fatalf("a refused request made %d hops", hops)
					}
				} else if headHop := f.last(); hops != 2 || headHop.method != "GET" || headHop.path != getHop.path {
					t.Fatalf("HEAD %s asked %s %s (%d hops), want GET %s", path, headHop.method, headHop.path, hops, getHop.path)
				}
			})
		}
	}
}

// Every answer of the gateway, a service's or its own, success or error,
// is kept out of caches and not sniffed: balances and ledgers pass here.
func TestAnswersAreNotStored(t *testing.T) {
	f := &fakeDapr{}
	do := newGateway(t, f)
	uid := id.New(id.User)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/users/" + uid},             // a service's answer
		{"GET", "/wallet/balance/not-an-id"}, // refused by the gateway
		{"GET", "/health"},
		{"GET", "/nowhere"},         // no route
		{"POST", "/billing/create"}, // no body: 415
	} {
		_, _, hdr := do(tc.method, tc.path, "", nil)
		if hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: Cache-Control %q, X-Content-Type-Options %q; want no-store, nosniff", tc.method, tc.path, hdr.Get("Cache-Control"), hdr.Get("X-Content-Type-Options"))
		}
	}
}
