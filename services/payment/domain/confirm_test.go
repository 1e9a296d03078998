package domain_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/services/payment/domain"
)

// confirmWorld is a processor over a fake bank and a fake Razorpay with one
// PENDING Razorpay payment P of a bill (or a top-up), its order made, no
// result heard yet.
type confirmWorld struct {
	pr     *domain.Processor
	bank   *fakeBank
	rzp    *fakeRazorpay
	clock  *clock
	user   string
	p      domain.Payment
	mu     sync.Mutex
	parked []string
}

func newConfirmWorld(t *testing.T, topUp bool) *confirmWorld {
	t.Helper()
	w := &confirmWorld{bank: newBank(), rzp: newRazorpay(), clock: &clock{now: time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)}, user: id.New(id.User)}
	w.pr = newProcessor(w.bank)
	w.pr.Gateway, w.pr.Now = w.rzp, w.clock.Now
	w.pr.Retry = domain.RetryPolicy{Base: func() time.Duration { return time.Second }, Max: func() time.Duration { return 8 * time.Second },
		MaxAttempts: func() int { return 4 }}
	w.pr.OnParked = func(kind string) { w.mu.Lock(); w.parked = append(w.parked, kind); w.mu.Unlock() }
	w.bank.balance[w.user] = 0
	w.bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: w.user, Amount: 2500, Currency: "INR"}
	var err error
	if topUp {
		w.p, err = w.pr.TopUp(context.Background(), auth.Caller{Identity: auth.Identity{Sub: w.user}, Signed: true}, w.user, money.Amount(2500), "")
	} else {
		w.p, err = w.pr.PayWithRazorpay(context.Background(), "bill_1", "pay_P", w.user)
	}
	if err != nil || w.p.Razorpay == nil {
		t.Fatalf("payment = %+v, %v", w.p, err)
	}
	return w
}

// capture delivers a verified payment.captured naming gateway payment gw
// on P's order.
func (w *confirmWorld) capture(t *testing.T, eventID, gw string) domain.Outcome {
	t.Helper()
	out, why, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: eventID, Event: "payment.captured", Status: contract.ResultCaptured,
		OrderID: w.p.Razorpay.OrderID, GatewayPaymentID: gw, PaymentID: w.p.ID, Amount: 2500, Currency: "INR"})
	if err != nil {
		t.Fatalf("ApplyResult(%s) = %v (%s)", gw, err, why)
	}
	return out
}

func (w *confirmWorld) get(t *testing.T, pid string) domain.Payment {
	t.Helper()
	p, err := w.pr.Store.Get(context.Background(), pid)
	if err != nil {
		t.Fatalf("Get(%s) = %v", pid, err)
	}
	return p
}

