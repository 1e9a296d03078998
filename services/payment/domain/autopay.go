package domain

import (
	"context"
	"errors"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
)

// Autopay pays a subscription's bill from its owner's wallet, as a wallet
// payment would be paid (contract.AutopayBill, from the billing service).
// The payment id is derived from the bill, so a repeated event finds the
// same payment: a bill is autopaid at most once. A wallet that is short (or
// missing) makes the payment FAILED and leaves the bill UNPAID; a bill paid
// meanwhile by its owner needs nothing more; both are Applied. An event
// naming no valid bill is Rejected (parked). A returned error is FinFlow's
// own (a store down): deliver again.
func (pr *Processor) Autopay(ctx context.Context, ev contract.AutopayBill) (Outcome, string, error) {
	r := GatewayResult{EventID: "autopay:" + ev.EventID, Event: "autopay", PaymentID: id.Derive(id.Payment, "autopay:"+ev.BillID), Amount: ev.Amount, Currency: ev.Currency}
	if !id.Valid(id.Bill, ev.BillID) || !id.Valid(id.User, ev.UserID) {
		return pr.reject(ctx, r, "an autopay event without a valid bill and user")
	}
	p, err := pr.PayFromWallet(ctx, ev.BillID, r.PaymentID, ev.UserID)
	var refused *apperr.Error
	switch {
	case err == nil:
		pr.Log.InfoContext(ctx, "autopay", "bill_id", ev.BillID, "payment_id", p.ID, "status", p.Status)
		return Applied, "", nil
	case errors.Is(err, ErrBillNotFound), errors.Is(err, ErrForbidden):
		return pr.reject(ctx, r, "autopay of bill "+ev.BillID+": "+err.Error())
	case errors.As(err, &refused) && refused.Kind != apperr.KindUnavailable && refused.Kind != apperr.KindInternal:
		// A definite answer: the payment FAILED (a short wallet), or the
		// bill is paid already. Recorded; nothing to retry.
		pr.Log.InfoContext(ctx, "autopay not paid", "bill_id", ev.BillID, "payment_id", p.ID, "reason", refused.Code)
		return Applied, refused.Code, nil
	default:
		return pr.failedDelivery(ctx, r, err)
	}
}
