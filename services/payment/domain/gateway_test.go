package domain_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/payment/domain"
)

// fakeRazorpay is the razorpay service as the payment service sees it: the
// gateway payments Razorpay knows, the refunds it made, and switches that
// make a call refuse (a definite answer) or not answer. Unit tests of the
// gateway work only; the Razorpay suite runs the real adapter and simulator.
type fakeRazorpay struct {
	mu       sync.Mutex
	payments map[string]domain.GatewayPayment
	refunds  map[string]contract.Refund // by FinFlow payment
	calls    map[string]int
	// refuse and silent make the named call ("refund", "payment",
	// "order_payments") refuse with Razorpay's words, or not answer.
	refuse map[string]string
	silent map[string]bool
	// block, when set, holds every call until it is closed.
	block chan struct{}
	// answers makes the named call answer this error (the razorpay
	// service's own 401, 404 ROUTE_NOT_FOUND...).
	answers map[string]error
	// wrongOnce is what the next GET of a gateway payment answers instead
	// of the truth, once (a wrong answer from Razorpay's API).
	wrongOnce map[string]domain.GatewayPayment
}

func newRazorpay() *fakeRazorpay {
	return &fakeRazorpay{payments: map[string]domain.GatewayPayment{}, refunds: map[string]contract.Refund{},
		calls: map[string]int{}, refuse: map[string]string{}, silent: map[string]bool{}, answers: map[string]error{},
		wrongOnce: map[string]domain.GatewayPayment{}}
}

func (f *fakeRazorpay) answer(call string) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[call]++
	if d, ok := f.refuse[call]; ok {
		return contract.ErrGatewayRefused.With("Razorpay refused: "+d, map[string]any{
			contract.GatewayStatus: 400.0, contract.GatewayCode: "BAD_REQUEST_ERROR", contract.GatewayDescription: d})
	}
	if f.silent[call] {
		return errDown
	}
	return f.answers[call]
}

func (f *fakeRazorpay) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeRazorpay) CreateOrder(_ context.Context, paymentID string, amount int64, currency string) (domain.RazorpayOrder, error) {
	if err := f.answer("create_order"); err != nil {
		return domain.RazorpayOrder{}, err
	}
	return domain.RazorpayOrder{OrderID: "order_" + paymentID, KeyID: "rzp_test", Amount: amount, Currency: currency}, nil
}

