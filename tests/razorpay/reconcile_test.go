package razorpay

import (
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// The webhooks of a captured payment are lost; reconciliation finds the
// capture at the gateway and settles the payment exactly as the webhook
// would have.
func TestLostWebhookSettledByReconciliation(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 8800)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false)
	if len(env.SimDeliveries(t, p.Razorpay.OrderID)) == 0 {
		t.Fatalf("the simulator did not record the lost webhooks")
	}
	got := env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS by reconciliation", isSuccess)
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != p.ID || got.Razorpay.GatewayPaymentID == "" {
		t.Fatalf("bill %+v, payment %+v", b, got)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// An order nobody pays becomes FAILED with reason EXPIRED after its
// lifetime, and frees the bill.
func TestUnpaidOrderExpires(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 990)
	p := env.MustPayRazorpay(t, bill.ID)
	got := env.WaitPayment(t, p.ID, 30*time.Second, "FAILED (EXPIRED)", isFailed)
	if got.FailureReason == nil || *got.FailureReason != "EXPIRED" {
		t.Fatalf("expired payment = %+v", got)
	}
	if env.MustBill(t, bill.ID).Status != "UNPAID" {
		t.Fatalf("an expired order paid the bill")
	}
	if next := env.MustPayRazorpay(t, bill.ID); next.ID == p.ID {
		t.Fatalf("the bill is still held by the expired payment")
	}
}

// payment.captured after payment.failed for the same payment (UPI late
// authorisation): the money is not lost. The bill, still unpaid, becomes
// PAID through a payment linked to the failed one.
func TestLateAuthorisationPaysTheBill(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 2500)
	p := env.MustPayRazorpay(t, bill.ID)
	sp := env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
	env.SimLateCapture(t, sp.Payment.ID)
	failed := env.WaitPayment(t, p.ID, 15*time.Second, "settled by a late capture", func(q harness.Payment) bool { return q.SettledBy != nil })
	late := env.WaitPayment(t, *failed.SettledBy, 15*time.Second, "SUCCESS", isSuccess)
	if failed.Status != "FAILED" || late.LateCaptureOf == nil || *late.LateCaptureOf != p.ID || late.Razorpay.GatewayPaymentID != sp.Payment.ID {
		t.Fatalf("failed %+v, late %+v", failed, late)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != late.ID {
		t.Fatalf("bill = %+v, want PAID by the late payment", b)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// The same, but the bill was paid from the wallet in between: the late
// capture is refunded through the gateway and recorded.
func TestLateAuthorisationAfterTheBillWasPaidIsRefunded(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 10000, 2500)
	p := env.MustPayRazorpay(t, bill.ID)
	sp := env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != 201 {
		t.Fatalf("wallet payment = %d %s", r.Status, r.Body)
	}
	env.SimLateCapture(t, sp.Payment.ID)
	failed := env.WaitPayment(t, p.ID, 15*time.Second, "settled by a late capture", func(q harness.Payment) bool { return q.SettledBy != nil })
	late := env.WaitPayment(t, *failed.SettledBy, 15*time.Second, "FAILED with a refund", func(q harness.Payment) bool { return q.Status == "FAILED" && q.Refund != nil })
	if late.Refund.Amount != 2500 || late.Refund.RefundID == "" {
		t.Fatalf("refund = %+v", late.Refund)
	}
	resp := env.SimDeliveries(t, p.Razorpay.OrderID)
	if len(resp) == 0 {
		t.Fatalf("no deliveries recorded")
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID == late.ID {
		t.Fatalf("bill = %+v, want it paid by the wallet payment", b)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}
