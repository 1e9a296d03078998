package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// RefundRequest is an admin's request to refund a SUCCESS payment: Amount
// in paise (nil: what is left to refund), Reason required.
// IdempotencyToken, when the request carried an Idempotency-Key, is the
// gateway's token of it.
type RefundRequest struct {
	PaymentID        string
	Amount           *money.Amount
	Reason           string
	IdempotencyToken string
}

// MaxRefundReasonLen bounds a refund's reason.
const MaxRefundReasonLen = 200

// RequestRefund refunds a SUCCESS payment, in part or whole, on an admin's
// request. The refund is recorded PENDING on the payment by compare-and-swap
// only if the payment's refunds, FAILED ones aside, stay within its amount
// (so racing refunds never exceed it), then made: a wallet payment's money
// goes back into the wallet at once (ledger reference: the refund id) and
// the refund is SUCCESS; a Razorpay payment's goes back through Razorpay's
// refund API with the refund id as its idempotency key, and the refund is
// SUCCESS when Razorpay says it is processed (its answer, refund.processed,
// or reconciliation), FAILED on a refusal or refund.failed. A keyed request
// derives the refund id, so a retry returns the same refund. When the whole
// amount is refunded, the bill is marked REFUNDED. The payment stays SUCCESS.
//
// Returns VALIDATION_FAILED, auth errors, ErrPaymentNotFound,
// ErrNotRefundable (the payment is not SUCCESS), ErrRefundExceeds.
func (pr *Processor) RequestRefund(ctx context.Context, caller auth.Caller, req RefundRequest) (RefundRecord, Payment, error) {
	if err := caller.Admin(); err != nil {
		return RefundRecord{}, Payment{}, err
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return RefundRecord{}, Payment{}, ErrPaymentNotFound
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxRefundReasonLen || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return RefundRecord{}, Payment{}, apperr.Invalid("reason", "reason is required: text of at most %d characters", MaxRefundReasonLen)
	}
	if req.Amount != nil {
		if err := req.Amount.Validate(); err != nil {
			return RefundRecord{}, Payment{}, err
		}
	}
	refundID := id.New(id.Refund)
	if req.IdempotencyToken != "" {
		refundID = id.Derive(id.Refund, req.IdempotencyToken)
	}
	// Tracked first: a refund recorded but not yet made is driven by
	// reconciliation even if this process stops right after.
	if err := pr.Store.Track(ctx, req.PaymentID); err != nil {
		return RefundRecord{}, Payment{}, err
	}
	pr.settled.remove([]string{req.PaymentID})
	var refusal error
	p, err := pr.update(ctx, req.PaymentID, func(q *Payment) bool {
		refusal = nil
		for _, r := range q.Refunds {
			if r.ID == refundID {
				return false // a retry: the refund already asked for
			}
		}
		if q.Status != Success || q.Purpose != PurposeBill {
			msg := fmt.Sprintf("payment %s is %s: only a SUCCESS payment can be refunded", q.ID, q.Status)
			if q.Purpose != PurposeBill {
				msg = fmt.Sprintf("%s is a wallet top-up: only a bill's payment can be refunded", q.ID)
			}
			refusal = ErrNotRefundable.With(msg, map[string]any{"payment_id": q.ID, "status": string(q.Status)})
			return false
		}
		left := q.Amount - q.Reserved()
		amount := left
		if req.Amount != nil {
			amount = req.Amount.Paise()
		}
		if left <= 0 || amount > left {
			msg := fmt.Sprintf("payment %s has %d of %d paise left to refund; %d asked", q.ID, left, q.Amount, amount)
			if left <= 0 {
				msg = fmt.Sprintf("payment %s is refunded in full already (%d paise, or asked for): nothing is left to refund", q.ID, q.Amount)
			}
			refusal = ErrRefundExceeds.With(msg, map[string]any{"payment_id": q.ID, "amount_refundable": max(left, 0)})
			return false
		}
		now := pr.Now().UTC().Truncate(timeMillis)
		q.Refunds = append(q.Refunds, RefundRecord{ID: refundID, Amount: amount, Reason: reason, Status: Pending, CreatedAt: now, UpdatedAt: now})
		q.note(pr.Now(), fmt.Sprintf("refund %s of %d asked: %s", refundID, amount, reason))
		return true
	})
	if err != nil {
		return RefundRecord{}, Payment{}, err
	}
	if refusal != nil {
		return RefundRecord{}, p, refusal
	}
	if err := pr.makeRefundOf(ctx, p, refundID); err != nil {
		pr.Log.WarnContext(ctx, "refund not made yet; reconciliation goes on", "payment_id", p.ID, "refund_id", refundID, "err", err.Error())
	}
	p, err = pr.Store.Get(ctx, p.ID)
	if err != nil {
		return RefundRecord{}, Payment{}, err
	}
	for _, r := range p.Refunds {
		if r.ID == refundID {
			return r, p, nil
		}
	}
	return RefundRecord{}, p, fmt.Errorf("refund %s of %s vanished", refundID, p.ID)
}

