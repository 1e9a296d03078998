package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/razorpay/client"
)

// razorpayAt answers every request with status and body, after delay.
func razorpayAt(t *testing.T, status int, body string, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Finflow-Call") != "" {
			w.WriteHeader(500) // the transport's own header must never leave
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Every kind of answer razorpay-go would blur is classified from the real
// HTTP status and body.
func TestGatewayClassifiesAnswers(t *testing.T) {
	refusal := `{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist","source":"business","step":"payment_initiation","reason":"input_validation_failed","metadata":{},"field":"id"}}`
	cases := []struct {
		name     string
		status   int
		body     string
		delay    time.Duration
		wantCode string // "" for success
	}{
		{"refund made", 200, `{"id":"rfnd_AAAAAAAAAAAAAA","entity":"refund","amount":2500,"status":"processed"}`, 0, ""},
		{"unknown payment", 400, refusal, 0, contract.CodeGatewayRefused},
		{"fully refunded already", 400, `{"error":{"code":"BAD_REQUEST_ERROR","description":"The payment has been fully refunded already."}}`, 0, contract.CodeGatewayRefused},
		{"server error (razorpay-go reads it as a bad request)", 500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error"}}`, 0, contract.CodeGatewayUnavailable},
		{"gateway error HTML", 502, `<html><body>Bad Gateway</body></html>`, 0, contract.CodeGatewayUnavailable},
		{"rate limited", 429, `{"error":{"code":"BAD_REQUEST_ERROR","description":"Too many requests"}}`, 0, contract.CodeGatewayUnavailable},
		{"timed out", 200, `{"id":"rfnd_AAAAAAAAAAAAAA"}`, 2 * time.Second, contract.CodeGatewayUnavailable},
		{"2xx that is not Razorpay's shape", 200, `{"id":12}`, 0, contract.CodeGatewayUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := razorpayAt(t, tc.status, tc.body, tc.delay)
			gw := client.New("rzp_test_x", "secret", func() string { return url })
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			r, err := gw.Refund(ctx, "pay_AAAAAAAAAAAAAA", 2500, "pay_0123456789abcdefghjkmnpqrs", map[string]string{"finflow_refund_key": "k"})
			if tc.wantCode == "" {
				if err != nil || r.ID != "rfnd_AAAAAAAAAAAAAA" {
					t.Fatalf("Refund = %+v, %v", r, err)
				}
				return
			}
			if got := apperr.From(err).Code; got != tc.wantCode {
				t.Fatalf("Refund = %v, want %s", err, tc.wantCode)
			}
		})
	}
}

// No Razorpay at all (connection refused) is transient, not a refusal.
func TestGatewayUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	gw := client.New("rzp_test_x", "secret", func() string { return "http://" + addr })
	_, err = gw.CreateOrder(context.Background(), "pay_x", 5000, "INR")
	if !errors.Is(err, contract.ErrGatewayUnavailable) {
		t.Fatalf("CreateOrder with nothing listening = %v, want GATEWAY_UNAVAILABLE", err)
	}
}

// Concurrent calls each get their own answer (the SDK shares one request
// object between them).
func TestGatewayConcurrentCallsKeepTheirAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "pay_BAD") {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist"}}`)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"order_id":"order_X","status":"captured","amount":2500,"amount_refunded":0,"currency":"INR"}`, strings.TrimPrefix(r.URL.Path, "/v1/payments/"))
	}))
	defer srv.Close()
	gw := client.New("rzp_test_x", "secret", func() string { return srv.URL })
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("pay_GOOD%010d", i)
			if i%2 == 1 {
				id = fmt.Sprintf("pay_BAD%011d", i)
			}
			p, err := gw.Payment(context.Background(), id)
			switch {
			case i%2 == 1 && !errors.Is(err, contract.ErrGatewayRefused):
				errs <- fmt.Errorf("%s: %v, want GATEWAY_REFUSED", id, err)
			case i%2 == 0 && (err != nil || p.ID != id || p.Amount != 2500 || p.OrderID != "order_X"):
				errs <- fmt.Errorf("%s: %+v, %v", id, p, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Each call is classified as its own operation: Razorpay's 404 with its
// error body refuses an id named in the path, and is no answer creating an
// order (which names no id); a 401 (FinFlow's key) and an HTML 404 page
// are no answer for every call.
func TestGatewayClassifiesEachOperation(t *testing.T) {
	const notFound = `{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist","field":"id"}}`
	calls := []struct {
		name      string
		namesAnID bool
		call      func(gw *client.Gateway) error
	}{
		{"create order", false, func(gw *client.Gateway) error {
			_, err := gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
			return err
		}},
		{"order payments", true, func(gw *client.Gateway) error {
			_, err := gw.OrderPayments(context.Background(), "order_AAAAAAAAAAAAAA")
			return err
		}},
		{"fetch payment", true, func(gw *client.Gateway) error {
			_, err := gw.Payment(context.Background(), "pay_AAAAAAAAAAAAAA")
			return err
		}},
		{"refund", true, func(gw *client.Gateway) error {
			_, err := gw.Refund(context.Background(), "pay_AAAAAAAAAAAAAA", 2500, "pay_0123456789abcdefghjkmnpqrs", nil)
			return err
		}},
		{"fetch refund", true, func(gw *client.Gateway) error {
			_, err := gw.FetchRefund(context.Background(), "rfnd_AAAAAAAAAAAAAA")
			return err
		}},
	}
	answers := []struct {
		name    string
		status  int
		body    string
		refused func(namesAnID bool) bool
	}{
		{"404, Razorpay's body", 404, notFound, func(namesAnID bool) bool { return namesAnID }},
		{"400, Razorpay's body", 400, notFound, func(bool) bool { return true }},
		{"401, Razorpay's body", 401, `{"error":{"code":"BAD_REQUEST_ERROR","description":"The api key provided is invalid"}}`, func(bool) bool { return false }},
		{"403", 403, `{"error":{"code":"BAD_REQUEST_ERROR","description":"Forbidden"}}`, func(bool) bool { return false }},
		{"an HTML 404 page", 404, `<html><body><h1>404 Not Found</h1></body></html>`, func(bool) bool { return false }},
		{"an empty 400", 400, ``, func(bool) bool { return false }},
	}
	for _, a := range answers {
		url := razorpayAt(t, a.status, a.body, 0)
		gw := client.New("rzp_test_x", "secret", func() string { return url })
		for _, c := range calls {
			t.Run(a.name+"/"+c.name, func(t *testing.T) {
				want := contract.ErrGatewayUnavailable
				if a.refused(c.namesAnID) {
					want = contract.ErrGatewayRefused
				}
				if err := c.call(gw); !errors.Is(err, want) {
					t.Fatalf("%s answered %d %q = %v, want %s", c.name, a.status, a.body, err, want.Code)
				}
			})
		}
	}
}
