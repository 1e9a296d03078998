package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/tracectx"
)

var errInsufficient = apperr.New(apperr.KindUnprocessable, "INSUFFICIENT_FUNDS", "insufficient funds")

func TestRemoteError(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		wantIs      error
		wantSidecar bool
	}{
		{"business error keeps its code", 422, `{"error":{"code":"INSUFFICIENT_FUNDS","message":"wallet balance 5 is below 9","details":{"balance":5}}}`, errInsufficient, false},
		{"5xx is a service failure", 500, `{"error":{"code":"INTERNAL","message":"internal error"}}`, nil, true},
		{"5xx keeps its code too", 503, `{"error":{"code":"GATEWAY_UNAVAILABLE","message":"Razorpay did not answer"}}`, contract.ErrGatewayUnavailable, true},
		{"no envelope is a service failure", 404, `Cannot GET /x`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := remoteError("wallet", &Response{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)})
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("remoteError = %v, want errors.Is %v", err, tc.wantIs)
			}
			if got := errors.Is(err, ErrSidecar); got != tc.wantSidecar {
				t.Fatalf("errors.Is(err, ErrSidecar) = %v, want %v (%v)", got, tc.wantSidecar, err)
			}
		})
	}
}

// Every error that crosses a service boundary arrives as the very sentinel
// the sender used (package contract): kind and code, whatever the message
// and details, and as no other.
func TestContractErrorsCrossTheBoundary(t *testing.T) {
	shared := []*apperr.Error{contract.ErrUserNotFound, contract.ErrWalletNotFound, contract.ErrInsufficientFunds,
		contract.ErrBillNotFound, contract.ErrBillAlreadyPaid, contract.ErrPaymentNotFound, contract.ErrGatewayRefused, contract.ErrGatewayUnavailable,
		contract.ErrBillNotPaid, contract.ErrSubscriptionNotFound}
	for _, sent := range shared {
		t.Run(sent.Code, func(t *testing.T) {
			status, body := apperr.HTTP(sent.With("a message of the sender's own", map[string]any{"payment_id": "pay_x"}))
			raw, _ := json.Marshal(body)
			got := remoteError("peer", &Response{Status: status, Header: http.Header{}, Body: raw})
			for _, other := range shared {
				if errors.Is(got, other) != (other == sent) {
					t.Fatalf("%s sent, received %v: errors.Is(%s) = %v", sent.Code, got, other.Code, !(other == sent))
				}
			}
		})
	}
}

// Call against a stand-in for the sidecar's HTTP invoke API: a 2xx that is
// not JSON is an unknown outcome (an *InvokeError), never a success.
func TestCallAnswers(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		wantErr     bool
		wantSidecar bool
		wantBalance int64
	}{
		{"JSON answer decodes", 200, `{"balance":42}`, false, false, 42},
		{"empty 200 is not success", 200, ``, true, true, 0},
		{"text 200 is not success", 200, `ok`, true, true, 0},
		{"JSON of the wrong shape is not success", 201, `{"balance":"x"}`, true, true, 0},
		{"business error", 422, `{"error":{"code":"INSUFFICIENT_FUNDS","message":"no"}}`, true, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := &Client{http: srv.Client(), httpBase: srv.URL}
			var out struct {
				Balance int64 `json:"balance"`
			}
			_, err := c.Call(context.Background(), "wallet", http.MethodPost, "/wallet/deduct", map[string]any{"amount": 1}, &out, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Call err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && errors.Is(err, ErrSidecar) != tc.wantSidecar {
				t.Fatalf("errors.Is(err, ErrSidecar) = %v, want %v (%v)", !tc.wantSidecar, tc.wantSidecar, err)
			}
			if out.Balance != tc.wantBalance {
				t.Fatalf("balance = %d, want %d", out.Balance, tc.wantBalance)
			}
		})
	}
}

