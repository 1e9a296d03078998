package razorpay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// Admins' refunds against the real topology and the simulator: refund
// results that do not match the refund, an Idempotency-Key used for
// another refund after the gateway lost its record, refused requests that
// must change nothing, and Razorpay's silence or refusals while a refund
// is made or asked about. None runs in parallel: they change the
// simulator's settings or count its calls.

// holdRefunds keeps the simulator's refunds pending until settled by hand,
// for the rest of the test.
func holdRefunds(t *testing.T) {
	t.Helper()
	set := func(ms int) {
		resp, err := http.Post(env.SimURL()+"/sim/settings", "application/json", strings.NewReader(fmt.Sprintf(`{"refund_settle_ms":%d}`, ms)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	set(-1)
	t.Cleanup(func() { set(300) })
}

// paidByRazorpay is a SUCCESS Razorpay payment of a new bill.
func paidByRazorpay(t *testing.T, amount int64) harness.Payment {
	t.Helper()
	_, bill := newBill(t, 0, amount)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
	return env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
}

func refundOfPayment(t *testing.T, paymentID, refundID string) harness.Refund {
	t.Helper()
	for _, r := range env.MustRefunds(t, paymentID) {
		if r.ID == refundID {
			return r
		}
	}
	t.Fatalf("payment %s has no refund %s", paymentID, refundID)
	return harness.Refund{}
}

// refundWebhook is a refund.processed or refund.failed body in Razorpay's
// envelope, naming FinFlow's refund in its notes as FinFlow's refunds do.
func refundWebhook(event, gatewayRefundID, gatewayPaymentID string, amount int64, currency, refundKey, paymentID string) []byte {
	status := "processed"
	if event == "refund.failed" {
		status = "failed"
	}
	entity := map[string]any{"id": gatewayRefundID, "entity": "refund", "amount": amount, "currency": currency, "payment_id": gatewayPaymentID,
		"notes": map[string]any{"finflow_refund_key": refundKey, "finflow_payment_id": paymentID}, "receipt": nil,
		"acquirer_data": map[string]any{"arn": nil}, "created_at": time.Now().Unix(), "batch_id": nil, "status": status,
		"speed_processed": "normal", "speed_requested": "normal"}
	body, _ := json.Marshal(map[string]any{"entity": "event", "account_id": "acc_FinFlowTest001", "event": event,
		"contains": []string{"refund"}, "payload": map[string]any{"refund": map[string]any{"entity": entity}}, "created_at": time.Now().Unix()})
	return body
}

// A signed refund result that does not match the refund FinFlow made
// (the issue's: another Razorpay refund id and amount; 1 USD for a refund
// in INR) is refused and parked as refused_result, and the refund stays
// PENDING; Razorpay's own refund.failed then fails it.
func TestRefundResultNotMatchingTheRefundIsRefused(t *testing.T) {
	holdRefunds(t)
	p := paidByRazorpay(t, 20000)
	r := refund(t, p.ID, map[string]any{"amount": 9900, "reason": "goodwill"}, nil)
	var rf harness.Refund
	r.JSON(t, &rf)
	if r.Status != 201 || rf.Status != "PENDING" {
		t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
	}
	gwRefund := pendingSimRefund(t, p.Razorpay.GatewayPaymentID)
	forged := []struct {
		name, event, gwRefund string
		amount                int64
		currency              string
	}{
		{"another refund id and amount", "refund.processed", "rfnd_FAKEFAKE123456", 100, "INR"},
		{"1 USD", "refund.processed", gwRefund, 1, "USD"},
		{"another amount, failed", "refund.failed", gwRefund, 100, "INR"},
	}
	for i, f := range forged {
		body := refundWebhook(f.event, f.gwRefund, p.Razorpay.GatewayPaymentID, f.amount, f.currency, rf.ID, p.ID)
		eventID := fmt.Sprintf("evt_forged%d%d", i, rand.Int64N(1e12))
		if w := env.SendWebhook(t, body, eventID, env.Sign(body)); w.Status != 200 {
			t.Fatalf("%s: webhook = %d %s, want 200", f.name, w.Status, w.Body)
		}
		env.WaitDeadLetter(t, 15*time.Second, f.name+" refused", func(d harness.DeadLetter) bool {
			return d.Kind == "refused_result" && d.PaymentID == p.ID && d.EventID == eventID
		})
		if got := refundOfPayment(t, p.ID, rf.ID); got.Status != "PENDING" {
			t.Fatalf("%s: refund = %+v, want PENDING still", f.name, got)
		}
		if got := env.MustPayment(t, p.ID); got.AmountRefunded != 0 {
			t.Fatalf("%s: amount_refunded = %d, want 0", f.name, got.AmountRefunded)
		}
	}
	if b := env.MustBill(t, p.BillID); b.Status != "PAID" {
		t.Fatalf("bill = %s, want PAID", b.Status)
	}
	simSettle(t, gwRefund, "failed", true)
	harness.WaitFor(t, 20*time.Second, "Razorpay's own refund.failed to fail the refund", func() bool {
		return refundOfPayment(t, p.ID, rf.ID).Status == "FAILED"
	})
}

// The gateway lost its record of a keyed refund (the issue's: its answer
// was a 503): the same key for another payment, or another amount, is 422
// IDEMPOTENCY_KEY_REUSED and changes nothing; the same request is the same
// refund.
func TestRefundKeyUsedForAnotherRefundAfterTheGatewayLostItsRecord(t *testing.T) {
	acc, billA := newBill(t, 4000, 2000)
	billB := env.MustCreateBill(t, acc.UserID, 2000)
	acc.Bills = append(acc.Bills, billB.ID)
	pay := func(billID string) harness.Payment {
		r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": billID}, nil)
		var p harness.Payment
		r.JSON(t, &p)
		if r.Status != 201 || p.Status != "SUCCESS" {
			t.Fatalf("wallet payment of %s = %d %s", billID, r.Status, r.Body)
		}
		return p
	}
	wa, wb := pay(billA.ID), pay(billB.ID)
	const sub = "admin-refund-faults"
	key := fmt.Sprintf("refund-key-%d", rand.Int64())
	hdr := map[string]string{"Authorization": "Bearer " + env.Token(t, sub, "admin"), "Idempotency-Key": key}
	first := refund(t, wa.ID, map[string]any{"amount": 1000, "reason": "first"}, hdr)
	var r1 harness.Refund
	first.JSON(t, &r1)
	if first.Status != 201 || r1.Status != "SUCCESS" {
		t.Fatalf("first refund = %d %s", first.Status, first.Body)
	}
	balance := env.MustBalance(t, acc.UserID)
	cases := []struct {
		name    string
		payment string
		body    map[string]any
	}{
		{"another payment (the issue's)", wb.ID, map[string]any{"amount": 1000, "reason": "second"}},
		{"another payment, the same body", wb.ID, map[string]any{"amount": 1000, "reason": "first"}},
		{"another amount", wa.ID, map[string]any{"amount": 500, "reason": "first"}},
	}
	for _, tc := range cases {
		env.ForgetIdempotencyKey(t, strings.TrimPrefix(hdr["Authorization"], "Bearer "), key) // the service decides, not the gateway's record
		r := refund(t, tc.payment, tc.body, hdr)
		if r.Status != 422 || r.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" || !strings.Contains(string(r.Body), "different refund") {
			t.Fatalf("%s: refund = %d %s, want 422 IDEMPOTENCY_KEY_REUSED", tc.name, r.Status, r.Body)
		}
	}
	if n := len(env.MustRefunds(t, wb.ID)); n != 0 {
		t.Fatalf("payment %s has %d refunds, want none", wb.ID, n)
	}
	if got := env.MustPayment(t, wb.ID); got.AmountRefunded != 0 {
		t.Fatalf("payment %s amount_refunded = %d, want 0", wb.ID, got.AmountRefunded)
	}
	if b := env.MustBalance(t, acc.UserID); b != balance {
		t.Fatalf("balance = %d, want %d unchanged", b, balance)
	}
	env.ForgetIdempotencyKey(t, strings.TrimPrefix(hdr["Authorization"], "Bearer "), key)
	again := refund(t, wa.ID, map[string]any{"amount": 1000, "reason": "first"}, hdr)
	var r2 harness.Refund
	again.JSON(t, &r2)
	if again.Status != 201 || r2.ID != r1.ID || r2.Status != "SUCCESS" || len(env.MustRefunds(t, wa.ID)) != 1 {
		t.Fatalf("the same request again = %d %s, want refund %s", again.Status, again.Body, r1.ID)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// A refund request refused with 404 changes nothing: the unknown payment
// is not put in the pending index (reconciliation looked for it every
// round).
func TestRefundOfAnUnknownPaymentChangesNothing(t *testing.T) {
	const unknown = "pay_11111111111111111111111111"
	paidByRazorpay(t, 6050) // so that the pending index has shards to look in
	if r := refund(t, unknown, map[string]any{"amount": 100, "reason": "x"}, nil); r.Status != 404 || r.ErrorCode() != "PAYMENT_NOT_FOUND" {
		t.Fatalf("refund of %s = %d %s, want 404", unknown, r.Status, r.Body)
	}
	shards := env.StateValues(t, "payment", "pending/")
	if len(shards) == 0 {
		t.Fatal("no pending index shards to look in")
	}
	for k, v := range shards {
		if strings.Contains(v, unknown) {
			t.Fatalf("%s holds %s after a 404", k, unknown)
		}
	}
}

// Razorpay answers 503 to every refund of a payment: the refund is tried
// max_attempts times (5 in this suite) with backoff, then parked as
// refund_not_made, and stays PENDING recorded NOT_MADE.
func TestAdminRefundNeverAnsweredIsParked(t *testing.T) {
	p := paidByRazorpay(t, 6100)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 503, Match: p.Razorpay.GatewayPaymentID})
	before := env.SimCalls(t)[sim.OpRefund]
	r := refund(t, p.ID, map[string]any{"amount": 6100, "reason": "goodwill"}, nil)
	var rf harness.Refund
	r.JSON(t, &rf)
	if r.Status != 201 || rf.Status != "PENDING" {
		t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
	}
	env.WaitDeadLetter(t, 45*time.Second, "refund_not_made", func(d harness.DeadLetter) bool {
		return d.Kind == "refund_not_made" && d.PaymentID == p.ID && strings.Contains(d.Reason, rf.ID)
	})
	if got := env.SimCalls(t)[sim.OpRefund] - before; got < 5 {
		t.Fatalf("the refund API was called %d times before parking, want the 5 of the bound", got)
	}
	got := refundOfPayment(t, p.ID, rf.ID)
	if got.Status != "PENDING" || got.Error == nil || !strings.HasPrefix(*got.Error, "NOT_MADE") || !strings.Contains(*got.Error, "5 tries") {
		t.Fatalf("refund = %+v, want PENDING, NOT_MADE after 5 tries", got)
	}
	// Parked is not given up: once Razorpay answers, the refund is made
	// (and this test leaves no work behind for the next one).
	env.SimClearFaults(t)
	harness.WaitFor(t, 30*time.Second, "the parked refund made and settled", func() bool {
		return refundOfPayment(t, p.ID, rf.ID).Status == "SUCCESS"
	})
	if g := env.SimGetPayment(t, p.Razorpay.GatewayPaymentID); g.AmountRefunded != 6100 {
		t.Fatalf("gateway payment = %+v, want refunded once (6100)", g)
	}
}

// Razorpay refuses to tell the status of a refund it made: asked once,
// parked as refund_unconfirmed, never asked again; the refund stays
// PENDING and Razorpay's refund.processed settles it.
func TestRefundStatusRefusedIsParkedAndTheEventSettlesIt(t *testing.T) {
	holdRefunds(t)
	p := paidByRazorpay(t, 6200)
	r := refund(t, p.ID, map[string]any{"amount": 6200, "reason": "goodwill"}, nil)
	var rf harness.Refund
	r.JSON(t, &rf)
	if r.Status != 201 || rf.Status != "PENDING" {
		t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
	}
	gwRefund := pendingSimRefund(t, p.Razorpay.GatewayPaymentID)
	env.SimFault(t, sim.Fault{Op: sim.OpFetchRefund, Status: 400, Match: gwRefund})
	before := env.SimCalls(t)[sim.OpFetchRefund]
	env.WaitDeadLetter(t, 30*time.Second, "refund_unconfirmed", func(d harness.DeadLetter) bool {
		return d.Kind == "refund_unconfirmed" && d.PaymentID == p.ID && strings.Contains(d.Reason, rf.ID)
	})
	time.Sleep(3 * time.Second)
	if got := env.SimCalls(t)[sim.OpFetchRefund] - before; got != 1 {
		t.Fatalf("the refund's status was asked %d times, want once", got)
	}
	if got := refundOfPayment(t, p.ID, rf.ID); got.Status != "PENDING" {
		t.Fatalf("refund = %+v, want PENDING", got)
	}
	simSettle(t, gwRefund, "processed", true)
	harness.WaitFor(t, 20*time.Second, "refund.processed to settle the refund", func() bool {
		return refundOfPayment(t, p.ID, rf.ID).Status == "SUCCESS"
	})
	harness.WaitFor(t, 10*time.Second, "the bill REFUNDED", func() bool { return env.MustBill(t, p.BillID).Status == "REFUNDED" })
}

// Razorpay refuses an admin's refund: FAILED at once with Razorpay's answer
// structured as a payment's is (gateway_error), never tried again.
func TestRefusedAdminRefundCarriesRazorpaysAnswer(t *testing.T) {
	p := paidByRazorpay(t, 6300)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 400, Match: p.Razorpay.GatewayPaymentID})
	before := env.SimCalls(t)[sim.OpRefund]
	r := refund(t, p.ID, map[string]any{"amount": 6300, "reason": "goodwill"}, nil)
	var rf struct {
		harness.Refund
		GatewayError *struct {
			Op          string `json:"op"`
			Status      int    `json:"status"`
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"gateway_error"`
	}
	r.JSON(t, &rf)
	if g := rf.GatewayError; r.Status != 201 || rf.Status != "FAILED" || g == nil || g.Status != 400 || g.Code != "BAD_REQUEST_ERROR" || g.Description == "" || !strings.Contains(g.Op, rf.ID) {
		t.Fatalf("refused refund = %d %s, want 201 FAILED with Razorpay's 400 in gateway_error", r.Status, r.Body)
	}
	time.Sleep(3 * time.Second)
	if got := env.SimCalls(t)[sim.OpRefund] - before; got != 1 {
		t.Fatalf("the refund API was called %d times, want once", got)
	}
}
