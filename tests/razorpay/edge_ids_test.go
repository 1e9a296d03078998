package razorpay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// What Razorpay did not decide, and ids that are not Razorpay's, through
// the real topology and the simulator. Tests that set simulator faults run
// alone (no t.Parallel) and match their own order or payment.

// A 4xx that is not Razorpay's decision about the order (401: FinFlow's own
// key; an HTML 404 page from a proxy) never fails a payment whose money
// Razorpay captured: reconciliation leaves it PENDING, parks nothing as
// refused, and settles it once Razorpay answers.
func TestReconciliationThroughAnswersThatAreNotDecisions(t *testing.T) {
	cases := []struct {
		name  string
		fault func(orderID string) sim.Fault
		hold  time.Duration // how long the fault is left in place
	}{
		{"401 for two minutes, cleared", func(o string) sim.Fault {
			return sim.Fault{Op: sim.OpOrderPayments, Status: 401, Match: o, ForMS: 120000}
		}, 6 * time.Second},
		{"403", func(o string) sim.Fault { return sim.Fault{Op: sim.OpOrderPayments, Status: 403, Match: o} }, 4 * time.Second},
		{"one HTML 404 page", func(o string) sim.Fault {
			return sim.Fault{Op: sim.OpOrderPayments, Status: 404, HTML: true, Match: o, Count: 1}
		}, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc, bill := newBill(t, 0, int64(6400+i))
			p := env.MustPayRazorpay(t, bill.ID)
			env.SimFault(t, tc.fault(p.Razorpay.OrderID))
			sp := env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false) // webhooks lost
			if tc.hold > 0 {
				// Reconciliation asks after 2 s, every 500 ms; its retries
				// (200 ms doubling, 5 tries) run out within the hold.
				time.Sleep(tc.hold)
				if got := env.MustPayment(t, p.ID); got.Status != "PENDING" {
					t.Fatalf("payment = %s while Razorpay answers %s, want PENDING (its money is captured)", outcome(got), tc.name)
				}
				env.SimClearFaults(t)
			}
			got := env.WaitPayment(t, p.ID, 30*time.Second, "SUCCESS by reconciliation", func(p harness.Payment) bool { return p.Status != "PENDING" })
			if got.Status != "SUCCESS" || got.Razorpay == nil || got.Razorpay.GatewayPaymentID != sp.Payment.ID {
				t.Fatalf("payment = %s, want SUCCESS by %s", outcome(got), sp.Payment.ID)
			}
			if b := env.MustBill(t, bill.ID); b.Status != "PAID" {
				t.Fatalf("bill = %s, want PAID", b.Status)
			}
			for _, d := range env.DeadLetters(t) {
				if d.PaymentID == p.ID && d.Kind == "order_refused" {
					t.Fatalf("parked %+v: Razorpay refused nothing", d)
				}
			}
			env.AuditMoney(t, []*harness.Account{&acc})
		})
	}
}

// outcome says how a payment ended, for failure messages.
func outcome(p harness.Payment) string {
	s := p.Status
	if p.FailureReason != nil {
		s += " " + *p.FailureReason
	}
	if p.GatewayError != nil {
		s += fmt.Sprintf(" (gateway_error %d %s %q)", p.GatewayError.Status, p.GatewayError.Code, p.GatewayError.Description)
	}
	return s
}

