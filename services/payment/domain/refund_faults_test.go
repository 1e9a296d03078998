package domain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/services/payment/domain"
	"github.com/finflow/finflow/services/payment/store"
)

// Admins' refunds: results and answers that do not match the refund, an
// Idempotency-Key used for another refund, requests refused, and
// Razorpay's silence or refusals while a refund is made or asked about.

var admin = auth.Caller{Signed: true, Identity: auth.Identity{Sub: "ops", Role: auth.RoleAdmin}}

// adapterRazorpay is fakeRazorpay with the razorpay service's refunds of
// admins' refunds: made once per key, answered with the key, FinFlow's
// payment and Razorpay's status (pending unless status says otherwise);
// twist, when set, changes every answer about them.
type adapterRazorpay struct {
	*fakeRazorpay
	status string
	made   map[string]contract.Refund // by key
	twist  func(contract.Refund) contract.Refund
}

func newAdapterRazorpay(f *fakeRazorpay) *adapterRazorpay {
	return &adapterRazorpay{fakeRazorpay: f, status: "pending", made: map[string]contract.Refund{}}
}

func (a *adapterRazorpay) Refund(ctx context.Context, req contract.RefundRequest) (contract.Refund, error) {
	if req.Key == "" {
		return a.fakeRazorpay.Refund(ctx, req)
	}
	if err := a.answer("refund"); err != nil {
		return contract.Refund{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.made[req.Key]
	if !ok {
		r = contract.Refund{RefundID: fmt.Sprintf("rfnd_A%013d", len(a.made)+1), Key: req.Key, PaymentID: req.PaymentID,
			GatewayPaymentID: req.GatewayPaymentID, Amount: req.Amount, Status: a.status}
		a.made[req.Key] = r
	}
	if a.twist != nil {
		r = a.twist(r)
	}
	return r, nil
}

func (a *adapterRazorpay) RefundStatus(_ context.Context, key string) (contract.Refund, error) {
	if err := a.answer("refund_status"); err != nil {
		return contract.Refund{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.made[key]
	if !ok {
		return contract.Refund{}, contract.ErrGatewayRefused.With("no such refund", nil)
	}
	if a.twist != nil {
		r = a.twist(r)
	}
	return r, nil
}

// settleAt makes Razorpay's refund with key processed or failed.
func (a *adapterRazorpay) settleAt(key, status string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.made[key]
	r.Status = status
	a.made[key] = r
}

// refundWorld is a razorpayWorld whose Razorpay makes admins' refunds,
// with a SUCCESS Razorpay payment pid of 2500 INR, captured as pay_RR.
type refundWorld struct {
	*razorpayWorld
	rf  *adapterRazorpay
	pid string
}

func newRefundWorld(t *testing.T) *refundWorld {
	t.Helper()
	w := &refundWorld{razorpayWorld: newRazorpayWorld(t), pid: id.New(id.Payment)}
	w.rf = newAdapterRazorpay(w.rzp)
	w.pr.Gateway = w.rf
	ctx := context.Background()
	w.bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	p, err := w.pr.PayWithRazorpay(ctx, "bill_2", w.pid, "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	w.rzp.payments["pay_RR"] = domain.GatewayPayment{ID: "pay_RR", OrderID: p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	out, reason, err := w.pr.ApplyResult(ctx, domain.GatewayResult{EventID: "evt_RR", Event: "payment.captured", Status: contract.ResultCaptured,
		OrderID: p.Razorpay.OrderID, GatewayPaymentID: "pay_RR", PaymentID: w.pid, Amount: 2500, Currency: "INR"})
	if err != nil || out != domain.Applied || w.settle(t, w.pid).Status != domain.Success {
		t.Fatalf("capture of %s = %v, %v (%s); want SUCCESS", w.pid, out, err, reason)
	}
	return w
}

func amountOf(n int64) *money.Amount { a := money.Amount(n); return &a }

// refund asks for a refund of P as an admin and wants it recorded.
func (w *refundWorld) refund(t *testing.T, paymentID string, amount int64, key string) domain.RefundRecord {
	t.Helper()
	r, _, err := w.pr.RequestRefund(context.Background(), admin, domain.RefundRequest{PaymentID: paymentID, Amount: amountOf(amount), Reason: "goodwill", IdempotencyToken: key})
	if err != nil {
		t.Fatalf("RequestRefund(%s, %d) = %v", paymentID, amount, err)
	}
	return r
}

func (w *refundWorld) refundOf(t *testing.T, paymentID, refundID string) domain.RefundRecord {
	t.Helper()
	for _, r := range w.get(t, paymentID).Refunds {
		if r.ID == refundID {
			return r
		}
	}
	t.Fatalf("payment %s has no refund %s", paymentID, refundID)
	return domain.RefundRecord{}
}

// result delivers a verified refund result for payment P.
func (w *refundWorld) result(t *testing.T, eventID, status, refundKey, gatewayRefundID string, amount int64, currency string) (domain.Outcome, string) {
	t.Helper()
	event := "refund.processed"
	if status == contract.ResultRefundFailed {
		event = "refund.failed"
	}
	out, reason, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: eventID, Event: event, Status: status,
		GatewayPaymentID: "pay_RR", PaymentID: w.pid, Amount: amount, Currency: currency, RefundKey: refundKey, GatewayRefundID: gatewayRefundID})
	if err != nil {
		t.Fatalf("ApplyResult(%s) = %v", eventID, err)
	}
	return out, reason
}

func (w *refundWorld) round(t *testing.T) {
	t.Helper()
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	if err := w.pr.ReconcileOnce(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

func (w *refundWorld) parkedAs(t *testing.T, eventID string) (domain.DeadLetter, bool) {
	t.Helper()
	for _, d := range w.deadLetters(t) {
		if d.EventID == eventID {
			return d, true
		}
	}
	return domain.DeadLetter{}, false
}

// The examples and every other result that does not match the
// refund FinFlow made: refused (Rejected, parked refused_result), the
// refund untouched; then Razorpay's own result settles it.
func TestRefundResultsThatDoNotMatchAreRefused(t *testing.T) {
	cases := []struct {
		name     string
		gwRefund string // "" for the refund's own Razorpay id
		amount   int64
		currency string
	}{
		{"another refund id, another amount (the issue's)", "rfnd_FAKEFAKE123456", 100, "INR"},
		{"another refund id, the same amount", "rfnd_FAKEFAKE123456", 2000, "INR"},
		{"1 USD (the issue's)", "", 1, "USD"},
		{"another amount", "", 100, "INR"},
		{"more than the refund", "", 2500, "INR"},
		{"another currency", "", 2000, "USD"},
		{"no currency", "", 2000, ""},
	}
	for _, status := range []string{contract.ResultRefunded, contract.ResultRefundFailed} {
		for _, tc := range cases {
			t.Run(status+"/"+tc.name, func(t *testing.T) {
				w := newRefundWorld(t)
				r := w.refund(t, w.pid, 2000, "")
				if r.Status != domain.Pending || r.GatewayRefundID == "" {
					t.Fatalf("refund = %+v, want PENDING, made at Razorpay", r)
				}
				gwRefund := tc.gwRefund
				if gwRefund == "" {
					gwRefund = r.GatewayRefundID
				}
				out, reason := w.result(t, "evt_forged", status, r.ID, gwRefund, tc.amount, tc.currency)
				if out != domain.Rejected {
					t.Fatalf("ApplyResult(%s %d %s) = %v (%s), want Rejected", gwRefund, tc.amount, tc.currency, out, reason)
				}
				if d, ok := w.parkedAs(t, "evt_forged"); !ok || d.Kind != domain.ParkRefusedResult {
					t.Fatalf("dead letter of the result = %+v (%v), want %s", d, ok, domain.ParkRefusedResult)
				}
				p := w.get(t, w.pid)
				if got := w.refundOf(t, w.pid, r.ID); got.Status != domain.Pending || p.AmountRefunded() != 0 || w.bank.refunded["bill_2"] {
					t.Fatalf("after the refused result: refund %s, %d refunded, bill refunded %v; want PENDING, 0, false", got.Status, p.AmountRefunded(), w.bank.refunded["bill_2"])
				}
				// Razorpay's own result still settles it.
				want := domain.Success
				if status == contract.ResultRefundFailed {
					want = domain.Failed
				}
				if out, reason := w.result(t, "evt_real", status, r.ID, r.GatewayRefundID, 2000, "INR"); out != domain.Applied {
					t.Fatalf("Razorpay's own result = %v (%s), want Applied", out, reason)
				}
				if got := w.refundOf(t, w.pid, r.ID); got.Status != want {
					t.Fatalf("refund after Razorpay's own result = %s, want %s", got.Status, want)
				}
			})
		}
	}
}

// Results of a refund whose Razorpay id FinFlow does not know yet (the
// answer to making it was lost) are checked by amount and currency, and
// the first that matches records the id; a result contradicting a settled
// refund is refused; the same verdict again changes nothing.
func TestRefundResultsBeforeTheAnswerAndAfterTheVerdict(t *testing.T) {
	w := newRefundWorld(t)
	w.rzp.silent["refund"] = true
	r := w.refund(t, w.pid, 2000, "")
	if r.GatewayRefundID != "" || r.Status != domain.Pending {
		t.Fatalf("refund = %+v, want PENDING, not known to be made", r)
	}
	if out, _ := w.result(t, "evt_small", contract.ResultRefunded, r.ID, "rfnd_X", 1999, "INR"); out != domain.Rejected {
		t.Fatalf("a result of 1999 for a refund of 2000 = %v, want Rejected", out)
	}
	if out, _ := w.result(t, "evt_ok", contract.ResultRefunded, r.ID, "rfnd_X", 2000, "INR"); out != domain.Applied {
		t.Fatalf("the matching result = %v, want Applied", out)
	}
	got := w.refundOf(t, w.pid, r.ID)
	if got.Status != domain.Success || got.GatewayRefundID != "rfnd_X" {
		t.Fatalf("refund = %+v, want SUCCESS as rfnd_X", got)
	}
	if out, _ := w.result(t, "evt_again", contract.ResultRefunded, r.ID, "rfnd_X", 2000, "INR"); out != domain.Applied {
		t.Fatalf("the same verdict again = %v, want Applied", out)
	}
	if out, _ := w.result(t, "evt_contra", contract.ResultRefundFailed, r.ID, "rfnd_X", 2000, "INR"); out != domain.Rejected {
		t.Fatalf("refund.failed of a SUCCESS refund = %v, want Rejected", out)
	}
	if d, ok := w.parkedAs(t, "evt_contra"); !ok || d.Kind != domain.ParkRefusedResult {
		t.Fatalf("the contradicting result is not parked: %+v", w.deadLetters(t))
	}
	if got := w.refundOf(t, w.pid, r.ID); got.Status != domain.Success || w.get(t, w.pid).AmountRefunded() != 2000 {
		t.Fatalf("refund = %s, want SUCCESS still", got.Status)
	}
}

// The capture given back (the key is the payment's own id) is held to
// the same rule: another amount, currency or Razorpay refund is refused.
func TestGivenBackRefundResultsThatDoNotMatchAreRefused(t *testing.T) {
	w := newRefundWorld(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	late := w.settle(t, lateID("pay_S"))
	if late.Refund == nil || late.Refund.RefundID == "" {
		t.Fatalf("late capture = %+v, want refunded", late.Refund)
	}
	for _, tc := range []struct {
		name, gwRefund string
		amount         int64
		currency       string
	}{
		{"another refund id", "rfnd_FAKEFAKE123456", 2500, "INR"},
		{"another amount", late.Refund.RefundID, 1, "INR"},
		{"another currency", late.Refund.RefundID, 2500, "USD"},
	} {
		out, _, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: "evt_" + tc.name, Event: "refund.failed", Status: contract.ResultRefundFailed,
			GatewayPaymentID: "pay_S", PaymentID: late.ID, Amount: tc.amount, Currency: tc.currency, RefundKey: late.ID, GatewayRefundID: tc.gwRefund})
		if err != nil || out != domain.Rejected {
			t.Fatalf("%s: ApplyResult = %v, %v; want Rejected", tc.name, out, err)
		}
		if d, ok := w.parkedAs(t, "evt_"+tc.name); !ok || d.Kind != domain.ParkRefusedResult {
			t.Fatalf("%s: not parked as refused_result", tc.name)
		}
	}
	if got := w.get(t, late.ID); got.Refund.Status != late.Refund.Status {
		t.Fatalf("refund given back = %s, want %s still", got.Refund.Status, late.Refund.Status)
	}
}

// Razorpay's answers about an admin's refund (making it, reconciliation
// asking its status) that do not match it are parked as refused_result and
// count as no answer: the refund is untouched.
func TestRefundAnswersThatDoNotMatchAreRefused(t *testing.T) {
	twists := []struct {
		name  string
		twist func(contract.Refund) contract.Refund
	}{
		{"another refund id", func(r contract.Refund) contract.Refund { r.RefundID = "rfnd_FAKEFAKE123456"; return r }},
		{"another amount", func(r contract.Refund) contract.Refund { r.Amount = 1; return r }},
		{"another key", func(r contract.Refund) contract.Refund { r.Key = id.New(id.Refund); return r }},
		{"another payment", func(r contract.Refund) contract.Refund { r.PaymentID = "pay_other"; return r }},
		{"another gateway payment", func(r contract.Refund) contract.Refund { r.GatewayPaymentID = "pay_other"; return r }},
	}
	for _, tc := range twists {
		t.Run("status/"+tc.name, func(t *testing.T) {
			w := newRefundWorld(t)
			r := w.refund(t, w.pid, 2000, "")
			w.rf.settleAt(r.ID, "processed")
			w.rf.twist = tc.twist
			w.clock.add(time.Minute)
			w.round(t)
			got := w.refundOf(t, w.pid, r.ID)
			if got.Status != domain.Pending || got.GatewayRefundID != r.GatewayRefundID || got.GatewayRetries != 1 {
				t.Fatalf("refund = %+v, want PENDING as %s, one retry", got, r.GatewayRefundID)
			}
			if d := w.deadLetters(t); len(d) != 1 || d[0].Kind != domain.ParkRefusedResult {
				t.Fatalf("dead letters = %+v, want one refused_result", d)
			}
		})
	}
	// Making it: only a twist that tells it from the refund asked for
	// applies (its Razorpay id is not known yet).
	for _, tc := range twists[1:] {
		t.Run("made/"+tc.name, func(t *testing.T) {
			w := newRefundWorld(t)
			w.rf.status, w.rf.twist = "processed", tc.twist
			r := w.refund(t, w.pid, 2000, "")
			if r.Status != domain.Pending || r.GatewayRefundID != "" || r.GatewayRetries != 1 || w.get(t, w.pid).AmountRefunded() != 0 {
				t.Fatalf("refund = %+v, want PENDING, not known to be made, one retry", r)
			}
			if d := w.deadLetters(t); len(d) != 1 || d[0].Kind != domain.ParkRefusedResult {
				t.Fatalf("dead letters = %+v, want one refused_result", d)
			}
		})
	}
}

// An Idempotency-Key binds its refund id to one payment and one request:
// the same key for another payment (the issue's: the gateway kept no
// record), another amount, reason or no amount is 422
// IDEMPOTENCY_KEY_REUSED and changes nothing; the same request again is
// the same refund, even after a crash between binding and recording.
func TestKeyedRefundIsBoundToItsPaymentAndRequest(t *testing.T) {
	ctx := context.Background()
	w := newRefundWorld(t)
	w.bank.balance["usr_a"] = 10_000
	pay := func(bill string) string {
		w.bank.bills[bill] = &domain.Bill{ID: bill, UserID: "usr_a", Amount: 3000, Currency: "INR"}
		p, err := w.pr.PayFromWallet(ctx, bill, "", "")
		if err != nil || p.Status != domain.Success {
			t.Fatalf("PayFromWallet(%s) = %s, %v", bill, p.Status, err)
		}
		return p.ID
	}
	wa, wb := pay("bill_wa"), pay("bill_wb")
	const key = "tok-K"
	// The wallet is down: the first refund stays PENDING (the 503 of the
	// issue), and is made later.
	w.bank.walletDown = true
	first, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wa, Amount: amountOf(1000), Reason: "first", IdempotencyToken: key})
	if err != nil || first.Status != domain.Pending {
		t.Fatalf("first refund = %+v, %v; want PENDING", first, err)
	}
	w.bank.walletDown = false
	cases := []struct {
		name    string
		payment string
		amount  *money.Amount
		reason  string
	}{
		{"another wallet payment (the issue's)", wb, amountOf(1000), "second"},
		{"another payment, the same body", wb, amountOf(1000), "first"},
		{"a Razorpay payment", w.pid, amountOf(1000), "first"},
		{"another amount", wa, amountOf(500), "first"},
		{"another reason", wa, amountOf(1000), "second"},
		{"no amount", wa, nil, "first"},
	}
	for _, tc := range cases {
		r, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: tc.payment, Amount: tc.amount, Reason: tc.reason, IdempotencyToken: key})
		if !errors.Is(err, domain.ErrKeyReused) || !strings.Contains(err.Error(), "different refund") {
			t.Fatalf("%s: RequestRefund = %+v, %v; want IDEMPOTENCY_KEY_REUSED for a different refund", tc.name, r, err)
		}
	}
	if n := w.rf.count("refund"); n != 0 {
		t.Fatalf("Razorpay was asked %d refunds, want none", n)
	}
	for _, pid := range []string{wb, w.pid} {
		if p := w.get(t, pid); len(p.Refunds) != 0 {
			t.Fatalf("payment %s has refunds %+v, want none", pid, p.Refunds)
		}
	}
	// The same request again is the same refund, and makes it.
	again, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wa, Amount: amountOf(1000), Reason: "first", IdempotencyToken: key})
	if err != nil || again.ID != first.ID || again.Status != domain.Success {
		t.Fatalf("the same request again = %+v, %v; want %s SUCCESS", again, err, first.ID)
	}
	if got := w.bank.credits[first.ID]; got != 1000 || len(w.get(t, wa).Refunds) != 1 {
		t.Fatalf("credited %d for %s with %d refunds, want 1000 in one", got, first.ID, len(w.get(t, wa).Refunds))
	}
	// A crash after the binding, before the refund was recorded: the
	// retry of the same request on the same payment goes through; another
	// payment is refused.
	claims := w.pr.Store.(*store.Store)
	const key2 = "tok-K2"
	if _, err := claims.ClaimRefund(ctx, id.Derive(id.Refund, key2), domain.RefundClaim{PaymentID: wb, Request: "700|crash"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wa, Amount: amountOf(700), Reason: "crash", IdempotencyToken: key2}); !errors.Is(err, domain.ErrKeyReused) {
		t.Fatalf("the key bound to %s used for %s = %v, want IDEMPOTENCY_KEY_REUSED", wb, wa, err)
	}
	r, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wb, Amount: amountOf(700), Reason: "crash", IdempotencyToken: key2})
	if err != nil || r.Status != domain.Success || r.ID != id.Derive(id.Refund, key2) {
		t.Fatalf("the retry after the crash = %+v, %v; want SUCCESS", r, err)
	}
}