// drive runs the gateway work (its Kick in the background, and
// reconciliation rounds of orders not expired) until done, the clock
// stepping by step each round.
func (w *confirmWorld) drive(t *testing.T, step time.Duration, what string, done func() bool) {
	t.Helper()
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	for i := 0; !done(); i++ {
		if i == 300 {
			t.Fatalf("never: %s; P = %+v", what, w.get(t, w.p.ID))
		}
		w.clock.add(step)
		if err := w.pr.ReconcileOnce(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (w *confirmWorld) kinds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.parked)
}

// counted is the money FinFlow counted for P's captures: the bill paid, or
// the top-ups credited.
func (w *confirmWorld) counted() int64 {
	w.bank.mu.Lock()
	defer w.bank.mu.Unlock()
	var n int64
	for _, c := range w.bank.credits {
		n += c
	}
	if b := w.bank.bills["bill_1"]; b.Paid {
		n += b.Amount
	}
	return n
}

// A webhook's capture moves money only once Razorpay's API has confirmed
// that very gateway payment as a capture of the payment's order, for its
// amount and currency. Anything else is parked once and moves nothing; the
// payment is left PENDING for reconciliation, as without the webhook; no
// answer is retried and parked only after every try.
func TestCapturesMoveMoneyOnlyOnceRazorpayConfirmsThem(t *testing.T) {
	const gw = "pay_G0000000000001"
	cases := []struct {
		name    string
		topUp   bool
		gp      *domain.GatewayPayment // what Razorpay's API says of gw (nil: does not know it)
		silent  bool                   // Razorpay does not answer
		status  domain.Status
		reason  string
		parked  []string
		counted int64
	}{
		{name: "genuine capture: SUCCESS, the bill PAID", gp: &domain.GatewayPayment{Status: "captured"}, status: domain.Success, counted: 2500},
		{name: "genuine top-up capture: credited once", topUp: true, gp: &domain.GatewayPayment{Status: "captured"}, status: domain.Success, counted: 2500},
		{name: "capture Razorpay does not know", status: domain.Pending, parked: []string{domain.ParkCaptureUnknown}},
		{name: "top-up capture Razorpay does not know", topUp: true, status: domain.Pending, parked: []string{domain.ParkCaptureUnknown}},
		{name: "capture on another order", gp: &domain.GatewayPayment{OrderID: "order_Other00000001", Status: "captured"}, status: domain.Pending, parked: []string{domain.ParkCaptureMismatch}},
		{name: "capture of another amount", gp: &domain.GatewayPayment{Status: "captured", Amount: 100}, status: domain.Pending, parked: []string{domain.ParkCaptureMismatch}},
		{name: "capture of another currency", gp: &domain.GatewayPayment{Status: "captured", Currency: "USD"}, status: domain.Pending, parked: []string{domain.ParkCaptureMismatch}},
		{name: "only authorized at Razorpay", gp: &domain.GatewayPayment{Status: "authorized"}, status: domain.Pending, parked: []string{domain.ParkCaptureMismatch}},
		{name: "refunded at Razorpay already", gp: &domain.GatewayPayment{Status: "refunded", AmountRefunded: 2500}, status: domain.Failed, reason: domain.ReasonRefundedAtGateway},
		{name: "Razorpay not answering: retried, then parked as unanswered", silent: true, gp: &domain.GatewayPayment{Status: "captured"}, status: domain.Pending, parked: []string{domain.ParkReconcileStuck}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newConfirmWorld(t, tc.topUp)
			if tc.gp != nil {
				gp := *tc.gp
				gp.ID = gw
				if gp.OrderID == "" {
					gp.OrderID = w.p.Razorpay.OrderID
				}
				if gp.Amount == 0 {
					gp.Amount = 2500
				}
				if gp.Currency == "" {
					gp.Currency = "INR"
				}
				w.rzp.payments[gw] = gp
			}
			w.rzp.silent["payment"] = tc.silent
			// Reconciliation lists nothing of the order: only the
			// confirmation of the webhook's capture decides.
			w.rzp.silent["order_payments"] = true
			if out := w.capture(t, "evt_1", gw); out != domain.Applied {
				t.Fatalf("the capture = %v, want applied (handed to the gateway work)", out)
			}
			if tc.silent {
				w.drive(t, 2*time.Second, "every try made", func() bool { return len(w.kinds()) > 0 })
				if got := w.get(t, w.p.ID); got.Status != domain.Pending || !slices.Contains(got.Unconfirmed, gw) || w.counted() != 0 {
					t.Fatalf("P = %s, unconfirmed %v, %d counted; want PENDING, the capture still to confirm, nothing counted", got.Status, got.Unconfirmed, w.counted())
				}
				if n := w.rzp.count("payment"); n != 4 {
					t.Errorf("%d calls to confirm, want 4 (every try)", n)
				}
				// Razorpay answers again: still asked, and settled.
				w.rzp.mu.Lock()
				w.rzp.silent["payment"] = false
				w.rzp.mu.Unlock()
				tc.status, tc.counted = domain.Success, 2500
			}
			w.drive(t, 10*time.Second, "the capture decided", func() bool {
				got := w.get(t, w.p.ID)
				return len(got.Unconfirmed) == 0 && (got.Status != domain.Pending || tc.status == domain.Pending) &&
					len(w.kinds()) >= len(tc.parked) // a capture is taken off, then parked
			})
			got := w.get(t, w.p.ID)
			if got.Status != tc.status || got.FailureReason != tc.reason {
				t.Fatalf("P = %s (%s), want %s (%s)", got.Status, got.FailureReason, tc.status, tc.reason)
			}
			if tc.status == domain.Success && got.Razorpay.GatewayPaymentID != gw {
				t.Fatalf("P is SUCCESS by %q, want by %s", got.Razorpay.GatewayPaymentID, gw)
			}
			if tc.status == domain.Pending && got.Razorpay.GatewayPaymentID != "" {
				t.Fatalf("P records capture %q, want none", got.Razorpay.GatewayPaymentID)
			}
			if n := w.counted(); n != tc.counted {
				t.Fatalf("%d paise counted, want %d", n, tc.counted)
			}
			if k := w.kinds(); !slices.Equal(k, tc.parked) {
				t.Fatalf("parked %v, want %v", k, tc.parked)
			}
			// The same webhook again, and order.paid for it: nothing more.
			w.capture(t, "evt_1", gw)
			w.capture(t, "evt_2", gw)
			w.drive(t, 10*time.Second, "the repeats decided", func() bool { return len(w.get(t, w.p.ID).Unconfirmed) == 0 })
			if n := w.counted(); n != tc.counted {
				t.Fatalf("after repeats: %d paise counted, want %d", n, tc.counted)
			}
			if k := w.kinds(); len(k) > len(tc.parked)+1 || len(tc.parked) == 0 && len(k) > 0 {
				t.Fatalf("after repeats: parked %v", k)
			}
		})
	}
}