// Invoke against a stand-in for the sidecar that fails the first attempts
// with one of Dapr's invocation errors: only calls that certainly never
// left are sent again, with the same body.
func TestInvokeRetriesOnlyWhatNeverLeft(t *testing.T) {
	const (
		backoff   = `failed to invoke, id: wallet, err: rpc error: code = Unavailable desc = last connection error: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:35011: connect: connection refused"`
		handshake = `failed to invoke, id: wallet, err: rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: read tcp 127.0.0.1:37646->127.0.0.1:35011: read: connection reset by peer"`
		resolve   = `failed to invoke, id: wallet, err: couldn't find service: wallet`
		// Seen in CI (2026-12-02): daprd 1.14's mDNS resolver answered a
		// first lookup with no address.
		emptyTarget = `failed to invoke, id: wallet, err: failed to exit idle mode: passthrough: received empty target in Build()`
		broke       = `failed to invoke, id: wallet, err: rpc error: code = Unavailable desc = error reading from server: EOF`
		deadline    = `failed to invoke, id: wallet, err: rpc error: code = DeadlineExceeded desc = context deadline exceeded`
		// Seen on the replica topology: the app of one instance is dead,
		// its sidecar lives and is still resolved.
		appDown = `failed to invoke, id: wallet, err: rpc error: code = Internal desc = error invoking app channel: Post "http://127.0.0.1:40537/wallet/deduct": dial tcp 127.0.0.1:40537: connect: connection refused`
		// The target's app failing its health checks (stopped): its
		// sidecar refuses before the app channel.
		appUnhealthy = `failed to invoke, id: payment, err: rpc error: code = Internal desc = app is not in a healthy state`
		appBroke     = `failed to invoke, id: wallet, err: rpc error: code = Internal desc = error invoking app channel: Post "http://127.0.0.1:40537/wallet/deduct": read tcp 127.0.0.1:51234->127.0.0.1:40537: read: connection reset by peer`
	)
	cases := []struct {
		name      string
		code      string
		message   string
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"reconnect backoff, then up", "ERR_DIRECT_INVOKE", backoff, 2, 3, false},
		{"handshake reset, then up", "ERR_DIRECT_INVOKE", handshake, 1, 2, false},
		{"not resolved yet, then up", "ERR_DIRECT_INVOKE", resolve, 1, 2, false},
		{"resolved to no address, then up", "ERR_DIRECT_INVOKE", emptyTarget, 1, 2, false},
		{"broke after it was sent: not again", "ERR_DIRECT_INVOKE", broke, 1, 1, true},
		{"deadline: not again", "ERR_DIRECT_INVOKE", deadline, 1, 1, true},
		{"the target's app down beside its sidecar, then an instance answers", "ERR_DIRECT_INVOKE", appDown, 2, 3, false},
		{"the target's app unhealthy (held by its sidecar), then up", "ERR_DIRECT_INVOKE", appUnhealthy, 2, 3, false},
		{"the target's app broke while reading it: not again", "ERR_DIRECT_INVOKE", appBroke, 1, 1, true},
		{"access denied: not again", "ERR_PERMISSION_DENIED", backoff, 1, 1, true},
		{"after Dapr's own retries: not again", "ERR_DIRECT_INVOKE", "failed to invoke target wallet after 3 retries. Error: " + backoff, 1, 1, true},
		{"after 0 retries it never left", "ERR_DIRECT_INVOKE", "failed to invoke target wallet after 0 retries. Error: " + backoff, 1, 2, false},
		{"never up: gives up after the budget", "ERR_DIRECT_INVOKE", backoff, 1000, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				if calls <= tc.failures {
					w.WriteHeader(500)
					_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": tc.code, "message": tc.message})
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			c := &Client{http: srv.Client(), httpBase: srv.URL, undeliveredBudget: 600 * time.Millisecond}
			start := time.Now()
			resp, err := c.Invoke(context.Background(), "wallet", http.MethodPost, "/wallet/deduct", []byte(`{"amount":1}`), nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Invoke = %v, %v; want error %v", resp, err, tc.wantErr)
			}
			if tc.wantCalls > 0 && calls != tc.wantCalls {
				t.Errorf("%d calls reached the sidecar, want %d", calls, tc.wantCalls)
			}
			if tc.failures == 1000 && (calls < 3 || time.Since(start) > 2*time.Second) {
				t.Errorf("never-up target: %d calls in %v; want a few, within about the 600 ms budget", calls, time.Since(start))
			}
			for i, b := range bodies {
				if b != `{"amount":1}` {
					t.Errorf("attempt %d sent body %q", i+1, b)
				}
			}
		})
	}
}

