package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/id"
)

// ErrGatewayUnavailable is returned when the Razorpay order cannot be made.
var ErrGatewayUnavailable = apperr.New(apperr.KindUnavailable, "UNAVAILABLE", "Razorpay is not answering; try again shortly")

// errNotRecorded means a result's effect could not be recorded now; the
// result must be delivered again.
var errNotRecorded = errors.New("the payment's new state could not be recorded yet")

// PayWithRazorpay starts a Razorpay payment of a bill: a PENDING payment
// holding the bill's claim, with a gateway order for the client's checkout.
// Asking again while a Razorpay payment of the bill is PENDING returns that
// same payment. The payment only succeeds when a verified gateway result
// says so (ApplyResult).
// payer is as for PayFromWallet.
func (pr *Processor) PayWithRazorpay(ctx context.Context, billID, paymentID, payer string) (Payment, error) {
	if paymentID != "" {
		if p, err := pr.Store.Get(ctx, paymentID); err == nil {
			if p.BillID != billID || p.Method != MethodRazorpay {
				return Payment{}, ErrKeyReused
			}
			return pr.withOrder(ctx, p)
		} else if !errors.Is(err, ErrPaymentNotFound) {
			return Payment{}, err
		}
	}
	bill, err := pr.getBill(ctx, billID)
	if err != nil {
		return Payment{}, err
	}
	if payer != "" && bill.UserID != payer {
		return Payment{}, ErrForbidden
	}
	if bill.Paid {
		return Payment{}, ErrBillAlreadyPaid.With("bill "+billID+" is already paid", map[string]any{"bill_id": billID})
	}
	if p, ok, err := pr.pendingRazorpay(ctx, billID); err != nil || ok {
		return p, err
	}
	p := NewRazorpayPayment(paymentID, bill, pr.Now())
	if err := pr.Store.Create(ctx, p); errors.Is(err, ErrPaymentExists) {
		return pr.PayWithRazorpay(ctx, billID, paymentID, payer)
	} else if err != nil {
		return Payment{}, err
	}
	var claimed *ClaimedError
	if err := pr.Store.ClaimBill(ctx, billID, p.ID); errors.As(err, &claimed) {
		// A payment raced us to the bill. If it is a pending Razorpay
		// payment, that is the one to return; ours never had an order.
		holder, ok, herr := pr.pendingRazorpay(ctx, billID)
		if herr == nil && ok {
			_, _ = pr.finishFailed(ctx, p, ReasonDuplicate, false, nil)
			return holder, nil
		}
		return pr.finishFailed(ctx, p, ReasonBillAlreadyPaid, false, nil)
	} else if err != nil {
		return pr.stillPending(p, "claiming the bill", err)
	}
	return pr.withOrder(ctx, p)
}

// pendingRazorpay returns the bill's claim holder when it is a PENDING
// Razorpay payment; a holder that is any other active payment is
// ErrBillAlreadyPaid.
func (pr *Processor) pendingRazorpay(ctx context.Context, billID string) (Payment, bool, error) {
	holderID, found, err := pr.Store.BillClaim(ctx, billID)
	if err != nil || !found {
		return Payment{}, false, err
	}
	holder, err := pr.Store.Get(ctx, holderID)
	if errors.Is(err, ErrPaymentNotFound) {
		return Payment{}, false, nil
	} else if err != nil {
		return Payment{}, false, err
	}
	switch {
	case holder.Status == Failed:
		return Payment{}, false, nil
	case holder.Method == MethodRazorpay && holder.Status == Pending:
		p, err := pr.withOrder(ctx, holder)
		return p, err == nil, err
	default:
		return Payment{}, false, ErrBillAlreadyPaid.With("bill "+billID+" is already paid, or being paid by another payment", map[string]any{"bill_id": billID})
	}
}

