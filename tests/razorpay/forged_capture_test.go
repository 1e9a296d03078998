package razorpay

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// The outside tester's reproduction. A customer starts Razorpay payment P
// of a bill (order B) and authorises gateway payment G at Razorpay. A
// correctly signed payment.captured (the test-mode webhook secret) names
// G on another FinFlow order A, a top-up's, and arrives first. No capture
// is trusted on its signature alone: Razorpay's API says G is on order B,
// so the forged capture changes no money (the top-up is not credited) and
// is parked once (capture_mismatch). Then G is captured for real: P ends
// SUCCESS with its bill PAID by it (before, the forged capture bound G to
// order A, credited the top-up, and P stayed PENDING for ever, a dead
// letter every reconciliation round).
func TestForgedCaptureOnAnotherOrderChangesNoMoney(t *testing.T) {
	t.Parallel()
	const amount = 7300
	acc, bill := newBill(t, 0, amount)
	p := env.MustPayRazorpay(t, bill.ID)
	tu := startTopUp(t, acc.UserID, amount, "")
	g := env.SimPay(t, p.Razorpay.OrderID, "authorized", 0, false).Payment.ID

	forged := harness.Webhook("payment.captured", g, tu.Razorpay.OrderID, amount, "captured")
	forgedID := fmt.Sprintf("evt_forged%d", rand.Int64N(1e12))
	if r := env.SendWebhook(t, forged, forgedID, env.Sign(forged)); r.Status != 200 || !strings.Contains(string(r.Body), "accepted") {
		t.Fatalf("the forged, correctly signed capture = %d %s, want 200 accepted (its signature is valid)", r.Status, r.Body)
	}
	parked := env.WaitDeadLetter(t, 15*time.Second, "the forged capture parked", func(d harness.DeadLetter) bool {
		return d.Kind == "capture_mismatch" && d.PaymentID == tu.ID && strings.Contains(d.Reason, g)
	})
	if !strings.Contains(parked.Reason, p.Razorpay.OrderID) || !strings.Contains(parked.Reason, tu.Razorpay.OrderID) {
		t.Errorf("dead letter %q does not name both orders", parked.Reason)
	}
	if got := env.MustGetTopUp(t, tu.ID); got.Status == "SUCCESS" || got.Razorpay.GatewayPaymentID != "" {
		t.Fatalf("top-up = %s by %q after the forged capture, want not credited", got.Status, got.Razorpay.GatewayPaymentID)
	}
	if b := env.MustBalance(t, acc.UserID); b != 0 {
		t.Fatalf("wallet balance = %d after the forged capture, want 0", b)
	}

	env.SimCapture(t, g, amount) // the real capture: the simulator sends payment.captured and order.paid
	env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS", isSuccess)
	got := env.MustPayment(t, p.ID)
	if got.Razorpay == nil || got.Razorpay.GatewayPaymentID != g {
		t.Fatalf("P = %+v, want SUCCESS by %s", got, g)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || b.PaymentID == nil || *b.PaymentID != p.ID {
		t.Fatalf("bill = %+v, want PAID by %s", b, p.ID)
	}
	// Reconciliation rounds (every 500 ms for payments pending 2 s) come
	// and go: none parks anything more about G, and the top-up is never
	// credited by it.
	time.Sleep(3 * time.Second)
	n := 0
	for _, d := range env.DeadLetters(t) {
		if strings.Contains(d.Reason, g) || d.EventID == forgedID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d dead letters about %s, want the one capture_mismatch", n, g)
	}
	if tuNow := env.MustGetTopUp(t, tu.ID); tuNow.Status == "SUCCESS" {
		t.Fatalf("top-up = SUCCESS: credited by another order's capture")
	}
	if b := env.MustBalance(t, acc.UserID); b != 0 {
		t.Fatalf("wallet balance = %d, want 0", b)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}