// Once Razorpay said a capture is not this order's (another order, amount
// or currency), a result naming it again is refused at once, and
// reconciliation listing it passes it by: one dead letter for the capture,
// not one a round.
func TestADisownedCaptureIsParkedOnce(t *testing.T) {
	const gw = "pay_G0000000000002"
	w := newConfirmWorld(t, false)
	w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 100, Currency: "INR"}
	w.capture(t, "evt_1", gw)
	w.drive(t, time.Second, "the capture decided", func() bool { return len(w.get(t, w.p.ID).Unconfirmed) == 0 && len(w.kinds()) > 0 })
	for i := 0; i < 5; i++ { // reconciliation rounds list it captured
		w.clock.add(time.Second)
		if err := w.pr.ReconcileOnce(context.Background(), domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond },
			After: func() time.Duration { return 0 }, OrderLifetime: func() time.Duration { return time.Hour }}); err != nil {
			t.Fatal(err)
		}
	}
	if out := w.capture(t, "evt_2", gw); out != domain.Rejected {
		t.Fatalf("the capture named again = %v, want rejected", out)
	}
	if k := w.kinds(); !slices.Equal(k, []string{domain.ParkCaptureMismatch, domain.ParkRefusedResult}) {
		t.Fatalf("parked %v, want capture_mismatch once, then the repeated result refused", k)
	}
	if got := w.get(t, w.p.ID); got.Status != domain.Pending || w.counted() != 0 {
		t.Fatalf("P = %s, %d counted; want PENDING, nothing counted", got.Status, w.counted())
	}
}

// One wrong answer does not strand captured money: Razorpay's answer
// about the capture once said another amount, so it was disowned and
// parked; then Razorpay's list of the order's payments describes it as the
// order's capture for its amount, and reconciliation settles P with it
// (before, it passed the capture by and let the order expire: neither
// settled nor refunded, and the bill could be paid again).
func TestADisownedCaptureListedAsTheOrdersIsSettled(t *testing.T) {
	const gw = "pay_G0000000000003"
	w := newConfirmWorld(t, false)
	w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 100, Currency: "INR"}
	w.capture(t, "evt_1", gw)
	w.drive(t, time.Second, "the capture disowned", func() bool { return len(w.get(t, w.p.ID).Disowned) == 1 })
	w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.clock.add(time.Second)
	if err := w.pr.ReconcileOnce(context.Background(), domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond },
		After: func() time.Duration { return 0 }, OrderLifetime: func() time.Duration { return time.Hour }}); err != nil {
		t.Fatal(err)
	}
	w.drive(t, time.Second, "P ended", func() bool { return w.get(t, w.p.ID).Status != domain.Pending })
	got := w.get(t, w.p.ID)
	if got.Status != domain.Success || got.Razorpay.GatewayPaymentID != gw || len(got.Disowned) != 0 || w.counted() != 2500 || !w.bank.bills["bill_1"].Paid {
		t.Fatalf("P = %s by %q, disowned %v, %d counted; want SUCCESS by %s, nothing disowned, the bill paid once", got.Status, got.Razorpay.GatewayPaymentID, got.Disowned, w.counted(), gw)
	}
}

// A wrong answer about a capture is checked against Razorpay's list of the
// order's payments before anything is disowned or failed: a capture the
// list has on the order for its amount is settled at once, nothing parked.
// For a pending payment's capture and for a late capture (whose payment
// reconciliation never lists again) alike.
func TestAWrongAnswerIsCheckedAgainstTheOrdersList(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(map[bool]string{false: "a pending payment's capture", true: "a late capture"}[late], func(t *testing.T) {
			const gw = "pay_W0000000000001"
			w := newConfirmWorld(t, false)
			settled := w.p.ID
			if late {
				if _, _, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: "evt_f", Event: "payment.failed", Status: contract.ResultFailed,
					OrderID: w.p.Razorpay.OrderID, GatewayPaymentID: "pay_F0000000000002", PaymentID: w.p.ID, Amount: 2500, Currency: "INR"}); err != nil {
					t.Fatal(err)
				}
				settled = id.Derive(id.Payment, "late:"+gw)
			}
			w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
			w.rzp.wrongOnce[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 1, Currency: "INR"}
			w.capture(t, "evt_1", gw)
			w.drive(t, time.Second, "the capture settled", func() bool {
				got, err := w.pr.Store.Get(context.Background(), settled)
				return err == nil && got.Status != domain.Pending
			})
			got := w.get(t, settled)
			if got.Status != domain.Success || len(got.Disowned) != 0 || w.counted() != 2500 || len(w.kinds()) != 0 || w.rzp.count("order_payments") == 0 {
				t.Fatalf("%s = %s, disowned %v, %d counted, parked %v; want SUCCESS on the order's list, the bill paid once, nothing parked",
					settled, got.Status, got.Disowned, w.counted(), w.kinds())
			}
		})
	}
}