// withOrder makes sure the payment has its gateway order. If the gateway
// refuses to make one (a definite answer), the payment fails: no money has
// moved. If the razorpay service or Razorpay cannot be reached now, the
// payment stays PENDING without an order and the client gets 503: asking
// again (the same Idempotency-Key, or the same bill) makes the order then,
// and an order never made expires with the order lifetime (Reconcile).
func (pr *Processor) withOrder(ctx context.Context, p Payment) (Payment, error) {
	if p.Razorpay != nil || p.Status != Pending {
		return p, nil
	}
	var order RazorpayOrder
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		order, err = pr.Gateway.CreateOrder(ctx, p.ID, p.Amount, p.Currency)
		return err
	})
	if err != nil {
		var refused *apperr.Error
		if errors.As(err, &refused) && refused.Kind != apperr.KindUnavailable && refused.Kind != apperr.KindInternal {
			if _, ferr := pr.finishFailed(ctx, p, ReasonOrderNotCreated, false, nil); ferr != nil && !errors.Is(ferr, ErrGatewayUnavailable) {
				pr.Log.Warn("failing a payment without an order", "payment_id", p.ID, "err", ferr.Error())
			}
			return Payment{}, ErrGatewayUnavailable.Wrap(err)
		}
		pr.Log.Warn("gateway order not made yet; payment left pending", "payment_id", p.ID, "err", err.Error())
		e := ErrGatewayUnavailable.Wrap(err)
		e.Details = map[string]any{"payment_id": p.ID}
		return Payment{}, e
	}
	return pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Razorpay != nil {
			return false
		}
		q.Razorpay = &order
		q.note(pr.Now(), "gateway order "+order.OrderID)
		return true
	})
}

// Outcome is what ApplyResult did with a gateway result; it maps to the
// answer given to Dapr (SUCCESS, RETRY or DROP).
type Outcome int

// Outcomes.
const (
	Applied   Outcome = iota // done (or nothing left to do): SUCCESS
	Duplicate                // seen before: SUCCESS
	Rejected                 // not acceptable, kept as a dead letter: DROP
)

// ApplyResult applies a verified gateway result to its payment, exactly as
// a webhook should: a capture makes the payment SUCCESS and the bill PAID
// (or, if another payment already paid the bill, is refunded); a failure
// makes a PENDING payment FAILED and leaves the bill UNPAID; a capture after
// a failure (late authorisation) settles the bill through a new payment
// linked to the failed one, or is refunded. Repeats and results arriving
// out of order change nothing twice. A result that does not match what
// FinFlow created (unknown payment, other order, other amount) is Rejected.
// A returned error is transient: the result should be delivered again.
func (pr *Processor) ApplyResult(ctx context.Context, r GatewayResult) (Outcome, string, error) {
	if r.EventID == "" {
		return Rejected, "the result has no event id", nil
	}
	applied, err := pr.Store.EventApplied(ctx, r.EventID)
	if err != nil {
		return 0, "", err
	}
	if applied {
		return Duplicate, "", nil
	}
	p, err := pr.Store.Get(ctx, r.PaymentID)
	if errors.Is(err, ErrPaymentNotFound) || r.PaymentID == "" {
		return pr.reject(ctx, r, "no FinFlow payment for order "+r.OrderID)
	} else if err != nil {
		return 0, "", err
	}
	switch {
	case p.Method != MethodRazorpay || p.Razorpay == nil:
		return pr.reject(ctx, r, "payment "+p.ID+" has no Razorpay order")
	case p.Razorpay.OrderID != r.OrderID:
		return pr.reject(ctx, r, fmt.Sprintf("order %s is not payment %s's order %s", r.OrderID, p.ID, p.Razorpay.OrderID))
	case r.Amount != p.Amount || r.Currency != p.Currency:
		return pr.reject(ctx, r, fmt.Sprintf("amount %d %s does not match the payment's %d %s", r.Amount, r.Currency, p.Amount, p.Currency))
	case r.Status != "captured" && r.Status != "failed":
		return pr.reject(ctx, r, "unknown result status "+r.Status)
	}
	if err := pr.apply(ctx, p, r); err != nil {
		return 0, "", err
	}
	if err := pr.Store.MarkEventApplied(ctx, r.EventID); err != nil {
		// Applied already; a redelivery is applied again and changes nothing.
		pr.Log.Warn("recording an applied gateway event", "event_id", r.EventID, "err", err.Error())
	}
	return Applied, "", nil
}

func (pr *Processor) reject(ctx context.Context, r GatewayResult, reason string) (Outcome, string, error) {
	pr.Log.Warn("gateway result refused", "event_id", r.EventID, "order_id", r.OrderID, "payment_id", r.PaymentID, "reason", reason)
	if err := pr.Store.AddDeadLetter(ctx, DeadLetter{EventID: r.EventID, Reason: reason, Result: r, Received: pr.Now().UTC()}); err != nil {
		return 0, "", err
	}
	return Rejected, reason, nil
}

