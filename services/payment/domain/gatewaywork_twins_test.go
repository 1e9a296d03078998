package domain_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/payment/domain"
)

// enteringRazorpay counts the refund calls that began (before the fake
// holds them on its block), so a test sees a call in flight.
type enteringRazorpay struct {
	*fakeRazorpay
	entered atomic.Int64
	// gate, when set, holds refund calls (only) until it is closed.
	gate chan struct{}
}

func (e *enteringRazorpay) Refund(ctx context.Context, req contract.RefundRequest) (contract.Refund, error) {
	e.entered.Add(1)
	if e.gate != nil {
		<-e.gate
	}
	return e.fakeRazorpay.Refund(ctx, req)
}

// twins returns a razorpayWorld whose processor calls Razorpay through an
// enteringRazorpay, and a second processor over the same store and
// Razorpay: another payment instance.
func twins(t *testing.T) (*razorpayWorld, *domain.Processor, *enteringRazorpay) {
	t.Helper()
	w := newRazorpayWorld(t)
	rzp := &enteringRazorpay{fakeRazorpay: w.rzp}
	w.pr.Gateway = rzp
	twin := newProcessor(w.bank)
	twin.Store, twin.Gateway, twin.Now, twin.Retry = w.pr.Store, rzp, w.clock.Now, w.pr.Retry
	return w, twin, rzp
}

// waitFor polls cond until it holds (at most 10 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 2000 {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roundEndsOrCalls runs one reconciliation round of twin and waits until
// it either ends or makes a refund call beyond calls (which a gate holds).
// It returns a channel that is closed when the round has ended.
func roundEndsOrCalls(t *testing.T, twin *domain.Processor, rzp *enteringRazorpay, calls int64) <-chan struct{} {
	t.Helper()
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		if err := twin.ReconcileOnce(context.Background(), cfg); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "the twin's round to end or call", func() bool {
		select {
		case <-ended:
			return true
		default:
			return rzp.entered.Load() > calls
		}
	})
	return ended
}

// Two payment instances (two processors over one store) find the same
// refund retry due at the same moment: one of them makes the try, the
// other leaves it alone, so Razorpay is called once per try and the bound
// on tries holds for the pair. (Seen in the Razorpay suite on the replica
// topology: 7 calls for a bound of 5, 29 for 25 refused refunds.)
func TestTwinInstancesMakeEachRefundTryOnce(t *testing.T) {
	w, twin, rzp := twins(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.rzp.silent["refund"] = true
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	waitFor(t, "the first, unanswered try recorded", func() bool { return w.get(t, lateID("pay_S")).GatewayRetries == 1 })

	// The retry is due; both instances reconcile while Razorpay holds it.
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	w.clock.add(time.Second)
	before := rzp.entered.Load()
	rzp.gate = make(chan struct{})
	first := make(chan error, 1)
	go func() {
		// The first try's work may still be ending in the background (and
		// hold the payment in this process): rounds until one makes the call.
		for rzp.entered.Load() == before {
			if err := w.pr.ReconcileOnce(context.Background(), cfg); err != nil {
				first <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		first <- nil
	}()
	waitFor(t, "one instance's try in flight", func() bool { return rzp.entered.Load() == before+1 })
	ended := roundEndsOrCalls(t, twin, rzp, before+1)
	close(rzp.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-ended
	if n := rzp.entered.Load() - before; n != 1 {
		t.Fatalf("the due retry called Razorpay %d times from two instances, want once", n)
	}
	if late := w.get(t, lateID("pay_S")); late.Status != domain.Pending || late.GatewayRetries != 2 {
		t.Fatalf("after the second try: %+v, want PENDING with 2 tries recorded", late)
	}
}

// A late capture confirmed by one instance owes a refund (its bill was
// paid meanwhile), which that instance makes under the same claim: the
// twin reconciling meanwhile does not make it too. (The Razorpay suite on
// the replica topology saw 29 refund calls for 25 refused refunds.)
func TestTwinDoesNotRefundWhatTheConfirmerRefunds(t *testing.T) {
	w, twin, rzp := twins(t)
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.rzp.refuse["refund"] = "The payment has been fully refunded already."
	rzp.gate = make(chan struct{})
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured) // the confirmer: Kick
	waitFor(t, "the confirmer's refund in flight", func() bool { return rzp.entered.Load() == 1 })
	ended := roundEndsOrCalls(t, twin, rzp, 1)
	close(rzp.gate)
	<-ended
	late := w.settle(t, lateID("pay_S"))
	if n := rzp.entered.Load(); n != 1 {
		t.Fatalf("the refund API was called %d times from two instances, want once", n)
	}
	if late.Status != domain.Failed || late.Refund == nil || late.Refund.Status != domain.RefundRefused {
		t.Fatalf("late payment = %+v, want FAILED with its refund REFUSED", late)
	}
}