// A late capture whose confirmation Razorpay answers 401 (FinFlow's key,
// for a moment) is confirmed once Razorpay answers, and pays the bill: it
// does not end FAILED while its money is captured.
func TestLateCaptureConfirmedThroughA401(t *testing.T) {
	acc, bill := newBill(t, 0, 5400)
	p := env.MustPayRazorpay(t, bill.ID)
	sp := env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
	gw := sp.Payment.ID
	env.SimFault(t, sim.Fault{Op: sim.OpFetchPayment, Status: 401, Match: gw, Count: 2})
	env.SimLateCapture(t, gw)
	late := env.WaitNewPayment(t, lateID(gw), 30*time.Second, "settled", func(p harness.Payment) bool { return p.Status != "PENDING" })
	if late.Status != "SUCCESS" || late.LateCaptureOf == nil || *late.LateCaptureOf != p.ID {
		t.Fatalf("late payment = %s, want SUCCESS standing for %s", outcome(late), gw)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" {
		t.Fatalf("bill = %s, want PAID by the late capture", b.Status)
	}
	if g := env.SimGetPayment(t, gw); g.Status != "captured" || g.AmountRefunded != 0 {
		t.Fatalf("gateway payment = %+v, want captured and kept", g)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// refundEvent is a refund event in Razorpay's envelope with FinFlow's notes.
func refundEvent(event, refundID, gatewayPaymentID, finflowPayment, key string, amount int64) []byte {
	entity := map[string]any{"id": refundID, "entity": "refund", "amount": amount, "currency": "INR", "payment_id": gatewayPaymentID,
		"notes": map[string]string{"finflow_payment_id": finflowPayment, "finflow_refund_key": key}, "status": "processed",
		"speed_processed": "normal", "speed_requested": "normal", "created_at": time.Now().Unix()}
	body, _ := json.Marshal(map[string]any{"entity": "event", "account_id": "acc_FinFlowTest001", "event": event, "contains": []string{"refund", "payment"},
		"payload": map[string]any{"refund": map[string]any{"entity": entity}}, "created_at": time.Now().Unix()})
	return body
}

// A signed event naming an id that is not Razorpay's (an order id with
// "||", which Dapr refuses in a state key; a payment id "x/../y"), or a
// refund whose notes name no FinFlow payment, is answered 200 malformed on
// its first delivery and every redelivery, parked once, and changes nothing:
// the pending payment stays PENDING with no gateway payment, the bill
// UNPAID.
func TestVerifiedEventsWithIDsThatAreNotRazorpays(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 6500)
	p := env.MustPayRazorpay(t, bill.ID)
	gp := fmt.Sprintf("pay_%014d", rand.Int64N(1e14))
	rf := fmt.Sprintf("rfnd_%014d", rand.Int64N(1e14))
	cases := []struct {
		name string
		body []byte
	}{
		{"payment.captured for order_a||b", harness.Webhook("payment.captured", gp, "order_a||b", 6500, "captured")},
		{"payment.captured for ||", harness.Webhook("payment.captured", gp, "||", 6500, "captured")},
		{"payment.failed for order_a||b", harness.Webhook("payment.failed", gp, "order_a||b", 6500, "failed")},
		{"order.paid for ||", harness.Webhook("order.paid", gp, "||", 6500, "captured")},
		{"refund.processed for FinFlow payment pay_a||b", refundEvent("refund.processed", rf, gp, "pay_a||b", "pay_a||b", 6500)},
		{"refund.failed with refund key rfd_a||b", refundEvent("refund.failed", rf, gp, p.ID, "rfd_a||b", 6500)},
		{"payment.captured of x/../y on FinFlow's pending order", harness.Webhook("payment.captured", "x/../y", p.Razorpay.OrderID, 6500, "captured")},
		{"payment.captured of pay_a||b on FinFlow's pending order", harness.Webhook("payment.captured", "pay_a||b", p.Razorpay.OrderID, 6500, "captured")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eventID := fmt.Sprintf("evt_ids%d", rand.Int64N(1e12))
			for i := 0; i < 3; i++ {
				want := "malformed"
				if i > 0 {
					want = "duplicate"
				}
				r := env.SendWebhook(t, tc.body, eventID, env.Sign(tc.body))
				if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"`+want+`"`) {
					t.Fatalf("delivery %d = %d %s, want 200 %s (Razorpay disables a webhook that keeps failing)", i+1, r.Status, r.Body, want)
				}
			}
			env.WaitDeadLetter(t, 10*time.Second, "the malformed event", func(d harness.DeadLetter) bool {
				return d.EventID == eventID && d.Kind == "parked_event" && strings.Contains(d.Reason, "is not a")
			})
		})
	}
	// Nothing was applied, and nothing went to the payment service as a
	// result to apply (no result_gave_up, no refused_result).
	if got := env.MustPayment(t, p.ID); got.Status != "PENDING" || got.Razorpay == nil || got.Razorpay.GatewayPaymentID != "" {
		t.Fatalf("payment = %s with %+v, want PENDING with no gateway payment", got.Status, got.Razorpay)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "UNPAID" {
		t.Fatalf("bill = %s, want UNPAID", b.Status)
	}
	for _, d := range env.DeadLetters(t) {
		if d.Kind != "parked_event" && (d.PaymentID == p.ID || strings.Contains(d.Reason, "||")) {
			t.Fatalf("dead letter %+v: the event reached the payment service as a result", d)
		}
	}
	if !metricAtLeast(t, "razorpay", `finflow_razorpay_webhooks_total{outcome="malformed"}`, float64(len(cases))) {
		t.Errorf("the razorpay service's metrics do not count the malformed deliveries")
	}
	// The same order, paid for real, is still settled by its webhook.
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
	env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS", isSuccess)
	if late := env.Do(t, "GET", "/Payment/"+id.Derive(id.Payment, "late:x/../y"), nil, nil); late.Status != 404 {
		t.Fatalf("a payment stands for x/../y: %d %s", late.Status, late.Body)
	}
}
