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
}

func (e *enteringRazorpay) Refund(ctx context.Context, req contract.RefundRequest) (contract.Refund, error) {
	e.entered.Add(1)
	return e.fakeRazorpay.Refund(ctx, req)
}

// Two payment instances (two processors over one store) find the same
// refund retry due at the same moment: one of them makes the try, the
// other leaves it alone, so Razorpay is called once per try and the bound
// on tries holds for the pair. (Seen in the Razorpay suite on the replica
// topology: 7 calls for a bound of 5, 29 for 25 refused refunds.)
func TestTwinInstancesMakeEachRefundTryOnce(t *testing.T) {
	w := newRazorpayWorld(t)
	rzp := &enteringRazorpay{fakeRazorpay: w.rzp}
	w.pr.Gateway = rzp
	twin := newProcessor(w.bank)
	twin.Store, twin.Gateway, twin.Now, twin.Retry = w.pr.Store, rzp, w.clock.Now, w.pr.Retry

	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	w.rzp.silent["refund"] = true
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; !cond(); i++ {
			if i == 2000 {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first, unanswered try recorded", func() bool { return w.get(t, lateID("pay_S")).GatewayRetries == 1 })

	// The retry is due; both instances reconcile while Razorpay holds it.
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	w.clock.add(time.Second)
	before := rzp.entered.Load()
	w.rzp.block = make(chan struct{})
	first := make(chan error, 1)
	go func() { first <- w.pr.ReconcileOnce(context.Background(), cfg) }()
	waitFor("one instance's try in flight", func() bool { return rzp.entered.Load() == before+1 })
	second := make(chan error, 1)
	go func() { second <- twin.ReconcileOnce(context.Background(), cfg) }()
	// The twin either leaves the payment alone (its round ends) or makes a
	// second call (which the block holds).
	var twinDone bool
	waitFor("the twin's round to end or call", func() bool {
		select {
		case err := <-second:
			if err != nil {
				t.Fatal(err)
			}
			twinDone = true
		default:
		}
		return twinDone || rzp.entered.Load() > before+1
	})
	close(w.rzp.block)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !twinDone {
		<-second
	}
	if n := rzp.entered.Load() - before; n != 1 {
		t.Fatalf("the due retry called Razorpay %d times from two instances, want once", n)
	}
	if late := w.get(t, lateID("pay_S")); late.Status != domain.Pending || late.GatewayRetries != 2 {
		t.Fatalf("after the second try: %+v, want PENDING with 2 tries recorded", late)
	}
}
