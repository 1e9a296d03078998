package razorpay

import (
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// A capture no webhook reports, on the order of a bill payment or a top-up
// that has already ended FAILED (its first attempt failed), is found by
// the watch of orders and settled as its webhook would have been: the
// bill is paid by it, the top-up credited, once; the money audit holds.
func TestCapturesNoWebhookReportedAfterThePaymentEnded(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 4100)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, p.ID, 20*time.Second, "FAILED", isFailed)
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false) // the customer tries again; its webhooks are lost
	harness.WaitFor(t, 60*time.Second, "bill "+bill.ID+" paid by the capture no webhook reported", func() bool {
		return env.MustBill(t, bill.ID).Status == "PAID"
	})
	paidBy := env.MustBill(t, bill.ID)
	if paidBy.PaymentID == nil || *paidBy.PaymentID == p.ID {
		t.Fatalf("bill = %+v, want it paid by a late payment of its own, not %s", paidBy, p.ID)
	}
	late := env.WaitPayment(t, *paidBy.PaymentID, 20*time.Second, "SUCCESS", isSuccess)
	if late.LateCaptureOf == nil || *late.LateCaptureOf != p.ID {
		t.Fatalf("late payment = %+v, want a late capture of %s", late, p.ID)
	}

	failed := startTopUp(t, acc.UserID, 6100, "")
	env.SimPay(t, failed.Razorpay.OrderID, "failed", 0, true)
	waitTopUp(t, failed.ID, "FAILED", isTopUpFinal)
	env.SimPay(t, failed.Razorpay.OrderID, "captured", 0, false)
	harness.WaitFor(t, 60*time.Second, "the top-up's capture credited", func() bool { return env.MustBalance(t, acc.UserID) == 6100 })
	time.Sleep(3 * time.Second) // later looks credit nothing twice
	if b := env.MustBalance(t, acc.UserID); b != 6100 {
		t.Fatalf("balance = %d, want 6100 once", b)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}
