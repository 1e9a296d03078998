package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A client's W3C trace context follows a payment through the gateway, the
// payment service and the services it calls, and every log line of the
// request carries its trace id.
func TestTraceContextFollowsAPayment(t *testing.T) {
	traceID := fmt.Sprintf("%032x", time.Now().UnixNano())
	payFromNewWallet(t, map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	want := `"trace_id":"` + traceID + `"`
	deadline := time.Now().Add(5 * time.Second)
	for _, app := range []string{"gateway", "payment", "billing", "wallet"} {
		for {
			raw, _ := os.ReadFile(filepath.Join(env.LogDir, app+"_app.log"))
			if strings.Contains(string(raw), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: no log line with the client's trace id %s", app, traceID)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// payFromNewWallet signs up a user with a funded wallet and pays a bill of
// theirs from it, sending header with the payment; it fails the test
// unless the payment is 201.
func payFromNewWallet(t *testing.T, header map[string]string) {
	t.Helper()
	u := env.MustCreateUser(t, "Payer", fmt.Sprintf("payer.%d@example.in", time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 10_000, "topup-"+u.ID)
	bill := env.MustCreateBill(t, u.ID, 1_500)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, header); r.Status != http.StatusCreated {
		t.Fatalf("paying = %d %s", r.Status, r.Body)
	}
}