// A call that never left is not retried past its context.
func TestInvokeRetryStopsWithTheContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"errorCode":"ERR_DIRECT_INVOKE","message":"rpc error: code = Unavailable desc = last connection error: x"}`))
	}))
	defer srv.Close()
	c := &Client{http: srv.Client(), httpBase: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Invoke(ctx, "wallet", http.MethodGet, "/x", nil, nil); !errors.Is(err, ErrSidecar) {
		t.Fatalf("Invoke = %v, want the sidecar's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Invoke took %v with a 200 ms context; the 5 s budget must yield to it", d)
	}
}

// Our own sidecar refusing the connection (restarting) is retried too.
func TestInvokeRetriesARefusedSidecar(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) })}
	t.Cleanup(func() { srv.Close() })
	go func() {
		time.Sleep(150 * time.Millisecond)
		if ln, err := net.Listen("tcp", addr); err == nil {
			_ = srv.Serve(ln)
		}
	}()
	c := &Client{http: &http.Client{}, httpBase: "http://" + addr, undeliveredBudget: 2 * time.Second}
	resp, err := c.Invoke(context.Background(), "wallet", http.MethodPost, "/x", []byte(`{}`), nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("Invoke = %v, %v; want the answer once the sidecar listens", resp, err)
	}
}

// undeliveredServer answers every call as Dapr does while the target's
// sidecar cannot be dialled, and counts the calls.
func undeliveredServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"errorCode":"ERR_DIRECT_INVOKE","message":"rpc error: code = Unavailable desc = last connection error: x"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// Probes report what they find within their resend bound: with none, one
// call; with 300 ms, a call daprd's resolver first answered with no
// address is sent once more and answered, and a target that stays down is
// reported down after a few calls, within about the bound.
func TestInvokeResendFor(t *testing.T) {
	srv, calls := undeliveredServer(t)
	c := &Client{http: srv.Client(), httpBase: srv.URL}
	if _, err := c.Invoke(ResendFor(context.Background(), 0), "wallet", http.MethodGet, "/readyz", nil, nil); err == nil {
		t.Fatal("Invoke succeeded against a target that is down")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls with no resend bound, want 1", n)
	}

	calls.Store(0)
	start := time.Now()
	if _, err := c.Invoke(ResendFor(context.Background(), 300*time.Millisecond), "wallet", http.MethodGet, "/readyz", nil, nil); err == nil {
		t.Fatal("Invoke succeeded against a target that is down")
	}
	if n, d := calls.Load(), time.Since(start); n < 2 || n > 4 || d > 2*time.Second {
		t.Fatalf("a target that stays down: %d calls in %v under a 300 ms bound, want 2 to 4 within about the bound", n, d)
	}

	var first atomic.Bool
	raced := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: wallet, err: rpc error: code = Unavailable desc = failed to exit idle mode: passthrough: received empty target in Build()"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(raced.Close)
	c = &Client{http: raced.Client(), httpBase: raced.URL}
	resp, err := c.Invoke(ResendFor(context.Background(), 300*time.Millisecond), "wallet", http.MethodGet, "/readyz", nil, nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("after the resolver's empty first answer: %v, %v; want the app's 200", resp, err)
	}
}

// CallRead's own attempts share one resend budget: with a 400 ms budget
// (about 4 sends), not 4 attempts of about 4 sends each.
func TestCallReadSharesTheResendBudget(t *testing.T) {
	srv, calls := undeliveredServer(t)
	c := &Client{http: srv.Client(), httpBase: srv.URL, undeliveredBudget: 400 * time.Millisecond}
	if _, err := c.CallRead(context.Background(), "wallet", "/wallet/balance/x", nil, nil); err == nil {
		t.Fatal("CallRead succeeded against a target that is down")
	}
	if n := calls.Load(); n < 2 || n > 6 {
		t.Fatalf("%d calls, want a few within one budget", n)
	}
}

// A request our sidecar read before the connection broke is not sent
// again, even when net/http's own replay (it replays requests with an
// Idempotency-Key on a reused connection) then fails to dial: the sidecar
// comes back 100 ms later, where a resend would reach it.
func TestInvokeDoesNotResendWhatWasWritten(t *testing.T) {
	var calls atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{}`))
	})
	back := &http.Server{Handler: handler}
	t.Cleanup(func() { back.Close() })
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			_, _ = w.Write([]byte(`{}`)) // the first call sets up a kept-alive connection
			return
		}
		_, _ = io.ReadAll(r.Body)
		addr := srv.Listener.Addr().String()
		srv.Listener.Close() // net/http's replay finds nothing to dial
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close() // gone after reading the request, before answering
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			if ln, err := net.Listen("tcp", addr); err == nil {
				_ = back.Serve(ln)
			}
		}()
	}))
	defer srv.Close()
	c := &Client{http: srv.Client(), httpBase: srv.URL, undeliveredBudget: time.Second}
	if _, err := c.Invoke(context.Background(), "wallet", http.MethodPost, "/x", []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	_, err := c.Invoke(context.Background(), "wallet", http.MethodPost, "/wallet/deduct", []byte(`{"amount":1}`), http.Header{"Idempotency-Key": {"k1"}})
	var ie *InvokeError
	if !errors.As(err, &ie) || ie.DaprCode != "UNREACHABLE" {
		t.Fatalf("Invoke = %v; want the dial error of net/http's replay", err)
	}
	time.Sleep(300 * time.Millisecond) // a resend, if any, would have arrived
	if n := calls.Load(); n != 2 {
		t.Fatalf("the sidecar got the request %d times, want once (plus the first call)", n-1)
	}
}