// A late capture (another gateway payment on the order of a payment that
// ended) is still settled once Razorpay confirms it: it pays the bill the
// payment failed to pay.
func TestLateCaptureStillSettlesOnceConfirmed(t *testing.T) {
	const gw = "pay_L0000000000001"
	w := newConfirmWorld(t, false)
	if _, _, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: "evt_f", Event: "payment.failed", Status: contract.ResultFailed,
		OrderID: w.p.Razorpay.OrderID, GatewayPaymentID: "pay_F0000000000001", PaymentID: w.p.ID, Amount: 2500, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	if got := w.get(t, w.p.ID); got.Status != domain.Failed {
		t.Fatalf("P = %s, want FAILED on the failure", got.Status)
	}
	w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.capture(t, "evt_L", gw)
	lateID := id.Derive(id.Payment, "late:"+gw)
	w.drive(t, time.Second, "the late payment settled", func() bool {
		late, err := w.pr.Store.Get(context.Background(), lateID)
		return err == nil && late.Status != domain.Pending
	})
	if late := w.get(t, lateID); late.Status != domain.Success || w.counted() != 2500 || len(w.kinds()) != 0 {
		t.Fatalf("late payment = %s, %d counted, parked %v; want SUCCESS, the bill paid once, nothing parked", late.Status, w.counted(), w.kinds())
	}
}

// The stuck case of the outside tester's report, with a store from before
// captures were confirmed: P's real capture is bound to another order (a
// forged, correctly signed webhook naming it on a top-up's order bound it
// then). Reconciliation lists the capture on P's own order: Razorpay's API
// is trusted over the binding, P ends SUCCESS with its bill PAID, and one
// dead letter capture_mismatch names both orders; no round parks again.
// The same holds when the real webhook comes.
func TestACaptureBoundToAnotherOrderBeforeTheUpgrade(t *testing.T) {
	for _, by := range []string{"reconciliation", "the real webhook"} {
		t.Run(by, func(t *testing.T) {
			const gw = "pay_B0000000000001"
			w := newConfirmWorld(t, false)
			ctx := context.Background()
			if held, err := w.pr.Store.BindCapture(ctx, gw, "order_TopUpA0000001"); err != nil || held != "order_TopUpA0000001" {
				t.Fatalf("seeding the binding = %q, %v", held, err)
			}
			w.rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: w.p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
			if by == "the real webhook" {
				w.rzp.silent["order_payments"] = true
				w.capture(t, "evt_real", gw)
			}
			w.drive(t, time.Second, "P ended", func() bool { return w.get(t, w.p.ID).Status != domain.Pending })
			for i := 0; i < 5; i++ {
				w.clock.add(time.Second)
				if err := w.pr.ReconcileOnce(ctx, domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond },
					After: func() time.Duration { return 0 }, OrderLifetime: func() time.Duration { return time.Hour }}); err != nil {
					t.Fatal(err)
				}
			}
			got := w.get(t, w.p.ID)
			if got.Status != domain.Success || got.Razorpay.GatewayPaymentID != gw || !w.bank.bills["bill_1"].Paid {
				t.Fatalf("P = %s by %q, bill %+v; want SUCCESS by %s, the bill PAID", got.Status, got.Razorpay.GatewayPaymentID, w.bank.bills["bill_1"], gw)
			}
			if k := w.kinds(); !slices.Equal(k, []string{domain.ParkCaptureMismatch}) {
				t.Fatalf("parked %v, want one capture_mismatch", k)
			}
			d, err := w.pr.Store.DeadLetters(ctx)
			if err != nil || len(d) != 1 || !strings.Contains(d[0].Reason, "order_TopUpA0000001") || !strings.Contains(d[0].Reason, w.p.Razorpay.OrderID) {
				t.Fatalf("dead letters = %+v, %v; want one naming both orders", d, err)
			}
		})
	}
}