// Refunds returns a payment's refunds, oldest first, to its owner or an
// admin. Returns ErrPaymentNotFound and auth errors.
func (pr *Processor) Refunds(ctx context.Context, caller auth.Caller, paymentID string) (Payment, error) {
	return pr.Payment(ctx, caller, paymentID)
}

// makeRefundOf makes the PENDING refund refundID of p: into the wallet for
// a wallet payment, through Razorpay for a Razorpay one. A definite refusal
// fails it; no definite answer leaves it PENDING (an error, for the log),
// for reconciliation.
func (pr *Processor) makeRefundOf(ctx context.Context, p Payment, refundID string) error {
	var r RefundRecord
	for _, x := range p.Refunds {
		if x.ID == refundID {
			r = x
		}
	}
	if r.Status != Pending {
		return nil
	}
	if p.Method == MethodWallet {
		err := pr.step(ctx, func(ctx context.Context) error { return pr.Wallets.Credit(ctx, p.UserID, r.Amount, r.ID) })
		if g, ok := refusal("the refund into the wallet", err); ok {
			return pr.settleRefund(ctx, p.ID, r.ID, Failed, "", g.String())
		}
		if err != nil {
			return err
		}
		return pr.settleRefund(ctx, p.ID, r.ID, Success, "", "")
	}
	if p.Razorpay == nil || p.Razorpay.GatewayPaymentID == "" {
		return pr.settleRefund(ctx, p.ID, r.ID, Failed, "", "the payment has no captured gateway payment to refund")
	}
	var made contract.Refund
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		made, err = pr.Gateway.Refund(ctx, contract.RefundRequest{PaymentID: p.ID, GatewayPaymentID: p.Razorpay.GatewayPaymentID, Amount: r.Amount, Key: r.ID})
		return err
	})
	if g, ok := refusal("the refund", err); ok {
		return pr.settleRefund(ctx, p.ID, r.ID, Failed, "", "Razorpay refused it: "+g.String())
	}
	if err != nil {
		return err
	}
	return pr.razorpayRefundStatus(ctx, p.ID, r.ID, made)
}

// razorpayRefundStatus records what Razorpay says of a refund it made:
// processed is SUCCESS, failed is FAILED, anything else leaves it PENDING
// (with Razorpay's refund id) for refund.processed or reconciliation.
func (pr *Processor) razorpayRefundStatus(ctx context.Context, paymentID, refundID string, made contract.Refund) error {
	switch made.Status {
	case "processed":
		return pr.settleRefund(ctx, paymentID, refundID, Success, made.RefundID, "")
	case "failed":
		return pr.settleRefund(ctx, paymentID, refundID, Failed, made.RefundID, "Razorpay reports the refund failed")
	}
	_, err := pr.update(ctx, paymentID, func(q *Payment) bool {
		for i := range q.Refunds {
			if q.Refunds[i].ID == refundID && q.Refunds[i].GatewayRefundID == "" && made.RefundID != "" {
				q.Refunds[i].GatewayRefundID = made.RefundID
				return true
			}
		}
		return false
	})
	return err
}

