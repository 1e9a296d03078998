package domain_test

import (
	"context"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/payment/domain"
)

// A capture that no webhook reports, on the order of a payment that ended
// FAILED (an attempt failed, or the order expired), is found by the watch
// of orders and settled as its webhook would have been: it pays the bill
// that is still unpaid. Looked at once per due time, however often the
// watch runs; a SUCCESS payment, and one past the window, leave the watch.
func TestWatchFindsCapturesNoWebhookReported(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"an attempt failed", "the order expired"} {
		t.Run(how, func(t *testing.T) {
			w := newRazorpayWorld(t)
			p := w.pendingPayment(t) // bill_9, 2500
			if how == "an attempt failed" {
				w.rzp.payments["pay_F1"] = domain.GatewayPayment{ID: "pay_F1", OrderID: p.Razorpay.OrderID, Status: "failed", Amount: 2500, Currency: "INR"}
				if out, reason, err := w.pr.ApplyResult(ctx, domain.GatewayResult{EventID: "evt_F1", Event: "payment.failed", Status: contract.ResultFailed,
					OrderID: p.Razorpay.OrderID, GatewayPaymentID: "pay_F1", PaymentID: p.ID, Amount: 2500, Currency: "INR"}); err != nil || out != domain.Applied {
					t.Fatalf("the failed attempt = %v, %v (%s)", out, err, reason)
				}
			} else {
				w.clock.add(2 * time.Hour)
				w.settle(t, p.ID) // the reconciliation expires it
			}
			if got := w.get(t, p.ID); got.Status != domain.Failed {
				t.Fatalf("payment = %+v, want FAILED", got)
			}
			// Then the customer pays the order after all, and no webhook
			// ever comes.
			w.rzp.payments["pay_C2"] = domain.GatewayPayment{ID: "pay_C2", OrderID: p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
			asked := w.rzp.count("order_payments")
			w.clock.add(time.Hour) // past the next look, however the payment ended
			for range 3 {          // the watch runs often; the order is asked about once
				if err := w.pr.WatchOrders(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := w.rzp.count("order_payments") - asked; n != 1 {
				t.Fatalf("the order was asked about %d times, want once", n)
			}
			late := w.settle(t, lateID("pay_C2"))
			if late.Status != domain.Success || !w.bank.bills["bill_9"].Paid || w.bank.bills["bill_9"].PaymentID != late.ID {
				t.Fatalf("late payment = %+v, bill %+v; want SUCCESS paying the bill", late, w.bank.bills["bill_9"])
			}
			// Later looks know that capture: it is no news (they had
			// warned "a capture no webhook reported" and counted it at
			// every look for the day).
			var news int
			w.pr.OnReconcile = func(action string) {
				if action == "watched" {
					news++
				}
			}
			for range 3 {
				w.clock.add(3 * time.Hour)
				if err := w.pr.WatchOrders(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if news != 0 {
				t.Fatalf("the capture settled already was reported %d more times", news)
			}
			// Past the window the payment leaves the watch.
			w.clock.add(24 * time.Hour) // the default window
			if err := w.pr.WatchOrders(ctx); err != nil {
				t.Fatal(err)
			}
			if watched, _ := w.pr.Store.Watched(ctx); len(watched) != 0 {
				t.Fatalf("still watched after the window: %v", watched)
			}
		})
	}
	t.Run("a SUCCESS payment leaves the watch", func(t *testing.T) {
		w := newRazorpayWorld(t) // pay_P SUCCESS by pay_R
		w.clock.add(2 * time.Minute)
		asked := w.rzp.count("order_payments")
		if err := w.pr.WatchOrders(ctx); err != nil {
			t.Fatal(err)
		}
		if watched, _ := w.pr.Store.Watched(ctx); len(watched) != 0 || w.rzp.count("order_payments") != asked {
			t.Fatalf("watched %v, %d asks; want none", watched, w.rzp.count("order_payments")-asked)
		}
	})
}