// A refund request that is refused changes nothing: not even the pending
// index (the issue's: an unknown payment was tracked, and reconciliation
// looked for it every round).
func TestRefusedRefundRequestsChangeNothing(t *testing.T) {
	ctx := context.Background()
	w := newRefundWorld(t)
	w.bank.balance["usr_a"] = 500
	w.bank.bills["bill_short"] = &domain.Bill{ID: "bill_short", UserID: "usr_a", Amount: 900, Currency: "INR"}
	failed, _ := w.pr.PayFromWallet(ctx, "bill_short", "", "")
	if failed.Status != domain.Failed {
		t.Fatalf("payment of a short wallet = %s, want FAILED", failed.Status)
	}
	if _, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(500), Reason: "bound", IdempotencyToken: "tok-bound"}); err != nil {
		t.Fatal(err)
	}
	if err := w.pr.RecoverOnce(ctx, immediately); err != nil {
		t.Fatal(err)
	}
	before, err := w.pr.Store.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  domain.RefundRequest
		want error
	}{
		{"an unknown payment (the issue's)", domain.RefundRequest{PaymentID: "pay_11111111111111111111111111", Reason: "x"}, domain.ErrPaymentNotFound},
		{"an unknown payment, keyed", domain.RefundRequest{PaymentID: id.New(id.Payment), Reason: "x", IdempotencyToken: "tok-404"}, domain.ErrPaymentNotFound},
		{"a FAILED payment", domain.RefundRequest{PaymentID: failed.ID, Reason: "x"}, domain.ErrNotRefundable},
		{"more than is left", domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(2001), Reason: "x"}, domain.ErrRefundExceeds},
		{"more than is left, keyed", domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(2001), Reason: "x", IdempotencyToken: "tok-422"}, domain.ErrRefundExceeds},
		{"a key used for another refund", domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(1), Reason: "x", IdempotencyToken: "tok-bound"}, domain.ErrKeyReused},
	}
	for _, tc := range cases {
		if _, _, err := w.pr.RequestRefund(ctx, admin, tc.req); !errors.Is(err, tc.want) {
			t.Fatalf("%s: RequestRefund = %v, want %v", tc.name, err, tc.want)
		}
		after, err := w.pr.Store.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("%s: pending index %v, want %v as before", tc.name, after, before)
		}
		if _, tracked := after[tc.req.PaymentID]; tracked && tc.req.PaymentID != w.pid {
			t.Fatalf("%s: %s tracked", tc.name, tc.req.PaymentID)
		}
	}
	// A refused key is not bound: it can be used for the right request.
	if _, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(100), Reason: "y", IdempotencyToken: "tok-422"}); err != nil {
		t.Fatalf("the key of a refused request, used again = %v", err)
	}
}

