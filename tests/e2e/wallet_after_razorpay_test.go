package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// A bill whose claim outlived its Razorpay payment (a wallet payment was
// refused while the Razorpay payment held the bill, so the claim keeps
// that refusal; then the Razorpay payment failed) is paid from the wallet:
// 201 SUCCESS, the bill PAID by it. The wallet payment's latency is logged
// with its request id: it had taken 1.5 to 2.5 s, the payment sidecar
// retrying the claim's state transaction, certain to conflict again
// (store.CreateClaimed's insertAllBudget; the unit test there counts the
// attempts).
func TestWalletPaymentAfterFailedRazorpayPayment(t *testing.T) {
	u := env.MustCreateUser(t, "Wallet After Razorpay", fmt.Sprintf("wallet.after.rzp.%d@example.in", time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 10000, "")
	bill := env.MustCreateBill(t, u.ID, 2500)
	tok := map[string]string{"Authorization": "Bearer " + env.Token(t, u.ID, "user")}
	rzp := env.MustPayRazorpay(t, bill.ID)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, tok); r.Status != 409 || r.ErrorCode() != "BILL_ALREADY_PAID" {
		t.Fatalf("wallet payment while Razorpay payment %s is PENDING = %d %s, want 409 BILL_ALREADY_PAID", rzp.ID, r.Status, r.Body)
	}
	env.SimPay(t, rzp.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, rzp.ID, 15*time.Second, "FAILED", func(q harness.Payment) bool { return q.Status == "FAILED" })
	start := time.Now()
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, tok)
	t.Logf("wallet payment after the failed Razorpay payment %s: %d in %v (request_id %s)", rzp.ID, r.Status, time.Since(start), r.Header.Get("X-Request-Id"))
	var p harness.Payment
	if r.Status != 201 {
		t.Fatalf("wallet payment = %d %s, want 201", r.Status, r.Body)
	}
	r.JSON(t, &p)
	if b := env.MustBill(t, bill.ID); p.Status != "SUCCESS" || b.Status != "PAID" || b.PaymentID == nil || *b.PaymentID != p.ID {
		t.Fatalf("payment %+v, bill %+v: want SUCCESS and the bill PAID by it", p, b)
	}
	if got := env.MustBalance(t, u.ID); got != 7500 {
		t.Fatalf("balance = %d, want 7500", got)
	}
}
