package razorpay

import (
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// Refunds parked for an operator against the real topology and the
// simulator: parking tells an operator, it does not stop the work. A
// refund Razorpay never answered (NOT_MADE) or never told the status of
// (UNCONFIRMED) is tried again every retry_max_ms and settled when Razorpay
// answers, or by its refund event in any state; its dead letter is then
// marked resolved. None runs in parallel: they set the simulator's faults
// and count its calls.

// resolvedDeadLetter waits for the dead letter eventID to be marked
// resolved, and returns its resolution.
func resolvedDeadLetter(t *testing.T, eventID string) string {
	t.Helper()
	var resolved string
	harness.WaitFor(t, 20*time.Second, "dead letter "+eventID+" resolved", func() bool {
		r := env.Do(t, "GET", "/admin/dead-letters", nil, nil)
		var out struct {
			Items []struct {
				EventID  string `json:"event_id"`
				Resolved string `json:"resolved"`
			} `json:"items"`
		}
		r.JSON(t, &out)
		for _, d := range out.Items {
			if d.EventID == eventID {
				resolved = d.Resolved
			}
		}
		return resolved != ""
	})
	return resolved
}

// refundCallsGrow waits for the simulator's calls of op to pass n: the
// work parked is still tried.
func refundCallsGrow(t *testing.T, op string, n int) {
	t.Helper()
	harness.WaitFor(t, 15*time.Second, "another "+op+" after parking", func() bool { return env.SimCalls(t)[op] > n })
}

// The first case: an admin's refund whose POST refund Razorpay
// answers 503 is parked NOT_MADE after max_attempts, holds its amount (no
// second refund of it), is still tried every retry_max_ms, and once
// Razorpay answers it is made, once, and settled; the bill is REFUNDED and
// the dead letter resolved.
func TestParkedAdminRefundIsMadeWhenRazorpayAnswers(t *testing.T) {
	p := paidByRazorpay(t, 6600)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 503, Match: p.Razorpay.GatewayPaymentID})
	r := refund(t, p.ID, map[string]any{"amount": 6600, "reason": "goodwill"}, nil)
	var rf harness.Refund
	r.JSON(t, &rf)
	if r.Status != 201 || rf.Status != "PENDING" {
		t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
	}
	env.WaitDeadLetter(t, 45*time.Second, "refund_not_made", func(d harness.DeadLetter) bool {
		return d.EventID == "refund_not_made:"+rf.ID
	})
	if got := refundOfPayment(t, p.ID, rf.ID); got.Status != "PENDING" || got.Error == nil || !strings.HasPrefix(*got.Error, "NOT_MADE") {
		t.Fatalf("refund = %+v, want PENDING NOT_MADE", got)
	}
	if again := refund(t, p.ID, map[string]any{"amount": 100, "reason": "again"}, nil); again.Status != 422 || !strings.Contains(string(again.Body), "REFUND_EXCEEDS_PAYMENT") {
		t.Fatalf("a second refund while the parked one holds the amount = %d %s, want 422 REFUND_EXCEEDS_PAYMENT", again.Status, again.Body)
	}
	refundCallsGrow(t, sim.OpRefund, env.SimCalls(t)[sim.OpRefund])
	env.SimClearFaults(t)
	harness.WaitFor(t, 30*time.Second, "the parked refund SUCCESS", func() bool { return refundOfPayment(t, p.ID, rf.ID).Status == "SUCCESS" })
	harness.WaitFor(t, 10*time.Second, "the bill REFUNDED", func() bool { return env.MustBill(t, p.BillID).Status == "REFUNDED" })
	if g := env.SimGetPayment(t, p.Razorpay.GatewayPaymentID); g.AmountRefunded != 6600 {
		t.Fatalf("gateway payment = %+v, want 6600 refunded, once", g)
	}
	resolvedDeadLetter(t, "refund_not_made:"+rf.ID)
}