// A plain POST whose connection breaks after it was read is not sent
// again either.
func TestInvokeDoesNotResendABrokenPost(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.ReadAll(r.Body)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c := &Client{http: srv.Client(), httpBase: srv.URL, undeliveredBudget: 2 * time.Second}
	if _, err := c.Invoke(context.Background(), "wallet", http.MethodPost, "/wallet/deduct", []byte(`{"amount":1}`), nil); err == nil {
		t.Fatal("Invoke succeeded though the sidecar closed without answering")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the sidecar read the request %d times, want once", n)
	}
}

// A call without a deadline of its own is bounded by the client (the
// resiliency policy sets no timeout on app targets).
func TestInvokeBoundsACallWithoutDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{http: srv.Client(), httpBase: srv.URL, callTimeout: 200 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(context.Background(), "wallet", http.MethodGet, "/x", nil, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrSidecar) {
			t.Fatalf("Invoke = %v, want a sidecar error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke without a deadline is still waiting after 5 s; the client must bound it")
	}
}

// A call made while serving a request carries that request's id and a
// child of its trace context, so the callee's log lines carry the same
// request_id and trace_id; ids the caller sets itself are kept.
func TestInvokeCarriesTheRequestID(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := &Client{http: srv.Client(), httpBase: srv.URL}
	tp := tracectx.New()
	ctx := tracectx.WithRequestID(tracectx.With(context.Background(), tp), "req_from_the_gateway")
	cases := []struct {
		name   string
		ctx    context.Context
		header http.Header
		wantID string
	}{
		{"from the request's context", ctx, nil, "req_from_the_gateway"},
		{"set by the caller", ctx, http.Header{tracectx.HeaderRequestID: {"req_set_by_caller"}}, "req_set_by_caller"},
		{"no request", context.Background(), nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Invoke(tc.ctx, "wallet", http.MethodGet, "/healthz", nil, tc.header); err != nil {
				t.Fatal(err)
			}
			if rid := got.Get(tracectx.HeaderRequestID); rid != tc.wantID {
				t.Fatalf("X-Request-Id = %q, want %q", rid, tc.wantID)
			}
			child, ok := tracectx.Parse(got.Get(tracectx.Header))
			if tc.ctx == ctx && (!ok || child.TraceID != tp.TraceID || child.SpanID == tp.SpanID) {
				t.Fatalf("traceparent = %q, want a child of %s", got.Get(tracectx.Header), tp)
			}
		})
	}
}
