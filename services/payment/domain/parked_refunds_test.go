package domain_test

// Tests of refunds parked for an operator (still tried, settled by
// Razorpay's events in every state) and of answers of other FinFlow
// services that are no decision (never a refusal).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/payment/domain"
)

// until drives reconciliation rounds, the clock a step ahead each, until
// done holds (or fails the test).
func until(t *testing.T, w *razorpayWorld, step time.Duration, what string, done func() bool) {
	t.Helper()
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return time.Hour }}
	for i := 0; i < 300; i++ {
		if done() {
			return
		}
		w.clock.add(step)
		if err := w.pr.ReconcileOnce(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("never %s", what)
}

// givenBackIn makes a late capture pay_S whose bill P paid owe its refund,
// with that refund in state: OWED (Razorpay not answering, retried),
// NOT_MADE (parked after every try), pending (made, Razorpay pending),
// processed, failed, REFUSED. It returns the world and the late payment.
func givenBackIn(t *testing.T, state string) (*razorpayWorld, domain.Payment) {
	t.Helper()
	w := newRazorpayWorld(t)
	late := lateID("pay_S")
	w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	made := func(status string) {
		w.rzp.refunds[late] = contract.Refund{RefundID: "rfnd_S0000000000001", PaymentID: late, GatewayPaymentID: "pay_S", Amount: 2500, Status: status}
	}
	switch state {
	case domain.RefundOwed, domain.RefundNotMade:
		w.rzp.silent["refund"] = true
	case domain.RefundRefused:
		w.rzp.refuse["refund"] = "The payment has been fully refunded already."
	case "pending", "failed":
		made(state)
	}
	w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
	var p domain.Payment
	until(t, w, 8*time.Second, "reached "+state, func() bool {
		p = w.get(t, late)
		return p.Refund != nil && p.Refund.Status == state && (state != domain.RefundOwed || p.GatewayRetries > 0)
	})
	return w, p
}

// Razorpay's refund events against the capture given back, in every state
// its refund can be in (refundEventVerdict's table): one not settled yet
// (owed and retried, parked NOT_MADE, made and pending) is settled exactly
// alike; one settled so already changes nothing; a contradiction is
// refused and parked.
func TestRefundEventsAgainstACaptureGivenBack(t *testing.T) {
	for _, tc := range []struct {
		state, event string
		want         domain.Outcome
		after        string // the refund's status after
	}{
		{domain.RefundOwed, contract.ResultRefunded, domain.Applied, "processed"},
		{domain.RefundOwed, contract.ResultRefundFailed, domain.Applied, "failed"},
		{domain.RefundNotMade, contract.ResultRefunded, domain.Applied, "processed"},
		{domain.RefundNotMade, contract.ResultRefundFailed, domain.Applied, "failed"},
		{"pending", contract.ResultRefunded, domain.Applied, "processed"},
		{"pending", contract.ResultRefundFailed, domain.Applied, "failed"},
		{"processed", contract.ResultRefunded, domain.Applied, "processed"},
		{"processed", contract.ResultRefundFailed, domain.Rejected, "processed"},
		{"failed", contract.ResultRefundFailed, domain.Applied, "failed"},
		{"failed", contract.ResultRefunded, domain.Rejected, "failed"},
		{domain.RefundRefused, contract.ResultRefundFailed, domain.Applied, domain.RefundRefused},
		{domain.RefundRefused, contract.ResultRefunded, domain.Rejected, domain.RefundRefused},
	} {
		t.Run(tc.state+" "+tc.event, func(t *testing.T) {
			w, p := givenBackIn(t, tc.state)
			gwRefund := p.Refund.RefundID
			if gwRefund == "" {
				gwRefund = "rfnd_S0000000000009"
			}
			out, reason, err := w.pr.ApplyResult(context.Background(), domain.GatewayResult{EventID: "evt_refund", Event: "refund." + tc.event, Status: tc.event,
				GatewayPaymentID: "pay_S", PaymentID: p.ID, Amount: 2500, Currency: "INR", RefundKey: p.ID, GatewayRefundID: gwRefund})
			if err != nil || out != tc.want {
				t.Fatalf("ApplyResult(refund.%s) of a %s refund = %v, %v (%s); want %v", tc.event, tc.state, out, err, reason, tc.want)
			}
			got := w.get(t, p.ID)
			if got.Refund.Status != tc.after || got.Status != domain.Failed || got.FailureReason != domain.ReasonBillAlreadyPaid {
				t.Fatalf("after refund.%s of a %s refund: %s %s, refund %+v; want FAILED BILL_ALREADY_PAID, refund %s", tc.event, tc.state, got.Status, got.FailureReason, got.Refund, tc.after)
			}
			if tc.state == domain.RefundNotMade {
				if d, ok := (&refundWorld{razorpayWorld: w}).parkedAs(t, domain.ParkRefundNotMade+":"+p.ID); !ok || d.Resolved == "" {
					t.Fatalf("refund_not_made dead letter = %+v, want resolved", d)
				}
			}
		})
	}
}

// adminRefundIn makes an admin's refund of P (2000 of 2500) in state:
// made and pending; retried (Razorpay not answering); parked NOT_MADE;
// parked UNCONFIRMED; SUCCESS; FAILED by Razorpay's refusal; FAILED by
// refund.failed.
func adminRefundIn(t *testing.T, state string) (*refundWorld, domain.RefundRecord) {
	t.Helper()
	w := newRefundWorld(t)
	switch state {
	case "retried", "NOT_MADE":
		w.rzp.silent["refund"] = true
	case "SUCCESS":
		w.rf.status = "processed"
	case "REFUSED":
		w.rzp.refuse["refund"] = "The refund amount provided is greater than amount captured"
	}
	r := w.refund(t, w.pid, 2000, "")
	switch state {
	case "NOT_MADE":
		until(t, w.razorpayWorld, 8*time.Second, "parked NOT_MADE", func() bool { return w.refundOf(t, w.pid, r.ID).Parked == domain.ParkRefundNotMade })
	case "UNCONFIRMED":
		w.rzp.silent["refund_status"] = true
		until(t, w.razorpayWorld, 8*time.Second, "parked UNCONFIRMED", func() bool { return w.refundOf(t, w.pid, r.ID).Parked == domain.ParkRefundUnconfirmed })
	case "FAILED":
		if out, _ := w.result(t, "evt_first", contract.ResultRefundFailed, r.ID, r.GatewayRefundID, 2000, "INR"); out != domain.Applied {
			t.Fatalf("refund.failed = %v", out)
		}
	}
	return w, w.refundOf(t, w.pid, r.ID)
}

// Razorpay's refund events against an admin's refund in every state: a
// PENDING one is settled whatever its work's state (retried, parked
// NOT_MADE or UNCONFIRMED), its dead letter resolved; a settled one is
// left as it is, a contradiction refused.
func TestRefundEventsAgainstAnAdminsRefund(t *testing.T) {
	for _, tc := range []struct {
		state, event string
		want         domain.Outcome
		after        domain.Status
	}{
		{"pending", contract.ResultRefunded, domain.Applied, domain.Success},
		{"pending", contract.ResultRefundFailed, domain.Applied, domain.Failed},
		{"retried", contract.ResultRefunded, domain.Applied, domain.Success},
		{"retried", contract.ResultRefundFailed, domain.Applied, domain.Failed},
		{"NOT_MADE", contract.ResultRefunded, domain.Applied, domain.Success},
		{"NOT_MADE", contract.ResultRefundFailed, domain.Applied, domain.Failed},
		{"UNCONFIRMED", contract.ResultRefunded, domain.Applied, domain.Success},
		{"UNCONFIRMED", contract.ResultRefundFailed, domain.Applied, domain.Failed},
		{"SUCCESS", contract.ResultRefunded, domain.Applied, domain.Success},
		{"SUCCESS", contract.ResultRefundFailed, domain.Rejected, domain.Success},
		{"FAILED", contract.ResultRefundFailed, domain.Applied, domain.Failed},
		{"FAILED", contract.ResultRefunded, domain.Rejected, domain.Failed},
		{"REFUSED", contract.ResultRefundFailed, domain.Applied, domain.Failed},
		{"REFUSED", contract.ResultRefunded, domain.Rejected, domain.Failed},
	} {
		t.Run(tc.state+" "+tc.event, func(t *testing.T) {
			w, r := adminRefundIn(t, tc.state)
			gwRefund := r.GatewayRefundID
			if gwRefund == "" {
				gwRefund = "rfnd_A9999999999999"
			}
			out, reason := w.result(t, "evt_refund", tc.event, r.ID, gwRefund, 2000, "INR")
			if out != tc.want {
				t.Fatalf("ApplyResult(%s) of a %s refund = %v (%s), want %v", tc.event, tc.state, out, reason, tc.want)
			}
			got := w.refundOf(t, w.pid, r.ID)
			if got.Status != tc.after {
				t.Fatalf("after %s of a %s refund: %+v, want %s", tc.event, tc.state, got, tc.after)
			}
			if r.Parked != "" {
				if d, ok := w.parkedAs(t, r.Parked+":"+r.ID); !ok || d.Resolved == "" {
					t.Fatalf("%s dead letter = %+v, want resolved", r.Parked, d)
				}
			}
		})
	}
}

// A parked admin's refund is settled by Razorpay's answer once it answers
// again: NOT_MADE is made (and its dead letter resolved), UNCONFIRMED is
// asked until Razorpay tells it processed.
func TestParkedAdminRefundSettledWhenRazorpayAnswersAgain(t *testing.T) {
	t.Run("NOT_MADE", func(t *testing.T) {
		w, r := adminRefundIn(t, "NOT_MADE")
		w.rzp.mu.Lock()
		w.rzp.silent["refund"] = false
		w.rzp.mu.Unlock()
		w.rf.status = "processed"
		until(t, w.razorpayWorld, 8*time.Second, "settled", func() bool { return w.refundOf(t, w.pid, r.ID).Status == domain.Success })
		if d, ok := w.parkedAs(t, domain.ParkRefundNotMade+":"+r.ID); !ok || d.Resolved == "" {
			t.Fatalf("refund_not_made dead letter = %+v, want resolved", d)
		}
		if n := w.rf.count("refund"); n < 5 {
			t.Fatalf("%d tries, want the 4 before parking and one after", n)
		}
	})
	t.Run("UNCONFIRMED", func(t *testing.T) {
		w, r := adminRefundIn(t, "UNCONFIRMED")
		w.rf.settleAt(r.ID, "processed")
		w.rzp.mu.Lock()
		w.rzp.silent["refund_status"] = false
		w.rzp.mu.Unlock()
		until(t, w.razorpayWorld, 8*time.Second, "settled", func() bool { return w.refundOf(t, w.pid, r.ID).Status == domain.Success })
		if d, ok := w.parkedAs(t, domain.ParkRefundUnconfirmed+":"+r.ID); !ok || d.Resolved == "" {
			t.Fatalf("refund_unconfirmed dead letter = %+v, want resolved", d)
		}
		// The amount is free again only as the refund says: refunded.
		if _, _, err := w.pr.RequestRefund(context.Background(), admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(501), Reason: "more"}); !errors.Is(err, domain.ErrRefundExceeds) {
			t.Fatalf("refunding more than is left = %v, want REFUND_EXCEEDS_PAYMENT", err)
		}
	})
}