func (pr *Processor) apply(ctx context.Context, p Payment, r GatewayResult) error {
	if r.Status == "failed" {
		if p.Status != Pending {
			_, err := pr.update(ctx, p.ID, func(q *Payment) bool {
				q.note(pr.Now(), "gateway reported "+r.GatewayPaymentID+" failed (ignored: already "+string(q.Status)+")")
				return true
			})
			return err
		}
		if final, _ := pr.finishFailed(ctx, p, ReasonGatewayFailed, false, nil); final.Status == Pending {
			return errNotRecorded
		}
		return nil
	}
	switch {
	case p.Status == Pending:
		return pr.settleCapture(ctx, p, r)
	case p.Status == Success && (p.Razorpay.GatewayPaymentID == r.GatewayPaymentID || p.Razorpay.GatewayPaymentID == ""):
		return nil // the same capture again (payment.captured and order.paid)
	case p.Status == Failed && p.SettledBy != "" && id.Derive(id.Payment, "late:"+r.GatewayPaymentID) == p.SettledBy:
		return nil
	default:
		// A capture of a FAILED payment (late authorisation), or a second
		// capture on a paid order: settled through a payment of its own.
		return pr.lateCapture(ctx, p, r)
	}
}

// settleCapture marks the bill PAID by p and p SUCCESS; if another payment
// paid the bill, the captured money is refunded and p FAILED.
func (pr *Processor) settleCapture(ctx context.Context, p Payment, r GatewayResult) error {
	err := pr.step(ctx, func(ctx context.Context) error { return pr.Bills.MarkPaid(ctx, p.BillID, p.ID) })
	if errors.Is(err, ErrBillAlreadyPaid) {
		return pr.refundAndFail(ctx, p, r)
	}
	if err != nil {
		return err
	}
	_, err = pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Status != Pending {
			return false
		}
		q.Razorpay.GatewayPaymentID = r.GatewayPaymentID
		q.note(pr.Now(), fmt.Sprintf("gateway %s: %s captured", r.Event, r.GatewayPaymentID))
		return q.succeed(pr.Now())
	})
	if err == nil {
		pr.Log.Info("razorpay payment succeeded", "payment_id", p.ID, "bill_id", p.BillID, "gateway_payment_id", r.GatewayPaymentID)
	}
	return err
}

// refundAndFail gives the captured money back through the gateway, records
// the refund, and fails p.
func (pr *Processor) refundAndFail(ctx context.Context, p Payment, r GatewayResult) error {
	var refund Refund
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		refund, err = pr.Gateway.Refund(ctx, p.ID, r.GatewayPaymentID, r.Amount)
		return err
	})
	if err != nil {
		return err
	}
	_, err = pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Status != Pending {
			return false
		}
		q.Razorpay.GatewayPaymentID = r.GatewayPaymentID
		q.Refund = &refund
		q.note(pr.Now(), fmt.Sprintf("captured %s after the bill was paid by another payment: refunded %d as %s", r.GatewayPaymentID, refund.Amount, refund.RefundID))
		return q.fail(ReasonBillAlreadyPaid, pr.Now())
	})
	if err != nil {
		return err
	}
	if err := pr.Store.ReleaseBill(ctx, p.BillID, p.ID); err != nil {
		pr.Log.Warn("releasing the bill claim", "payment_id", p.ID, "err", err.Error())
	}
	pr.Log.Info("captured payment refunded", "payment_id", p.ID, "refund_id", refund.RefundID, "amount", refund.Amount)
	return nil
}

// lateCapture settles a capture that arrived for a payment that is already
// final: through a new payment (its id derived from the gateway payment, so
// repeats find it) that pays the bill if it is still unpaid, or is refunded.
// The original payment records both events.
func (pr *Processor) lateCapture(ctx context.Context, orig Payment, r GatewayResult) error {
	lateID := id.Derive(id.Payment, "late:"+r.GatewayPaymentID)
	late, err := pr.Store.Get(ctx, lateID)
	if errors.Is(err, ErrPaymentNotFound) {
		late = NewRazorpayPayment(lateID, Bill{ID: orig.BillID, UserID: orig.UserID, Amount: orig.Amount, Currency: orig.Currency}, pr.Now())
		order := *orig.Razorpay
		order.GatewayPaymentID = r.GatewayPaymentID
		late.Razorpay = &order
		late.LateCaptureOf = orig.ID
		late.note(pr.Now(), fmt.Sprintf("late capture %s of payment %s", r.GatewayPaymentID, orig.ID))
		if cerr := pr.Store.Create(ctx, late); cerr != nil && !errors.Is(cerr, ErrPaymentExists) {
			return cerr
		}
		late, err = pr.Store.Get(ctx, lateID)
	}
	if err != nil {
		return err
	}
	if late.Status == Pending {
		var claimed *ClaimedError
		switch err := pr.Store.ClaimBill(ctx, late.BillID, late.ID); {
		case errors.As(err, &claimed):
			if err := pr.refundAndFail(ctx, late, r); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := pr.settleCapture(ctx, late, r); err != nil {
				return err
			}
		}
	}
	_, err = pr.update(ctx, orig.ID, func(q *Payment) bool {
		if q.SettledBy == lateID {
			return false
		}
		q.SettledBy = lateID
		q.note(pr.Now(), fmt.Sprintf("gateway %s: late capture %s, settled by payment %s", r.Event, r.GatewayPaymentID, lateID))
		return true
	})
	return err
}