// An admin's refund Razorpay does not answer is tried again after the
// policy's backoff, at most MaxAttempts times, with the refund's retries
// and the payment's history saying so; then it stays PENDING (holding its
// amount: the answer may have been lost), recorded NOT_MADE and parked as
// refund_not_made, and is still tried every retry_max. Razorpay's event
// settles it.
func TestUnansweredAdminRefundIsRetriedWithBackoffThenParked(t *testing.T) {
	w := newRefundWorld(t)
	w.rzp.silent["refund"] = true
	r := w.refund(t, w.pid, 2000, "")
	if r.Status != domain.Pending || r.GatewayRetries != 1 {
		t.Fatalf("refund = %+v, want PENDING after one try", r)
	}
	for try := 2; try <= 4; try++ {
		for i := 0; i < 3; i++ {
			w.round(t) // not due yet
		}
		if n := w.rf.count("refund"); n != try-1 {
			t.Fatalf("before try %d: %d tries, want %d (the backoff)", try, n, try-1)
		}
		w.clock.add(time.Duration(1<<(try-2)) * time.Second)
		w.round(t)
		if n := w.rf.count("refund"); n != try {
			t.Fatalf("after the backoff: %d tries, want %d", n, try)
		}
	}
	got := w.refundOf(t, w.pid, r.ID)
	if got.Status != domain.Pending || got.Parked != domain.ParkRefundNotMade || !strings.HasPrefix(got.Error, "NOT_MADE") {
		t.Fatalf("refund after every try = %+v, want PENDING, NOT_MADE, parked", got)
	}
	if d, ok := w.parkedAs(t, domain.ParkRefundNotMade+":"+r.ID); !ok || d.PaymentID != w.pid {
		t.Fatalf("no refund_not_made dead letter: %+v", w.deadLetters(t))
	}
	if h := fmt.Sprint(w.get(t, w.pid).History); !strings.Contains(h, "try 3 of 4") || !strings.Contains(h, "NOT_MADE") {
		t.Fatalf("history %s, want each try and the parking", h)
	}
	w.round(t)
	if n := w.rf.count("refund"); n != 4 {
		t.Fatalf("%d tries right after it was parked, want 4", n)
	}
	w.clock.add(8 * time.Second)
	w.round(t)
	if n := w.rf.count("refund"); n != 5 {
		t.Fatalf("%d tries once retry_max passed after it was parked, want 5", n)
	}
	if got := w.refundOf(t, w.pid, r.ID); got.Parked != domain.ParkRefundNotMade || !got.RetryAt.Equal(w.clock.Now().Add(8*time.Second)) {
		t.Fatalf("refund after a try while parked = %+v, want parked, next try after 8 s", got)
	}
	if _, _, err := w.pr.RequestRefund(context.Background(), admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(501), Reason: "more"}); !errors.Is(err, domain.ErrRefundExceeds) {
		t.Fatalf("refunding more than the parked refund leaves = %v, want REFUND_EXCEEDS_PAYMENT", err)
	}
	if out, _ := w.result(t, "evt_late", contract.ResultRefunded, r.ID, "rfnd_late", 2000, "INR"); out != domain.Applied {
		t.Fatalf("Razorpay's event for the parked refund = %v, want Applied", out)
	}
	if got := w.refundOf(t, w.pid, r.ID); got.Status != domain.Success || got.Error != "" {
		t.Fatalf("refund = %+v, want SUCCESS", got)
	}
}

