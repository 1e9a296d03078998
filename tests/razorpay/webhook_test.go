package razorpay

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

var orderID = regexp.MustCompile(`^order_[0-9A-Za-z]{14}$`)

func isSuccess(p harness.Payment) bool { return p.Status == "SUCCESS" }
func isFailed(p harness.Payment) bool  { return p.Status == "FAILED" }

// The whole happy path: a PENDING payment with its order, the same payment
// when asked again, no wallet payment meanwhile, then the signed webhooks
// make it SUCCESS and the bill PAID, without touching the wallet.
func TestCapturedPayment(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 50000, 12500)
	p := env.MustPayRazorpay(t, bill.ID)
	if p.Status != "PENDING" || p.Method != "RAZORPAY" || !orderID.MatchString(p.Razorpay.OrderID) ||
		p.Razorpay.KeyID != env.Razorpay.KeyID || p.Razorpay.Amount != 12500 || p.Razorpay.Currency != "INR" {
		t.Fatalf("payment = %+v", p)
	}
	if again := env.MustPayRazorpay(t, bill.ID); again.ID != p.ID || again.Razorpay.OrderID != p.Razorpay.OrderID {
		t.Fatalf("asking again gave %s/%s, want the same payment %s/%s", again.ID, again.Razorpay.OrderID, p.ID, p.Razorpay.OrderID)
	}
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusConflict || r.ErrorCode() != "BILL_ALREADY_PAID" {
		t.Fatalf("wallet payment while a Razorpay one is pending = %d %s, want 409", r.Status, r.Body)
	}
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
	got := env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	if got.Razorpay.GatewayPaymentID == "" {
		t.Fatalf("SUCCESS without the gateway payment id: %+v", got)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != p.ID {
		t.Fatalf("bill = %+v, want PAID by %s", b, p.ID)
	}
	if env.MustBalance(t, acc.UserID) != 50000 {
		t.Fatalf("a Razorpay payment touched the wallet")
	}
	for _, d := range env.SimDeliveries(t, p.Razorpay.OrderID) {
		if d.Status != 200 {
			t.Errorf("delivery %s attempt %d answered %d", d.Event, d.Attempt, d.Status)
		}
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

func TestFailedPaymentLeavesTheBillUnpaid(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 3000)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	got := env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
	if got.FailureReason == nil || *got.FailureReason != "PAYMENT_FAILED" {
		t.Fatalf("failed payment = %+v", got)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "UNPAID" {
		t.Fatalf("bill after a failed payment = %s", b.Status)
	}
	// The bill can be paid again, with a new payment and order.
	next := env.MustPayRazorpay(t, bill.ID)
	if next.ID == p.ID || next.Razorpay.OrderID == p.Razorpay.OrderID {
		t.Fatalf("retry reused the failed payment or its order")
	}
	env.SimPay(t, next.Razorpay.OrderID, "captured", 0, true)
	env.WaitPayment(t, next.ID, 15*time.Second, "SUCCESS", isSuccess)
	env.AuditMoney(t, []*harness.Account{&acc})
}

// Every event delivered four times (three duplicates): applied once.
func TestDuplicatedWebhooksApplyOnce(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 4100)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "captured", 3, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	harness.WaitFor(t, 15*time.Second, "all 8 deliveries", func() bool { return len(env.SimDeliveries(t, p.Razorpay.OrderID)) >= 8 })
	time.Sleep(500 * time.Millisecond)
	got := env.MustPayment(t, p.ID)
	if got.Status != "SUCCESS" || got.Refund != nil || got.SettledBy != nil {
		t.Fatalf("after duplicates: %+v, want one plain SUCCESS", got)
	}
	ids := map[string]int{}
	for _, d := range env.SimDeliveries(t, p.Razorpay.OrderID) {
		ids[d.EventID]++
		if d.Status != 200 {
			t.Errorf("delivery of %s answered %d", d.EventID, d.Status)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("deliveries by event id %v, want 2 events each delivered 4 times", ids)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// order.paid before payment.captured, then a stale payment.failed snapshot:
// the payment is SUCCESS once and stays SUCCESS. (The capture is a real one
// at the simulator, whose own webhooks are lost: FinFlow confirms a
// capture with Razorpay's API before it settles anything.)
func TestOutOfOrderWebhooks(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 5200)
	p := env.MustPayRazorpay(t, bill.ID)
	gp := env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false).Payment.ID
	for i, ev := range []struct{ name, status string }{{"order.paid", "captured"}, {"payment.captured", "captured"}, {"payment.failed", "failed"}} {
		body := harness.Webhook(ev.name, gp, p.Razorpay.OrderID, 5200, ev.status)
		if r := env.SendWebhook(t, body, fmt.Sprintf("evt_ooo%d%d", rand.Int64N(1e9), i), env.Sign(body)); r.Status != 200 {
			t.Fatalf("%s = %d %s", ev.name, r.Status, r.Body)
		}
	}
	env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	time.Sleep(time.Second) // let the stale failure be processed
	if got := env.MustPayment(t, p.ID); got.Status != "SUCCESS" {
		t.Fatalf("after a stale payment.failed: %s", got.Status)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// Forged, missing and tampered signatures are 400 and change nothing. A
// repeated event id is 200 and changes nothing.
func TestSignaturesAndReplays(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 6000)
	p := env.MustPayRazorpay(t, bill.ID)
	gp := fmt.Sprintf("pay_%014d", rand.Int64N(1e14))
	body := harness.Webhook("payment.captured", gp, p.Razorpay.OrderID, 6000, "captured")
	eventID := fmt.Sprintf("evt_sig%d", rand.Int64N(1e12))
	forged := func(b []byte) string { return strings.Repeat("ab", 32) }
	tampered := []byte(strings.Replace(string(body), `"amount":6000`, `"amount":1`, 1))
	cases := []struct {
		name      string
		body      []byte
		eventID   string
		signature string
		wantCode  string
	}{
		{"forged signature", body, eventID, forged(body), "INVALID_SIGNATURE"},
		{"missing signature", body, eventID, "", "INVALID_SIGNATURE"},
		{"signature of another body", tampered, eventID, env.Sign(body), "INVALID_SIGNATURE"},
		{"signed with another secret", body, eventID, otherFirstDigit(env.Sign(body)), "INVALID_SIGNATURE"},
		{"not hex", body, eventID, "not-a-signature", "INVALID_SIGNATURE"},
		{"forged garbage", []byte(`{"entity":"thing"}`), eventID, "ab", "INVALID_SIGNATURE"},
	}
	for _, tc := range cases {
		r := env.SendWebhook(t, tc.body, tc.eventID, tc.signature)
		if r.Status != http.StatusBadRequest || r.ErrorCode() != tc.wantCode {
			t.Errorf("%s = %d %s, want 400 %s", tc.name, r.Status, r.Body, tc.wantCode)
		}
	}
	time.Sleep(time.Second)
	if got := env.MustPayment(t, p.ID); got.Status != "PENDING" {
		t.Fatalf("a refused webhook changed the payment: %s", got.Status)
	}
	// The valid webhook names a real capture (FinFlow confirms it with
	// Razorpay's API), made now at the simulator with its own webhooks
	// lost.
	gp = env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false).Payment.ID
	body = harness.Webhook("payment.captured", gp, p.Razorpay.OrderID, 6000, "captured")
	if r := env.SendWebhook(t, body, eventID, env.Sign(body)); r.Status != 200 || !strings.Contains(string(r.Body), "accepted") {
		t.Fatalf("valid webhook = %d %s", r.Status, r.Body)
	}
	env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	if r := env.SendWebhook(t, body, eventID, env.Sign(body)); r.Status != 200 || !strings.Contains(string(r.Body), "duplicate") {
		t.Fatalf("replayed event id = %d %s, want 200 duplicate", r.Status, r.Body)
	}
}

// Webhooks that do not match what FinFlow created are refused by the
// payment service and kept as dead letters; nothing changes.
func TestMismatchesAreDeadLettered(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 7000)
	p := env.MustPayRazorpay(t, bill.ID)
	unknown := harness.Webhook("payment.captured", fmt.Sprintf("pay_%014d", rand.Int64N(1e14)), "order_NotFinFlows0001", 7000, "captured")
	wrongAmount := harness.Webhook("payment.captured", fmt.Sprintf("pay_%014d", rand.Int64N(1e14)), p.Razorpay.OrderID, 6999, "captured")
	idUnknown, idAmount := fmt.Sprintf("evt_unk%d", rand.Int64N(1e12)), fmt.Sprintf("evt_amt%d", rand.Int64N(1e12))
	for id, body := range map[string][]byte{idUnknown: unknown, idAmount: wrongAmount} {
		if r := env.SendWebhook(t, body, id, env.Sign(body)); r.Status != 200 {
			t.Fatalf("signed webhook %s = %d %s, want 200 (it is Razorpay's)", id, r.Status, r.Body)
		}
	}
	harness.WaitFor(t, 15*time.Second, "both results in the dead letters", func() bool {
		found := 0
		for _, d := range env.DeadLetters(t) {
			if d.EventID == idUnknown || d.EventID == idAmount {
				found++
			}
		}
		return found == 2
	})
	if got := env.MustPayment(t, p.ID); got.Status != "PENDING" {
		t.Fatalf("a refused result changed the payment: %s", got.Status)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "UNPAID" {
		t.Fatalf("a refused result paid the bill")
	}
}

// otherFirstDigit returns sig with its first hex digit changed, so it is
// never the signature itself (replacing it with "0" was, 1 time in 16).
func otherFirstDigit(sig string) string {
	if sig[0] == '0' {
		return "1" + sig[1:]
	}
	return "0" + sig[1:]
}