// ReconcileConfig tunes reconciliation; read on every round.
type ReconcileConfig struct {
	Interval      func() time.Duration
	After         func() time.Duration // PENDING at least this long before the gateway is asked
	OrderLifetime func() time.Duration // unpaid for this long: FAILED, EXPIRED
}

// Reconcile asks the gateway about Razorpay payments that stayed PENDING
// (a webhook lost or late) and settles them exactly as the webhook would
// have, until ctx is done.
func (pr *Processor) Reconcile(ctx context.Context, cfg ReconcileConfig) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Interval()):
		}
		if err := pr.ReconcileOnce(ctx, cfg); err != nil && ctx.Err() == nil {
			pr.Log.Warn("reconciliation round failed", "err", err.Error())
		}
	}
}

// ReconcileOnce runs one round of reconciliation.
func (pr *Processor) ReconcileOnce(ctx context.Context, cfg ReconcileConfig) error {
	pending, err := pr.Store.Pending(ctx)
	if err != nil {
		return err
	}
	now := pr.Now()
	for pid, indexed := range pending {
		if now.Sub(indexed) < cfg.After() {
			continue
		}
		p, err := pr.Store.Get(ctx, pid)
		if err != nil || p.Method != MethodRazorpay || p.Status != Pending {
			continue
		}
		if err := pr.reconcile(ctx, p, now, cfg); err != nil {
			pr.Log.Warn("reconciling a payment", "payment_id", p.ID, "err", err.Error())
		}
	}
	return nil
}

func (pr *Processor) reconcile(ctx context.Context, p Payment, now time.Time, cfg ReconcileConfig) error {
	expired := now.Sub(p.CreatedAt) > cfg.OrderLifetime()
	if p.Razorpay == nil {
		if expired {
			pr.reconciledAction("expired")
			_, _ = pr.finishFailed(ctx, p, ReasonExpired, false, nil) // a failure to record it is retried next round
		}
		return nil
	}
	var attempts []GatewayPayment
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		attempts, err = pr.Gateway.OrderPayments(ctx, p.Razorpay.OrderID)
		return err
	})
	if err != nil {
		return err
	}
	var failed *GatewayPayment
	for i, a := range attempts {
		switch a.Status {
		case "captured", "refunded":
			pr.reconciledAction("captured")
			_, _, err := pr.ApplyResult(ctx, pr.reconciled(p, a, "captured"))
			return err
		case "failed":
			failed = &attempts[i]
		}
	}
	if failed != nil {
		pr.reconciledAction("failed")
		_, _, err := pr.ApplyResult(ctx, pr.reconciled(p, *failed, "failed"))
		return err
	}
	if expired {
		pr.reconciledAction("expired")
		_, _ = pr.finishFailed(ctx, p, ReasonExpired, false, nil) // a failure to record it is retried next round
	}
	return nil
}

func (pr *Processor) reconciledAction(action string) {
	if pr.OnReconcile != nil {
		pr.OnReconcile(action)
	}
}

func (pr *Processor) reconciled(p Payment, a GatewayPayment, status string) GatewayResult {
	return GatewayResult{EventID: "recon:" + a.ID, Event: "reconciliation", Status: status, OrderID: p.Razorpay.OrderID,
		GatewayPaymentID: a.ID, PaymentID: p.ID, Amount: a.Amount, Currency: a.Currency,
		ErrorCode: a.ErrorCode, ErrorDescription: a.ErrorDescription, At: pr.Now().UTC()}
}
