package razorpay

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// A webhook's trace context crosses the pub/sub hop: the payment service
// applies the verified result under the same trace id the webhook came
// with, and the razorpay service counts webhook outcomes in its metrics.
func TestWebhookTraceAndMetrics(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 4200)
	p := env.MustPayRazorpay(t, bill.ID)
	// A real capture at the simulator, its own webhooks lost: FinFlow
	// confirms it with Razorpay's API before it settles.
	gp := env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false).Payment.ID
	body := harness.Webhook("payment.captured", gp, p.Razorpay.OrderID, 4200, "captured")
	traceID := fmt.Sprintf("%032x", time.Now().UnixNano())
	req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/razorpay/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Razorpay-Event-Id", fmt.Sprintf("evt_trace%d", rand.Int64N(1e12)))
	req.Header.Set("X-Razorpay-Signature", env.Sign(body))
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook = %d", resp.StatusCode)
	}
	env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", func(q harness.Payment) bool { return q.Status == "SUCCESS" })

	// The subscription's delivery to the payment service carries the trace.
	confirm := regexp.MustCompile(`"trace_id":"` + traceID + `"[^\n]*"path":"/Payment/confirm"`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Every payment instance's log (payment-2_app.log too on the
		// replica topology): any of them may have taken the delivery.
		var raw []byte
		logs, _ := filepath.Glob(filepath.Join(env.LogDir, "payment*_app.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			raw = append(raw, b...)
		}
		if confirm.Match(raw) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no payment instance's log (%v) has a /Payment/confirm line with the webhook's trace id %s", logs, traceID)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A refused webhook is counted too.
	if r := env.SendWebhook(t, body, "evt_refused", "not-a-signature"); r.Status != http.StatusBadRequest {
		t.Fatalf("forged webhook = %d", r.Status)
	}
	mresp, err := http.Get("http://" + env.Metrics["razorpay"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, outcome := range []string{"accepted", "refused"} {
		if !regexp.MustCompile(`finflow_razorpay_webhooks_total\{outcome="` + outcome + `"\} [1-9]`).Match(raw) {
			t.Errorf("razorpay metrics do not count %s webhooks:\n%s", outcome, grep(string(raw), "finflow_razorpay"))
		}
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