// The second case: a refund made, its webhook lost, its status
// answered 503 until it is parked UNCONFIRMED; Razorpay says processed
// meanwhile. The status is still asked every retry_max_ms, and the refund
// is SUCCESS once Razorpay answers.
func TestUnconfirmedRefundIsSettledWhenRazorpayAnswers(t *testing.T) {
	holdRefunds(t)
	p := paidByRazorpay(t, 6700)
	r := refund(t, p.ID, map[string]any{"amount": 6700, "reason": "goodwill"}, nil)
	var rf harness.Refund
	r.JSON(t, &rf)
	if r.Status != 201 || rf.Status != "PENDING" {
		t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
	}
	gwRefund := pendingSimRefund(t, p.Razorpay.GatewayPaymentID)
	env.SimFault(t, sim.Fault{Op: sim.OpFetchRefund, Status: 503, Match: gwRefund})
	env.WaitDeadLetter(t, 45*time.Second, "refund_unconfirmed", func(d harness.DeadLetter) bool {
		return d.EventID == "refund_unconfirmed:"+rf.ID
	})
	simSettle(t, gwRefund, "processed", false) // the webhook lost
	refundCallsGrow(t, sim.OpFetchRefund, env.SimCalls(t)[sim.OpFetchRefund])
	if got := refundOfPayment(t, p.ID, rf.ID); got.Status != "PENDING" || got.Error == nil || !strings.HasPrefix(*got.Error, "UNCONFIRMED") {
		t.Fatalf("refund = %+v, want PENDING UNCONFIRMED while Razorpay does not answer", got)
	}
	env.SimClearFaults(t)
	harness.WaitFor(t, 30*time.Second, "the unconfirmed refund SUCCESS", func() bool { return refundOfPayment(t, p.ID, rf.ID).Status == "SUCCESS" })
	harness.WaitFor(t, 10*time.Second, "the bill REFUNDED", func() bool { return env.MustBill(t, p.BillID).Status == "REFUNDED" })
	resolvedDeadLetter(t, "refund_unconfirmed:"+rf.ID)
}

// The third case: a double charge (the bill paid from the wallet,
// then a late capture) whose refund Razorpay answers 503 is parked
// NOT_MADE, the late payment PENDING; it is still tried, and once Razorpay
// answers the capture is given back, once, and the late payment ends
// FAILED BILL_ALREADY_PAID with its refund processed.
func TestParkedCaptureRefundIsMadeWhenRazorpayAnswers(t *testing.T) {
	acc, _, gw := lateCaptureAfterWalletPaid(t, 6800)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 503, Match: gw})
	env.SimLateCapture(t, gw)
	late := env.WaitNewPayment(t, lateID(gw), 45*time.Second, "PENDING with its refund NOT_MADE", func(p harness.Payment) bool {
		return p.Refund != nil && p.Refund.Status == "NOT_MADE"
	})
	if late.Status != "PENDING" {
		t.Fatalf("late payment = %+v, want PENDING while its refund is owed", late)
	}
	env.WaitDeadLetter(t, 10*time.Second, "refund_not_made", func(d harness.DeadLetter) bool { return d.EventID == "refund_not_made:"+late.ID })
	refundCallsGrow(t, sim.OpRefund, env.SimCalls(t)[sim.OpRefund])
	env.SimClearFaults(t)
	late = env.WaitPayment(t, late.ID, 30*time.Second, "FAILED with its refund made", func(p harness.Payment) bool {
		return p.Status == "FAILED" && p.Refund != nil && p.Refund.Status == "processed"
	})
	if late.FailureReason == nil || *late.FailureReason != "BILL_ALREADY_PAID" {
		t.Fatalf("late payment = %+v, want FAILED BILL_ALREADY_PAID", late)
	}
	if g := env.SimGetPayment(t, gw); g.AmountRefunded != 6800 || g.Status != "refunded" {
		t.Fatalf("gateway payment = %+v, want refunded exactly once (6800)", g)
	}
	resolvedDeadLetter(t, "refund_not_made:"+late.ID)
	env.AuditMoney(t, []*harness.Account{acc})
}

// Fault 2: a capture refund recorded NOT_MADE (Razorpay made it, every
// answer was lost) is settled by Razorpay's refund.processed exactly as an
// owed one: the late payment ends FAILED with its refund processed, the
// dead letter is resolved, and the refund is made once.
func TestNotMadeCaptureRefundIsSettledByItsEvent(t *testing.T) {
	holdRefunds(t)
	acc, _, gw := lateCaptureAfterWalletPaid(t, 6900)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 503, After: true, Match: gw}) // made, answer lost
	env.SimLateCapture(t, gw)
	late := env.WaitNewPayment(t, lateID(gw), 45*time.Second, "its refund NOT_MADE", func(p harness.Payment) bool {
		return p.Refund != nil && p.Refund.Status == "NOT_MADE"
	})
	gwRefund := pendingSimRefund(t, gw)
	simSettle(t, gwRefund, "processed", true)
	late = env.WaitPayment(t, late.ID, 30*time.Second, "FAILED with its refund processed", func(p harness.Payment) bool {
		return p.Status == "FAILED" && p.Refund != nil && p.Refund.Status == "processed"
	})
	if late.Refund.RefundID != gwRefund {
		t.Fatalf("late payment's refund = %+v, want Razorpay's %s", late.Refund, gwRefund)
	}
	if g := env.SimGetPayment(t, gw); g.AmountRefunded != 6900 {
		t.Fatalf("gateway payment = %+v, want 6900 refunded, once", g)
	}
	resolvedDeadLetter(t, "refund_not_made:"+late.ID)
	env.AuditMoney(t, []*harness.Account{acc})
}
