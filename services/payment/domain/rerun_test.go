package domain_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/payment/domain"
)

// heldStore holds the next read of one payment, once asked to, until the
// test lets it go: the gateway work has read the payment, and what the
// test writes meanwhile comes after that read. It counts the reads of
// that payment after the held one.
type heldStore struct {
	domain.Store
	mu    sync.Mutex
	id    string
	armed bool
	held  chan struct{} // closed when the read is held
	let   chan struct{} // closed by the test to let it go
	after int
}

func (s *heldStore) hold(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id, s.armed, s.held, s.let, s.after = id, true, make(chan struct{}), make(chan struct{}), 0
}

func (s *heldStore) reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.after
}

func (s *heldStore) Get(ctx context.Context, id string) (domain.Payment, error) {
	p, err := s.Store.Get(ctx, id)
	s.mu.Lock()
	held := s.armed && id == s.id
	switch {
	case held:
		s.armed = false
	case id == s.id && s.held != nil:
		s.after++
	}
	heldCh, let := s.held, s.let
	s.mu.Unlock()
	if held {
		close(heldCh)
		<-let
	}
	return p, err
}

// A Kick that comes while a payment's gateway work runs, after the run
// read the payment, makes the work run once more when it ends, and that
// run sees what the Kick was for: here a capture recorded by the
// subscriber (ApplyResult) after the run read the payment without it.
// The capture is confirmed and settles the payment now, not at a timer's
// try (an hour away here) or reconciliation's. Any number of Kicks during
// the run make exactly one run more: the payment is read as many times
// after the held read whatever their number.
func TestKickDuringRunRunsOnceMore(t *testing.T) {
	cases := []struct {
		name  string
		kicks int // Kicks more during the run, besides the subscriber's
	}{
		{"the subscriber's Kick alone", 0},
		{"one Kick more", 1},
		{"five Kicks more", 5},
	}
	reads := -1
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newRazorpayWorld(t)
			// A try the run leaves undone would come back an hour later
			// (kickLater): only the run asked for can settle it now.
			w.pr.Retry.Base = func() time.Duration { return time.Hour }
			w.pr.Retry.Max = func() time.Duration { return time.Hour }
			store := &heldStore{Store: w.pr.Store}
			w.pr.Store = store
			w.bank.mu.Lock()
			w.bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 2500, Currency: "INR"}
			w.bank.mu.Unlock()
			ctx := context.Background()
			q, err := w.pr.PayWithRazorpay(ctx, "bill_2", "pay_Q", "usr_a")
			if err != nil {
				t.Fatal(err)
			}
			w.rzp.mu.Lock()
			w.rzp.payments["pay_C"] = domain.GatewayPayment{ID: "pay_C", OrderID: q.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
			calls := w.rzp.calls["payment"]
			w.rzp.mu.Unlock()

			store.hold("pay_Q")
			w.pr.Kick("pay_Q")
			<-store.held // the run read Q: PENDING, nothing captured
			out, reason, err := w.pr.ApplyResult(ctx, domain.GatewayResult{EventID: "evt_C", Event: "payment.captured", Status: contract.ResultCaptured,
				OrderID: q.Razorpay.OrderID, GatewayPaymentID: "pay_C", PaymentID: "pay_Q", Amount: 2500, Currency: "INR"})
			if err != nil || out != domain.Applied {
				t.Fatalf("ApplyResult(pay_C) = %v, %v (%s), want applied", out, err, reason)
			}
			for range tc.kicks {
				w.pr.Kick("pay_Q")
			}
			close(store.let)
			if !w.pr.WaitIdle() {
				t.Fatal("the gateway work of pay_Q did not end")
			}
			n := store.reads()

			if got := w.get(t, "pay_Q"); got.Status != domain.Success || got.Razorpay.GatewayPaymentID != "pay_C" || len(got.Unconfirmed) != 0 {
				t.Fatalf("Q = %s by %q, unconfirmed %v; want SUCCESS by pay_C, confirmed by the run the Kick asked for",
					got.Status, got.Razorpay.GatewayPaymentID, got.Unconfirmed)
			}
			if got := w.rzp.count("payment") - calls; got != 1 {
				t.Fatalf("Razorpay asked about pay_C %d times, want once", got)
			}
			if reads < 0 {
				reads = n
			} else if n != reads {
				t.Fatalf("Q read %d times after the held read, want %d (as with the subscriber's Kick alone): one run more, not one a Kick", n, reads)
			}
		})
	}
}

// A try Razorpay does not answer is tried again at its RetryAt by one
// timer: the try's own (retryLater), with kickLater arming none beside it.
// Two timers at once would make two runs where one is due, now that a
// Kick during a run is not dropped.
func TestRetryArmsOneTimer(t *testing.T) {
	w := newRazorpayWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w.pr.Background = ctx
	// The timers stay armed for the test's length.
	w.pr.Retry.Base = func() time.Duration { return time.Hour }
	w.pr.Retry.Max = func() time.Duration { return time.Hour }
	w.rzp.mu.Lock()
	w.rzp.silent["payment"] = true
	w.rzp.mu.Unlock()
	w.bank.mu.Lock()
	w.bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	w.bank.mu.Unlock()
	q, err := w.pr.PayWithRazorpay(ctx, "bill_2", "pay_Q", "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	if out, reason, err := w.pr.ApplyResult(ctx, domain.GatewayResult{EventID: "evt_C", Event: "payment.captured", Status: contract.ResultCaptured,
		OrderID: q.Razorpay.OrderID, GatewayPaymentID: "pay_C", PaymentID: "pay_Q", Amount: 2500, Currency: "INR"}); err != nil || out != domain.Applied {
		t.Fatalf("ApplyResult(pay_C) = %v, %v (%s), want applied", out, err, reason)
	}
	if !w.pr.WaitIdle() {
		t.Fatal("the gateway work of pay_Q did not end")
	}
	q = w.get(t, "pay_Q")
	if q.GatewayRetries != 1 {
		t.Fatalf("Q's tries = %d, want 1 (the confirmation Razorpay did not answer)", q.GatewayRetries)
	}
	if got := w.pr.Timers("pay_Q"); len(got) != 1 || !got[0].Equal(q.RetryAt) {
		t.Fatalf("timers of Q = %v, want one, at its RetryAt %v", got, q.RetryAt)
	}
}