// answer is an error answer of another FinFlow service, as the sidecar
// client returns it (platform/sidecar's remoteError).
func answer(status int, code string) error {
	return &apperr.Error{Kind: apperr.KindForStatus(status), Code: code, Message: fmt.Sprintf("%d %s", status, code)}
}

// pendingPayment starts a PENDING Razorpay payment of a new bill of usr_a.
func (w *razorpayWorld) pendingPayment(t *testing.T) domain.Payment {
	t.Helper()
	w.bank.bills["bill_9"] = &domain.Bill{ID: "bill_9", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	p, err := w.pr.PayWithRazorpay(context.Background(), "bill_9", "", "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// noDecisions are answers of a FinFlow service that are none of its
// documented decisions: FinFlow's own fault or misconfiguration.
var noDecisions = []struct {
	name string
	err  error
}{
	{"401 UNAUTHENTICATED", answer(http.StatusUnauthorized, "UNAUTHENTICATED")},
	{"403 FORBIDDEN", answer(http.StatusForbidden, "FORBIDDEN")},
	{"404 ROUTE_NOT_FOUND", answer(http.StatusNotFound, apperr.CodeRouteNotFound)},
	{"400 VALIDATION_FAILED", answer(http.StatusBadRequest, "VALIDATION_FAILED")},
	{"415 UNSUPPORTED_MEDIA_TYPE", answer(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")},
	{"429 RATE_LIMITED", answer(http.StatusTooManyRequests, "RATE_LIMITED")},
	{"409 REFUND_EXISTS", answer(http.StatusConflict, "REFUND_EXISTS")},
	{"404 REFUND_NOT_FOUND", answer(http.StatusNotFound, "REFUND_NOT_FOUND")},
}

// Only the razorpay service's GATEWAY_REFUSED (and, for an order, its
// ORDER_EXISTS) is Razorpay's refusal: any other answer of it leaves every
// operation without a definite answer, never FAILED. Likewise an answer of
// billing or the wallet that is none of their decisions (a 401 of a token
// misconfigured) never fails a payment, never owes a capture back and is
// never read as "no such bill" or "insufficient funds": the work is
// retried.
func TestAnswersThatAreNoDecision(t *testing.T) {
	ctx := context.Background()
	for _, a := range noDecisions {
		t.Run(a.name, func(t *testing.T) {
			t.Run("create the order", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.rzp.answers["create_order"] = a.err
				w.bank.bills["bill_9"] = &domain.Bill{ID: "bill_9", UserID: "usr_a", Amount: 2500, Currency: "INR"}
				_, err := w.pr.PayWithRazorpay(ctx, "bill_9", "", "usr_a")
				if e := apperr.From(err); e.Kind != apperr.KindUnavailable {
					t.Fatalf("PayWithRazorpay = %v, want 503 UNAVAILABLE", err)
				}
				user := id.New(id.User)
				w.bank.balance[user] = 0
				_, err = w.pr.TopUp(ctx, admin, user, 1000, "")
				if e := apperr.From(err); e.Kind != apperr.KindUnavailable {
					t.Fatalf("TopUp = %v, want 503 UNAVAILABLE", err)
				}
			})
			t.Run("admin's refund", func(t *testing.T) {
				w := newRefundWorld(t)
				w.rzp.answers["refund"] = a.err
				r := w.refund(t, w.pid, 2000, "")
				if r.Status != domain.Pending || r.GatewayRetries != 1 || r.GatewayError != nil {
					t.Fatalf("refund = %+v, want PENDING, retried", r)
				}
			})
			t.Run("refund status", func(t *testing.T) {
				w := newRefundWorld(t)
				r := w.refund(t, w.pid, 2000, "")
				w.rzp.answers["refund_status"] = a.err
				until(t, w.razorpayWorld, 8*time.Second, "asked", func() bool { return w.rf.count("refund_status") >= 2 })
				if got := w.refundOf(t, w.pid, r.ID); got.Status != domain.Pending || got.Parked != "" || got.GatewayError != nil {
					t.Fatalf("refund = %+v, want PENDING, retried, not parked as refused", got)
				}
			})
			t.Run("refund owed", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.rzp.payments["pay_S"] = domain.GatewayPayment{ID: "pay_S", OrderID: w.paid.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
				w.rzp.answers["refund"] = a.err
				w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
				until(t, w, time.Second, "tried twice", func() bool { return w.rzp.count("refund") >= 2 })
				if p := w.get(t, lateID("pay_S")); p.Status != domain.Pending || p.Refund.Status != domain.RefundOwed || p.GatewayError != nil {
					t.Fatalf("late payment = %s, refund %+v, want PENDING, refund OWED", p.Status, p.Refund)
				}
			})
			t.Run("confirm a late capture", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.rzp.answers["payment"] = a.err
				w.apply(t, "evt_S", "pay_S", contract.ResultCaptured)
				until(t, w, time.Second, "asked twice", func() bool { return w.rzp.count("payment") >= 2 })
				if p := w.get(t, lateID("pay_S")); p.Status != domain.Pending {
					t.Fatalf("late payment = %s %s, want PENDING", p.Status, p.FailureReason)
				}
			})
			t.Run("reconcile an order", func(t *testing.T) {
				w := newRazorpayWorld(t)
				p := w.pendingPayment(t)
				w.rzp.answers["order_payments"] = a.err
				until(t, w, time.Second, "asked twice", func() bool { return w.rzp.count("order_payments") >= 2 })
				if p = w.get(t, p.ID); p.Status != domain.Pending || p.GatewayError != nil {
					t.Fatalf("payment = %s %s, want PENDING", p.Status, p.FailureReason)
				}
			})
			t.Run("settle a capture", func(t *testing.T) {
				w := newRazorpayWorld(t)
				p := w.pendingPayment(t)
				w.rzp.payments["pay_9"] = domain.GatewayPayment{ID: "pay_9", OrderID: p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
				w.bank.mu.Lock()
				w.bank.billingDown, w.bank.down = true, a.err
				w.bank.mu.Unlock()
				r := domain.GatewayResult{EventID: "evt_9", Event: "payment.captured", Status: contract.ResultCaptured,
					OrderID: p.Razorpay.OrderID, GatewayPaymentID: "pay_9", PaymentID: p.ID, Amount: 2500, Currency: "INR"}
				if out, _, err := w.pr.ApplyResult(ctx, r); err != nil || out != domain.Applied {
					t.Fatalf("ApplyResult = %v, %v; want applied (handed to the gateway work)", out, err)
				}
				until(t, w, time.Second, "the capture confirmed and recorded", func() bool { return w.get(t, p.ID).Razorpay.GatewayPaymentID == "pay_9" })
				// Its settling fails on billing's answer, which is no decision:
				// retried, never owed back.
				r.EventID = "evt_9b"
				if out, _, err := w.pr.ApplyResult(ctx, r); err == nil {
					t.Fatalf("ApplyResult with billing answering %s = %v, nil; want an error (delivered again)", a.name, out)
				}
				if got := w.get(t, p.ID); got.Status != domain.Pending || got.Refund != nil {
					t.Fatalf("payment = %s, refund %+v; want PENDING, nothing owed back", got.Status, got.Refund)
				}
				w.bank.mu.Lock()
				w.bank.billingDown = false
				w.bank.mu.Unlock()
				if got := w.settle(t, p.ID); got.Status != domain.Success {
					t.Fatalf("payment = %s, want SUCCESS once billing answers", got.Status)
				}
			})
			t.Run("pay with Razorpay", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.bank.bills["bill_9"] = &domain.Bill{ID: "bill_9", UserID: "usr_a", Amount: 2500, Currency: "INR"}
				w.bank.billingDown, w.bank.down = true, a.err
				_, err := w.pr.PayWithRazorpay(ctx, "bill_9", "", "usr_a")
				if e := apperr.From(err); e.Kind != apperr.KindUnavailable || errors.Is(err, domain.ErrBillNotFound) {
					t.Fatalf("PayWithRazorpay = %v, want 503 UNAVAILABLE", err)
				}
			})
			t.Run("top up", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.bank.walletDown, w.bank.down = true, a.err
				_, err := w.pr.TopUp(ctx, admin, id.New(id.User), 1000, "")
				if e := apperr.From(err); e.Kind != apperr.KindUnavailable || errors.Is(err, domain.ErrWalletNotFound) {
					t.Fatalf("TopUp = %v, want 503 UNAVAILABLE", err)
				}
			})
			t.Run("refund into the wallet", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.bank.balance["usr_a"] = 5000
				w.bank.bills["bill_9"] = &domain.Bill{ID: "bill_9", UserID: "usr_a", Amount: 2500, Currency: "INR"}
				p, err := w.pr.PayFromWallet(ctx, "bill_9", "", "usr_a")
				if err != nil || p.Status != domain.Success {
					t.Fatalf("PayFromWallet = %s, %v", p.Status, err)
				}
				w.bank.mu.Lock()
				w.bank.walletDown, w.bank.down = true, a.err
				w.bank.mu.Unlock()
				r, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: p.ID, Amount: amountOf(1000), Reason: "goodwill"})
				if err != nil || r.Status != domain.Pending {
					t.Fatalf("refund into a wallet answering %s = %+v, %v; want PENDING", a.name, r, err)
				}
			})
			t.Run("pay from the wallet", func(t *testing.T) {
				w := newRazorpayWorld(t)
				w.bank.balance["usr_a"] = 5000
				w.bank.bills["bill_9"] = &domain.Bill{ID: "bill_9", UserID: "usr_a", Amount: 2500, Currency: "INR"}
				w.bank.walletDown, w.bank.down = true, a.err
				p, _ := w.pr.PayFromWallet(ctx, "bill_9", "", "usr_a")
				if p.Status != domain.Pending {
					t.Fatalf("PayFromWallet with the wallet answering %s = %s %s, want PENDING", a.name, p.Status, p.FailureReason)
				}
			})
		})
	}
}

// The razorpay service's ORDER_EXISTS is its decision about an order (the
// payment has one for another amount): the payment fails, as on Razorpay's
// refusal.
func TestOrderExistsIsADecision(t *testing.T) {
	w := newRazorpayWorld(t)
	w.rzp.answers["create_order"] = answer(http.StatusConflict, "ORDER_EXISTS")
	w.bank.bills["bill_9"] = &domain.Bill{ID: "bill_9", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	p, err := w.pr.PayWithRazorpay(context.Background(), "bill_9", "", "usr_a")
	if p.Status != domain.Failed || p.FailureReason != domain.ReasonGatewayRefused || err == nil {
		t.Fatalf("PayWithRazorpay = %s %s, %v; want FAILED GATEWAY_REFUSED", p.Status, p.FailureReason, err)
	}
}
