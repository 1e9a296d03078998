package sim_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// A simulator restarted over its state file remembers its orders, payments
// and refunds, as Razorpay does; one without it remembers nothing; an
// unreadable file is an error, not an empty simulator.
func TestStateKeptAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rzpsim", "state.json")
	open := func() (*sim.Server, *httptest.Server) {
		s := sim.New(sim.Config{KeyID: keyID, KeySecret: keySecret, WebhookSecret: webhookSecret, WebhookURL: "http://127.0.0.1:1/none", RefundSettle: -1})
		if err := s.Persist(path); err != nil {
			t.Fatal(err)
		}
		return s, httptest.NewServer(s.Handler())
	}
	s, srv := open()
	orderID, paymentID := capturedPayment(t, srv, 5000)
	status, body := call(t, srv, "POST", "/v1/payments/"+paymentID+"/refund", `{"amount":1000}`, map[string]string{"X-Refund-Idempotency": "rfd_keep0000001"})
	if status != 200 || !strings.Contains(body, `"pending"`) {
		t.Fatalf("refund = %d %s", status, body)
	}
	srv.Close()
	s.Close() // writes the state file
	s, srv = open()
	defer func() { srv.Close(); s.Close() }()
	if status, body := call(t, srv, "GET", "/v1/orders/"+orderID+"/payments", "", nil); status != 200 || !strings.Contains(body, paymentID) || !strings.Contains(body, `"captured"`) {
		t.Fatalf("order payments after a restart = %d %s, want the captured payment", status, body)
	}
	if status, body := call(t, srv, "GET", "/v1/payments/"+paymentID, "", nil); status != 200 || !strings.Contains(body, `"amount_refunded":1000`) {
		t.Fatalf("payment after a restart = %d %s, want 1000 refunded", status, body)
	}
	// The same refund key again is the same refund, not a second one.
	if status, body := call(t, srv, "POST", "/v1/payments/"+paymentID+"/refund", `{"amount":1000}`, map[string]string{"X-Refund-Idempotency": "rfd_keep0000001"}); status != 200 || !strings.Contains(body, `"amount":1000`) {
		t.Fatalf("the refund's key again = %d %s", status, body)
	}
	if status, body := call(t, srv, "GET", "/v1/payments/"+paymentID, "", nil); status != 200 || !strings.Contains(body, `"amount_refunded":1000`) {
		t.Fatalf("payment after the key again = %d %s, want still 1000 refunded", status, body)
	}
	// Changes after the restart are written within a second or so.
	_, second := capturedPayment(t, srv, 2500)
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw, _ := os.ReadFile(path)
		if strings.Contains(string(raw), second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s not in the state file after 5 s", second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An unreadable state file is refused.
	bad := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sim.New(sim.Config{KeyID: keyID, KeySecret: keySecret}).Persist(bad); err == nil {
		t.Fatal("an unreadable state file was taken as an empty simulator")
	}
}