func (f *fakeRazorpay) OrderPayments(_ context.Context, orderID string) ([]domain.GatewayPayment, error) {
	if err := f.answer("order_payments"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []domain.GatewayPayment
	for _, p := range f.payments {
		if p.OrderID == orderID {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeRazorpay) Payment(_ context.Context, gw string) (domain.GatewayPayment, error) {
	if err := f.answer("payment"); err != nil {
		return domain.GatewayPayment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if wrong, ok := f.wrongOnce[gw]; ok {
		delete(f.wrongOnce, gw)
		return wrong, nil
	}
	p, ok := f.payments[gw]
	if !ok {
		return domain.GatewayPayment{}, contract.ErrGatewayRefused.With("Razorpay refused: The id provided does not exist",
			map[string]any{contract.GatewayStatus: 400.0, contract.GatewayCode: "BAD_REQUEST_ERROR", contract.GatewayDescription: "The id provided does not exist"})
	}
	return p, nil
}

func (f *fakeRazorpay) Refund(_ context.Context, req contract.RefundRequest) (contract.Refund, error) {
	if err := f.answer("refund"); err != nil {
		return contract.Refund{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	paymentID, gw, amount := req.PaymentID, req.GatewayPaymentID, req.Amount
	if req.Key != "" {
		paymentID = req.Key
	}
	if r, ok := f.refunds[paymentID]; ok {
		return r, nil
	}
	p := f.payments[gw]
	p.AmountRefunded += amount
	p.Status = "refunded"
	f.payments[gw] = p
	r := contract.Refund{RefundID: fmt.Sprintf("rfnd_%014d", len(f.refunds)+1), PaymentID: paymentID, GatewayPaymentID: gw, Amount: amount, Status: "processed"}
	f.refunds[paymentID] = r
	return r, nil
}

func (f *fakeRazorpay) RefundStatus(_ context.Context, key string) (contract.Refund, error) {
	if err := f.answer("refund_status"); err != nil {
		return contract.Refund{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.refunds[key]
	if !ok {
		return contract.Refund{}, contract.ErrGatewayRefused.With("no such refund", nil)
	}
	return r, nil
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// razorpayWorld is a processor over a fake bank, a fake Razorpay and a
// clock, with a paid bill: payment P captured pay_R through the webhook.
// The clock runs an hour ahead of the store's own, which stamps the pending
// index, so every indexed payment is old enough for reconciliation.
type razorpayWorld struct {
	pr     *domain.Processor
	bank   *fakeBank
	rzp    *fakeRazorpay
	clock  *clock
	parked []string
	paid   domain.Payment // P, SUCCESS by pay_R
	mu     sync.Mutex
}

func newRazorpayWorld(t *testing.T) *razorpayWorld {
	t.Helper()
	w := &razorpayWorld{bank: newBank(), rzp: newRazorpay(), clock: &clock{now: time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)}}
	w.pr = newProcessor(w.bank)
	w.pr.Gateway, w.pr.Now = w.rzp, w.clock.Now
	w.pr.Retry = domain.RetryPolicy{
		Base:        func() time.Duration { return time.Second },
		Max:         func() time.Duration { return 8 * time.Second },
		MaxAttempts: func() int { return 4 },
	}
	w.pr.OnParked = func(kind string) { w.mu.Lock(); w.parked = append(w.parked, kind); w.mu.Unlock() }
	w.bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	ctx := context.Background()
	p, err := w.pr.PayWithRazorpay(ctx, "bill_1", "pay_P", "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	w.rzp.payments["pay_R"] = domain.GatewayPayment{ID: "pay_R", OrderID: p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.apply(t, "evt_R", "pay_R", contract.ResultCaptured)
	w.paid = w.settle(t, "pay_P") // confirmed with Razorpay by the gateway work, then settled
	if w.paid.Status != domain.Success {
		t.Fatalf("P = %s, want SUCCESS", w.paid.Status)
	}
	return w
}

// apply delivers a verified result for P's order naming gateway payment gw.
func (w *razorpayWorld) apply(t *testing.T, eventID, gw, status string) domain.Outcome {
	t.Helper()
	p := w.get(t, "pay_P")
	out, reason, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: eventID, Event: "payment." + status, Status: status,
		OrderID: p.Razorpay.OrderID, GatewayPaymentID: gw, PaymentID: "pay_P", Amount: 2500, Currency: "INR"})
	if err != nil {
		t.Fatalf("ApplyResult(%s) = %v (%s)", gw, err, reason)
	}
	return out
}

func (w *razorpayWorld) get(t *testing.T, paymentID string) domain.Payment {
	t.Helper()
	p, err := w.pr.Store.Get(context.Background(), paymentID)
	if err != nil {
		t.Fatalf("Get(%s) = %v", paymentID, err)
	}
	return p
}

// settle waits for the background gateway work (Kick) of a payment to end
// with it final, driving due retries through reconciliation.
func (w *razorpayWorld) settle(t *testing.T, paymentID string) domain.Payment {
	t.Helper()
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	for i := 0; i < 200; i++ {
		if p := w.get(t, paymentID); p.Status != domain.Pending {
			// Its work ends in the background: the test goes on from a
			// quiet processor (no try of it left to race the clock).
			if !w.pr.WaitIdle() {
				t.Fatalf("the gateway work of %s did not end", paymentID)
			}
			return w.get(t, paymentID)
		}
		time.Sleep(5 * time.Millisecond)
		if err := w.pr.ReconcileOnce(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("payment %s still PENDING: %+v", paymentID, w.get(t, paymentID))
	return domain.Payment{}
}

func (w *razorpayWorld) deadLetters(t *testing.T) []domain.DeadLetter {
	t.Helper()
	d, err := w.pr.Store.DeadLetters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func lateID(gw string) string { return id.Derive(id.Payment, "late:"+gw) }

// The example: after P is SUCCESS by pay_R, a signed capture on the
// same order names a gateway payment Razorpay never made. The late payment
// for it is settled only by that gateway payment: Razorpay does not know
// it, so the late payment fails and is parked; pay_R is never refunded,
// not by the late payment, not by reconciliation.
func TestLateCaptureSettledOnlyByItsOwnGatewayPayment(t *testing.T) {
	w := newRazorpayWorld(t)
	if out := w.apply(t, "evt_fake", "pay_FAKE0000000001", contract.ResultCaptured); out != domain.Applied {
		t.Fatalf("the forged capture was %v, want applied (recorded as a late payment)", out)
	}
	late := w.settle(t, lateID("pay_FAKE0000000001"))
	if late.Status != domain.Failed || late.FailureReason != domain.ReasonGatewayRefused || late.GatewayError == nil ||
		!strings.Contains(late.GatewayError.Description, "does not exist") || late.Refund != nil {
		t.Fatalf("late payment = %+v, want FAILED GATEWAY_REFUSED naming Razorpay's answer, no refund", late)
	}
	for i := 0; i < 3; i++ { // reconciliation rounds later
		w.clock.add(time.Minute)
		w.settle(t, lateID("pay_FAKE0000000001"))
	}
	w.rzp.mu.Lock()
	payR := w.rzp.payments["pay_R"]
	w.rzp.mu.Unlock()
	if n := w.rzp.count("refund"); n != 0 || payR.AmountRefunded != 0 {
		t.Fatalf("%d refunds made; pay_R = %+v: the money that paid the bill went back", n, payR)
	}
	if p := w.get(t, "pay_P"); p.Status != domain.Success || p.SettledBy != "" || !w.bank.bills["bill_1"].Paid {
		t.Fatalf("P = %+v, bill %+v; want P SUCCESS, untouched, and the bill PAID", p, w.bank.bills["bill_1"])
	}
	if d := w.deadLetters(t); len(d) != 1 || d[0].Kind != domain.ParkCaptureUnknown || d[0].PaymentID != late.ID {
		t.Fatalf("dead letters = %+v, want the unconfirmed capture parked", d)
	}
}

// A real second capture on a paid order: confirmed by Razorpay, it cannot
// pay the bill, so exactly it (never pay_R) is refunded.
func TestSecondCaptureRefundedAlone(t *testing.T) {
	w := newRazorpayWorld(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	late := w.settle(t, lateID("pay_S"))
	if late.Status != domain.Failed || late.FailureReason != domain.ReasonBillAlreadyPaid || late.Refund == nil || late.Refund.RefundID == "" {
		t.Fatalf("late payment = %+v, want FAILED with its refund made", late)
	}
	w.rzp.mu.Lock()
	r, payR := w.rzp.refunds[late.ID], w.rzp.payments["pay_R"]
	w.rzp.mu.Unlock()
	if r.GatewayPaymentID != "pay_S" || payR.AmountRefunded != 0 {
		t.Fatalf("refund %+v; pay_R %+v: want only pay_S refunded", r, payR)
	}
	// The original learns of it right after the late payment is final.
	var p domain.Payment
	for i := 0; i < 200; i++ {
		if p = w.get(t, "pay_P"); p.SettledBy != "" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p.SettledBy != late.ID {
		t.Fatalf("P.SettledBy = %q, want %s", p.SettledBy, late.ID)
	}
}

// Late captures Razorpay reports for another order, amount or state are
// never settled, and parked.
func TestLateCaptureThatRazorpayDescribesOtherwise(t *testing.T) {
	cases := []struct {
		name   string
		gp     domain.GatewayPayment
		reason string
		parked string
	}{
		{"another order", domain.GatewayPayment{OrderID: "order_other", Status: "captured", Amount: 2500, Currency: "INR"}, domain.ReasonCaptureMismatch, domain.ParkCaptureMismatch},
		{"another amount", domain.GatewayPayment{Status: "captured", Amount: 100, Currency: "INR"}, domain.ReasonCaptureMismatch, domain.ParkCaptureMismatch},
		{"only authorized", domain.GatewayPayment{Status: "authorized", Amount: 2500, Currency: "INR"}, domain.ReasonCaptureMismatch, domain.ParkCaptureMismatch},
		{"refunded from the dashboard", domain.GatewayPayment{Status: "refunded", Amount: 2500, AmountRefunded: 2500, Currency: "INR"}, domain.ReasonRefundedAtGateway, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newRazorpayWorld(t)
			gp := tc.gp
			gp.ID = "pay_X"
			if gp.OrderID == "" {
				gp.OrderID = w.paid.Razorpay.OrderID
			}
			w.rzp.payments["pay_X"] = gp
			w.apply(t, "evt_X", "pay_X", contract.ResultCaptured)
			late := w.settle(t, lateID("pay_X"))
			if late.Status != domain.Failed || late.FailureReason != tc.reason || w.rzp.count("refund") != 0 {
				t.Fatalf("late payment = %+v (%d refunds), want FAILED %s and no refund", late, w.rzp.count("refund"), tc.reason)
			}
			d := w.deadLetters(t)
			if tc.parked == "" && len(d) != 0 || tc.parked != "" && (len(d) != 1 || d[0].Kind != tc.parked) {
				t.Fatalf("dead letters = %+v, want %q", d, tc.parked)
			}
		})
	}
}

// A refund Razorpay refuses (the merchant refunded from the dashboard) ends
// the work: the payment FAILED with Razorpay's answer, parked, the refund
// API called once, never again, and nothing else refunded.
func TestRefusedRefundIsParkedNotRetried(t *testing.T) {
	w := newRazorpayWorld(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.rzp.refuse["refund"] = "The payment has been fully refunded already."
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	late := w.settle(t, lateID("pay_S"))
	for i := 0; i < 5; i++ {
		w.clock.add(time.Hour)
		w.settle(t, lateID("pay_S"))
		w.apply(t, fmt.Sprintf("evt_S_again%d", i), "pay_S", contract.ResultCaptured)
	}
	if late.Status != domain.Failed || late.Refund == nil || late.Refund.Status != domain.RefundRefused || late.GatewayError == nil ||
		late.GatewayError.Description != "The payment has been fully refunded already." {
		t.Fatalf("late payment = %+v, want FAILED with its refund REFUSED and Razorpay's words", late)
	}
	if n := w.rzp.count("refund"); n != 1 {
		t.Fatalf("the refund API was called %d times, want once", n)
	}
	if d := w.deadLetters(t); len(d) != 1 || d[0].Kind != domain.ParkRefundRefused || !strings.Contains(d[0].Reason, "fully refunded already") {
		t.Fatalf("dead letters = %+v, want one refund_refused naming Razorpay's answer", d)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.parked) != 1 || w.parked[0] != domain.ParkRefundRefused {
		t.Fatalf("parked metric = %v, want one refund_refused", w.parked)
	}
}

// A refund Razorpay does not answer is retried with backoff (never before
// its time) and a bound; then it is parked as not made, once, and still
// tried every retry_max: the payment stays PENDING until Razorpay makes it,
// and the dead letter is resolved then.
func TestUnansweredRefundRetriedWithBackoffThenParked(t *testing.T) {
	w := newRazorpayWorld(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.rzp.silent["refund"] = true
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	ctx := context.Background()
	waitCalls := func(n int) {
		t.Helper()
		for i := 0; i < 400 && w.rzp.count("refund") < n; i++ {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCalls(1)
	var late domain.Payment
	for i := 0; i < 400; i++ { // the try is recorded right after the call
		if late = w.get(t, lateID("pay_S")); late.GatewayRetries == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Not due yet: reconciliation leaves it alone.
	for i := 0; i < 3; i++ {
		if err := w.pr.ReconcileOnce(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.rzp.count("refund"); n != 1 || late.Status != domain.Pending || late.GatewayRetries != 1 || !late.RetryAt.Equal(w.clock.Now().Add(time.Second)) {
		t.Fatalf("after one unanswered refund: %d calls, %+v; want 1 call, PENDING, retry after 1 s", n, late)
	}
	for calls, wait := 2, time.Second; calls <= 4; calls, wait = calls+1, wait*2 {
		w.clock.add(wait)
		// The work of the try before may still be ending in the background
		// (and hold the payment): rounds until one makes the call.
		for i := 0; i < 200 && w.rzp.count("refund") < calls; i++ {
			if err := w.pr.ReconcileOnce(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if n := w.rzp.count("refund"); n != calls {
			t.Fatalf("after waiting %s: %d refund calls, want %d", wait, n, calls)
		}
	}
	late = w.get(t, lateID("pay_S"))
	if late.Status != domain.Pending || late.Refund.Status != domain.RefundNotMade || !late.RetryAt.Equal(w.clock.Now().Add(8*time.Second)) {
		t.Fatalf("after the last try: %+v, want PENDING with the refund NOT_MADE, tried again after 8 s", late)
	}
	if d := w.deadLetters(t); len(d) != 1 || d[0].Kind != domain.ParkRefundNotMade || d[0].Resolved != "" {
		t.Fatalf("dead letters = %+v, want refund_not_made", d)
	}
	// Parked, still tried: not before retry_max, then every retry_max.
	for calls := 5; calls <= 6; calls++ {
		if err := w.pr.ReconcileOnce(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if n := w.rzp.count("refund"); n != calls-1 {
			t.Fatalf("before retry_max: %d refund calls, want %d", n, calls-1)
		}
		w.clock.add(8 * time.Second)
		for i := 0; i < 200 && w.rzp.count("refund") < calls; i++ {
			if err := w.pr.ReconcileOnce(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if n := w.rzp.count("refund"); n != calls {
			t.Fatalf("parked, after retry_max: %d refund calls, want %d", n, calls)
		}
	}
	if d := w.deadLetters(t); len(d) != 1 {
		t.Fatalf("dead letters = %+v, want the one refund_not_made", d)
	}
	// Razorpay answers again: the refund is made, the payment ends.
	w.rzp.mu.Lock()
	w.rzp.silent["refund"] = false
	w.rzp.mu.Unlock()
	w.clock.add(8 * time.Second)
	late = w.settle(t, lateID("pay_S"))
	if late.Status != domain.Failed || late.FailureReason != domain.ReasonBillAlreadyPaid || late.Refund.Status != "processed" || late.Refund.Error != "" {
		t.Fatalf("once Razorpay answers: %+v (refund %+v), want FAILED BILL_ALREADY_PAID with the refund processed", late, late.Refund)
	}
	if d := w.deadLetters(t); len(d) != 1 || d[0].Resolved == "" || d[0].ResolvedAt.IsZero() {
		t.Fatalf("dead letters = %+v, want refund_not_made resolved", d)
	}
}

// The subscriber never waits on Razorpay: a late capture is recorded and
// acknowledged while its confirmation is still stuck at the gateway.
func TestResultsDoNotWaitForRazorpay(t *testing.T) {
	w := newRazorpayWorld(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	before := w.rzp.count("payment") // P's own capture was confirmed
	w.rzp.block = make(chan struct{})
	if out := w.apply(t, "evt_S", "pay_S", contract.ResultCaptured); out != domain.Applied {
		t.Fatalf("ApplyResult = %v, want applied", out)
	}
	if n := w.rzp.count("payment") - before; n != 0 {
		t.Fatalf("Razorpay answered %d calls while blocked", n)
	}
	if p := w.get(t, lateID("pay_S")); p.Status != domain.Pending {
		t.Fatalf("late payment %s before Razorpay answered", p.Status)
	}
	close(w.rzp.block)
	if late := w.settle(t, lateID("pay_S")); late.Refund == nil || late.Refund.RefundID == "" {
		t.Fatalf("late payment = %+v, want refunded once Razorpay answered", late)
	}
}

// A result FinFlow cannot apply (billing down) is retried, but only up to
// the delivery bound; then it is parked and dropped.
func TestResultDeliveriesAreBounded(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	pr := newProcessor(bank)
	rzp := newRazorpay()
	pr.Gateway = rzp
	pr.MaxResultDeliveries = func() int { return 3 }
	pr.Retry.Base = func() time.Duration { return time.Hour } // the gateway work does not try again by itself
	p, err := pr.PayWithRazorpay(ctx, "bill_1", "pay_P", "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	rzp.payments["pay_R"] = domain.GatewayPayment{ID: "pay_R", OrderID: p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	bank.mu.Lock()
	bank.billingDown = true
	bank.mu.Unlock()
	// The capture is confirmed and recorded by the gateway work, which
	// cannot settle it; its results then fail to apply (billing down).
	r := domain.GatewayResult{EventID: "evt_0", Status: contract.ResultCaptured, OrderID: p.Razorpay.OrderID, GatewayPaymentID: "pay_R", PaymentID: "pay_P", Amount: 2500, Currency: "INR"}
	if out, _, err := pr.ApplyResult(ctx, r); err != nil || out != domain.Applied {
		t.Fatalf("first result = %v, %v", out, err)
	}
	for i := 0; ; i++ {
		if got, _ := pr.Store.Get(ctx, "pay_P"); got.Razorpay.GatewayPaymentID == "pay_R" {
			break
		} else if i == 1000 {
			t.Fatal("the capture was never confirmed and recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.EventID = "evt_1"
	for i := 1; i <= 3; i++ {
		out, _, err := pr.ApplyResult(ctx, r)
		if i < 3 && err == nil || i == 3 && (err != nil || out != domain.Rejected) {
			t.Fatalf("delivery %d = %v, %v; want an error before the bound, then Rejected", i, out, err)
		}
	}
	if d, _ := pr.Store.DeadLetters(ctx); len(d) != 1 || d[0].Kind != domain.ParkResultGaveUp {
		t.Fatalf("dead letters = %+v, want result_gave_up", d)
	}
	// The payment is still PENDING: reconciliation settles it from Razorpay.
	if got, _ := pr.Store.Get(ctx, "pay_P"); got.Status != domain.Pending {
		t.Fatalf("payment = %s, want still PENDING", got.Status)
	}
	if d, _ := pr.DeadLetters(ctx, admin); len(d) != 1 || d[0].Resolved != "" {
		t.Fatalf("dead letters = %+v, want it open while the payment is PENDING", d)
	}
	// Billing is back and the result delivered again: once the payment
	// has ended, the dead letter reads resolved.
	bank.mu.Lock()
	bank.billingDown = false
	bank.mu.Unlock()
	if _, _, err := pr.ApplyResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := pr.Store.Get(ctx, "pay_P"); got.Status != domain.Success {
		t.Fatalf("payment = %s, want SUCCESS", got.Status)
	}
	if d, _ := pr.DeadLetters(ctx, admin); len(d) != 1 || !strings.Contains(d[0].Resolved, "ended SUCCESS") || d[0].ResolvedAt.IsZero() {
		t.Fatalf("dead letters = %+v, want it resolved", d)
	}
	if d, _ := pr.Store.DeadLetters(ctx); d[0].Resolved == "" {
		t.Fatalf("stored dead letter %+v, want resolved", d[0])
	}
}

// Reconciliation classifies Razorpay's answers too: an order Razorpay
// refuses to describe fails the payment (parked); an order it does not
// answer about is retried, then parked once and still asked.
func TestReconciliationAnswers(t *testing.T) {
	ctx := context.Background()
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	t.Run("refused", func(t *testing.T) {
		w := newRazorpayWorld(t)
		w.bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 900, Currency: "INR"}
		if _, err := w.pr.PayWithRazorpay(ctx, "bill_2", "pay_Q", "usr_a"); err != nil {
			t.Fatal(err)
		}
		w.rzp.refuse["order_payments"] = "The id provided does not exist"
		if err := w.pr.ReconcileOnce(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		q := w.get(t, "pay_Q")
		if q.Status != domain.Failed || q.FailureReason != domain.ReasonGatewayRefused || q.GatewayError == nil {
			t.Fatalf("payment = %+v, want FAILED GATEWAY_REFUSED", q)
		}
		if d := w.deadLetters(t); len(d) != 1 || d[0].Kind != domain.ParkOrderRefused {
			t.Fatalf("dead letters = %+v", d)
		}
	})
	t.Run("not answered", func(t *testing.T) {
		w := newRazorpayWorld(t)
		w.bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 900, Currency: "INR"}
		if _, err := w.pr.PayWithRazorpay(ctx, "bill_2", "pay_Q", "usr_a"); err != nil {
			t.Fatal(err)
		}
		w.rzp.silent["order_payments"] = true
		for i := 0; i < 12; i++ {
			w.clock.add(10 * time.Second)
			if err := w.pr.ReconcileOnce(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		q := w.get(t, "pay_Q")
		if q.Status != domain.Pending || q.RetryAt.Before(w.clock.Now()) {
			t.Fatalf("payment = %+v, want still PENDING and asked again later", q)
		}
		d := w.deadLetters(t)
		if len(d) != 1 || d[0].Kind != domain.ParkReconcileStuck {
			t.Fatalf("dead letters = %+v, want one reconcile_stuck", d)
		}
		// Razorpay answers again: the capture found settles it.
		w.rzp.mu.Lock()
		w.rzp.silent["order_payments"] = false
		w.rzp.payments["pay_Q1"] = domain.GatewayPayment{ID: "pay_Q1", OrderID: q.Razorpay.OrderID, Status: "captured", Amount: 900, Currency: "INR"}
		w.rzp.mu.Unlock()
		w.clock.add(time.Minute)
		if got := w.settle(t, "pay_Q"); got.Status != domain.Success || got.Razorpay.GatewayPaymentID != "pay_Q1" {
			t.Fatalf("payment = %+v, want SUCCESS by pay_Q1", got)
		}
		// The payment has ended: its reconcile_stuck dead letter reads
		// resolved (it had stayed open for ever).
		if d, _ := w.pr.DeadLetters(ctx, admin); len(d) != 1 || !strings.Contains(d[0].Resolved, "ended SUCCESS") || d[0].ResolvedAt.IsZero() {
			t.Fatalf("dead letters = %+v, want the reconcile_stuck one resolved", d)
		}
	})
}

// settled_by names the late capture that paid the bill, whatever is
// settled after it: a later capture of the same order, refunded, does not
// take its place (a client following settled_by finds where the money
// went).
func TestSettledByNamesTheCaptureThatPaid(t *testing.T) {
	ctx := context.Background()
	w := newRazorpayWorld(t)
	p := w.pendingPayment(t)
	result := func(evt, gw, status string) {
		t.Helper()
		if _, reason, err := w.pr.ApplyResult(ctx, domain.GatewayResult{EventID: evt, Event: "payment." + status, Status: status,
			OrderID: p.Razorpay.OrderID, GatewayPaymentID: gw, PaymentID: p.ID, Amount: 2500, Currency: "INR"}); err != nil {
			t.Fatalf("ApplyResult(%s) = %v (%s)", evt, err, reason)
		}
	}
	result("evt_A1", "pay_A1", contract.ResultFailed)
	for _, gw := range []string{"pay_A2", "pay_A1"} { // the second paid the bill; the first is captured late
		w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
		result("evt_"+gw+"_captured", gw, contract.ResultCaptured)
		w.settle(t, lateID(gw))
	}
	paid, refunded := w.get(t, lateID("pay_A2")), w.get(t, lateID("pay_A1"))
	if paid.Status != domain.Success || refunded.Status != domain.Failed {
		t.Fatalf("late payments %s, %s; want SUCCESS, FAILED", paid.Status, refunded.Status)
	}
	var orig domain.Payment
	for range 200 {
		if orig = w.get(t, p.ID); orig.SettledBy != "" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the refunded one's note, if it were to overwrite
	if orig = w.get(t, p.ID); orig.SettledBy != paid.ID {
		t.Fatalf("settled_by = %q, want %s (the capture that paid the bill), not %s", orig.SettledBy, paid.ID, refunded.ID)
	}
}