// Razorpay's definite refusal of an admin's refund ends it FAILED with
// Razorpay's structured answer, tried once.
func TestRefusedAdminRefundFailsWithRazorpaysAnswer(t *testing.T) {
	w := newRefundWorld(t)
	w.rzp.refuse["refund"] = "The refund amount provided is greater than amount captured"
	r := w.refund(t, w.pid, 2000, "")
	g := r.GatewayError
	if r.Status != domain.Failed || g == nil || g.Status != 400 || g.Code != "BAD_REQUEST_ERROR" || !strings.Contains(g.Description, "greater than") || !strings.Contains(r.Error, "Razorpay refused it") {
		t.Fatalf("refused refund = %+v (gateway error %+v), want FAILED with Razorpay's answer", r, g)
	}
	w.clock.add(time.Hour)
	w.round(t)
	if n := w.rf.count("refund"); n != 1 {
		t.Fatalf("%d tries of a refused refund, want 1", n)
	}
}

// Once made, a refund's status is asked for after a backoff (not every
// round); no answer is tried again, MaxAttempts times, then parked
// refund_unconfirmed and asked about again every retry_max; a refusal to
// tell parks it at once and it is not asked again. Either way the refund
// stays PENDING for Razorpay's event.
func TestRefundStatusAskedWithBackoffThenParked(t *testing.T) {
	t.Run("pending", func(t *testing.T) {
		w := newRefundWorld(t)
		r := w.refund(t, w.pid, 2000, "")
		// The refund's own work (Kick) makes it at Razorpay in the
		// background: the clock moves on only once that work has recorded
		// its backoff (on a loaded machine it could otherwise record it
		// from the clock already moved).
		for i := 0; i < 2000 && w.refundOf(t, w.pid, r.ID).GatewayRefundID == ""; i++ {
			time.Sleep(time.Millisecond)
		}
		for i := 0; i < 3; i++ {
			w.round(t)
		}
		if n := w.rf.count("refund_status"); n != 0 {
			t.Fatalf("%d status asks before the backoff, want 0", n)
		}
		w.clock.add(time.Second)
		// A round finds the payment's work still held by the background
		// work's last steps now and then: rounds until one asks.
		for i := 0; i < 200 && w.rf.count("refund_status") < 1; i++ {
			w.round(t)
			time.Sleep(2 * time.Millisecond)
		}
		if n := w.rf.count("refund_status"); n != 1 {
			t.Fatalf("%d status asks after one backoff, want 1", n)
		}
		w.rf.settleAt(r.ID, "processed")
		w.clock.add(2 * time.Second)
		w.round(t)
		if got := w.refundOf(t, w.pid, r.ID); got.Status != domain.Success {
			t.Fatalf("refund = %s, want SUCCESS once Razorpay says processed", got.Status)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		w := newRefundWorld(t)
		r := w.refund(t, w.pid, 2000, "")
		w.rzp.silent["refund_status"] = true
		for i := 0; i < 10; i++ {
			w.clock.add(10 * time.Second)
			w.round(t)
		}
		// 1+2+4 s to the 4th ask (parked at 40 s), then one ask every 8 s
		// (10 s rounds) after it.
		if n := w.rf.count("refund_status"); n != 10 {
			t.Fatalf("%d status asks, want 10 (MaxAttempts, then one a round)", n)
		}
		got := w.refundOf(t, w.pid, r.ID)
		if got.Status != domain.Pending || got.Parked != domain.ParkRefundUnconfirmed || !strings.HasPrefix(got.Error, "UNCONFIRMED") {
			t.Fatalf("refund = %+v, want PENDING, parked refund_unconfirmed", got)
		}
		if _, ok := w.parkedAs(t, domain.ParkRefundUnconfirmed+":"+r.ID); !ok {
			t.Fatalf("no refund_unconfirmed dead letter: %+v", w.deadLetters(t))
		}
		if out, _ := w.result(t, "evt_done", contract.ResultRefunded, r.ID, r.GatewayRefundID, 2000, "INR"); out != domain.Applied {
			t.Fatalf("Razorpay's event = %v, want Applied", out)
		}
	})
	t.Run("refused", func(t *testing.T) {
		w := newRefundWorld(t)
		r := w.refund(t, w.pid, 2000, "")
		w.rzp.refuse["refund_status"] = "The id provided does not exist"
		for i := 0; i < 5; i++ {
			w.clock.add(10 * time.Second)
			w.round(t)
		}
		if n := w.rf.count("refund_status"); n != 1 {
			t.Fatalf("%d status asks refused, want 1", n)
		}
		if d := w.deadLetters(t); len(d) != 1 {
			t.Fatalf("dead letters = %+v, want one refund_unconfirmed", d)
		}
		got := w.refundOf(t, w.pid, r.ID)
		if got.Status != domain.Pending || got.Parked != domain.ParkRefundUnconfirmed || got.GatewayError == nil || got.GatewayError.Status != 400 {
			t.Fatalf("refund = %+v, want PENDING, parked with Razorpay's refusal", got)
		}
	})
}

// A retry of gateway work is made when its RetryAt comes, by the process
// that recorded it, without waiting for reconciliation (which first looks
// at a refund only after payments.reconcile.after_ms: an admin's refund
// that met a Razorpay 503 was tried again 30 s later, not after
// payments.gateway.retry_base_ms). No ReconcileOnce here: only the retry's
// own timer can make the second try.
func TestRetryMadeWhenDueWithoutReconciliation(t *testing.T) {
	w := newRefundWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.pr.Now, w.pr.Background = time.Now, ctx // the retry's timer runs on real time
	w.pr.Retry.Base = func() time.Duration { return 200 * time.Millisecond }
	w.rzp.mu.Lock()
	w.rzp.silent["refund"] = true
	w.rzp.mu.Unlock()
	w.rf.status = "processed"
	r := w.refund(t, w.pid, 2000, "")
	deadline := time.Now().Add(10 * time.Second)
	for w.rzp.count("refund") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the refund was never tried")
		}
		time.Sleep(time.Millisecond)
	}
	w.rzp.mu.Lock()
	w.rzp.silent["refund"] = false
	w.rzp.mu.Unlock()
	for w.refundOf(t, w.pid, r.ID).Status != domain.Success {
		if time.Now().After(deadline) {
			t.Fatalf("refund %+v after %d tries: never tried again without reconciliation", w.refundOf(t, w.pid, r.ID), w.rzp.count("refund"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
