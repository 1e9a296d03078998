package razorpay

import (
	"context"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// Reconciliation's interval is a runtime setting: set to an hour while the
// loop waits, it holds reconciliation back; put back to the suite's 500 ms,
// it takes effect while the loop is in the middle of its hour's wait (the
// loop wakes on the settings' change, not when the hour is up). Not
// parallel: an hour's interval would hold up the other tests' payments.
func TestReconcileIntervalChangedWhileWaiting(t *testing.T) {
	ctx := context.Background()
	if err := env.SetSetting(ctx, "payments.reconcile.interval_ms", 3_600_000); err != nil {
		t.Fatalf("SetSetting: %v", err)
	}
	t.Cleanup(func() { _ = env.SetSetting(ctx, "payments.reconcile.interval_ms", 500) })
	time.Sleep(2 * time.Second) // the change reaches the payment service; its loop now waits an hour

	acc, bill := newBill(t, 0, 7300)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false) // every webhook lost
	// Reconciliation asks about a payment PENDING for 2 s (after_ms); at
	// 500 ms rounds it would have settled this one by now.
	time.Sleep(5 * time.Second)
	if got := env.MustPayment(t, p.ID); got.Status != "PENDING" {
		t.Fatalf("payment %s is %s with reconciliation set to every hour; want PENDING (the setting did not take effect)", p.ID, got.Status)
	}
	if err := env.SetSetting(ctx, "payments.reconcile.interval_ms", 500); err != nil {
		t.Fatalf("SetSetting: %v", err)
	}
	env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS by reconciliation once its interval is back to 500 ms", isSuccess)
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != p.ID {
		t.Fatalf("bill %+v", b)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}