// settleRefund moves a PENDING refund to SUCCESS or FAILED (a later word
// changes nothing), then marks the bill REFUNDED if the whole amount is
// back.
func (pr *Processor) settleRefund(ctx context.Context, paymentID, refundID string, status Status, gatewayRefundID, why string) error {
	p, err := pr.update(ctx, paymentID, func(q *Payment) bool {
		for i := range q.Refunds {
			r := &q.Refunds[i]
			if r.ID != refundID || r.Status != Pending {
				continue
			}
			r.Status, r.UpdatedAt, r.Error = status, pr.Now().UTC().Truncate(timeMillis), why
			if gatewayRefundID != "" {
				r.GatewayRefundID = gatewayRefundID
			}
			q.note(pr.Now(), fmt.Sprintf("refund %s of %d: %s %s", r.ID, r.Amount, status, why))
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	pr.Log.InfoContext(ctx, "refund settled", "payment_id", paymentID, "refund_id", refundID, "status", status, "why", why)
	return pr.markBillRefunded(ctx, p)
}

// markBillRefunded marks a wholly refunded payment's bill REFUNDED, once.
func (pr *Processor) markBillRefunded(ctx context.Context, p Payment) error {
	if !p.billRefundOwed() {
		return nil
	}
	err := pr.step(ctx, func(ctx context.Context) error { return pr.Bills.MarkRefunded(ctx, p.BillID, p.ID) })
	if err != nil {
		return fmt.Errorf("marking bill %s refunded: %w", p.BillID, err)
	}
	_, err = pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.BillRefunded {
			return false
		}
		q.BillRefunded = true
		q.note(pr.Now(), "bill "+q.BillID+" REFUNDED: the whole amount is back")
		return true
	})
	return err
}

// refundWork drives what is left of a final payment's refunds: makes those
// not made yet (again: idempotent by refund id), asks Razorpay about those
// it made and did not settle, and marks the bill REFUNDED when due.
func (pr *Processor) refundWork(ctx context.Context, p Payment) error {
	var errs []error
	for _, r := range p.Refunds {
		if r.Status != Pending {
			continue
		}
		if p.Method == MethodWallet || r.GatewayRefundID == "" {
			errs = append(errs, pr.makeRefundOf(ctx, p, r.ID))
			continue
		}
		var now contract.Refund
		err := pr.step(ctx, func(ctx context.Context) error {
			var err error
			now, err = pr.Gateway.RefundStatus(ctx, r.ID)
			return err
		})
		if g, ok := refusal("the refund's status", err); ok {
			errs = append(errs, fmt.Errorf("refund %s: %s", r.ID, g.String()))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, pr.razorpayRefundStatus(ctx, p.ID, r.ID, now))
	}
	if p, err := pr.Store.Get(ctx, p.ID); err == nil {
		errs = append(errs, pr.markBillRefunded(ctx, p))
	}
	return errors.Join(errs...)
}

// applyRefundResult applies Razorpay's refund.processed or refund.failed:
// to the admin's refund it names, or to the capture FinFlow gave back (the
// key is the payment's own id). A refund Razorpay failed after accepting
// a capture given back is parked: that money is not back.
func (pr *Processor) applyRefundResult(ctx context.Context, p Payment, r GatewayResult) (Outcome, string, error) {
	status := Success
	if r.Status == contract.ResultRefundFailed {
		status = Failed
	}
	if r.RefundKey == p.ID {
		if p.Refund == nil {
			return pr.reject(ctx, r, "payment "+p.ID+" gave no capture back")
		}
		now := "processed"
		if status == Failed {
			now = "failed"
		}
		final, err := pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Refund == nil || q.Refund.Status == now || q.Refund.Status == RefundRefused || q.Refund.Status == RefundNotMade {
				return false
			}
			q.Refund.Status = now
			if q.Refund.RefundID == "" {
				q.Refund.RefundID = r.GatewayRefundID
			}
			q.note(pr.Now(), "Razorpay: the refund of the capture given back is "+now)
			// The event may come before the refund's own answer (lost, or
			// slower): it is made, so the payment ends.
			q.fail(q.Refund.For, pr.Now())
			return true
		})
		if err != nil {
			return pr.failedDelivery(ctx, r, err)
		}
		if final.Status == Failed {
			pr.releaseClaim(ctx, final)
			pr.noteSettled(ctx, final)
		}
		if status == Failed {
			if err := pr.park(ctx, DeadLetter{EventID: r.EventID, Kind: ParkRefundFailed, PaymentID: p.ID, Result: r,
				Reason: fmt.Sprintf("Razorpay failed the refund of %d of %s it had accepted: the money is not back", r.Amount, r.GatewayPaymentID)}); err != nil {
				return pr.failedDelivery(ctx, r, err)
			}
		}
		return pr.applied(ctx, r)
	}
	found := false
	for _, x := range p.Refunds {
		found = found || x.ID == r.RefundKey
	}
	if !found {
		return pr.reject(ctx, r, fmt.Sprintf("payment %s has no refund %s", p.ID, r.RefundKey))
	}
	why := ""
	if status == Failed {
		why = "Razorpay: refund.failed"
	}
	if err := pr.settleRefund(ctx, p.ID, r.RefundKey, status, r.GatewayRefundID, why); err != nil {
		return pr.failedDelivery(ctx, r, err)
	}
	return pr.applied(ctx, r)
}

// applied records that a result was applied.
func (pr *Processor) applied(ctx context.Context, r GatewayResult) (Outcome, string, error) {
	pr.deliveries.forget(r.EventID)
	if err := pr.Store.MarkEventApplied(ctx, r.EventID); err != nil {
		// Applied already; a redelivery is applied again and changes nothing.
		pr.Log.WarnContext(ctx, "recording an applied gateway event", "event_id", r.EventID, "err", err.Error())
	}
	return Applied, "", nil
}
