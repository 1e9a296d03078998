package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/money"
)

// Razorpay's answer to a call is held to the call: the order made is the
// order asked for (amount, currency, receipt, notes), the payments listed
// are the order's, the payment fetched is the one asked about, the refund
// made or fetched is the refund asked about (its id, payment, amount,
// currency, notes). An answer about something else is not Razorpay's
// answer to this request, whatever rewrote it (a proxy, a cache, a
// misrouted call): it is no definite answer (asked again later), logged,
// and nothing of it is recorded or passed on.

// NoteOrderPayment is the note naming the FinFlow payment (or top-up) an
// order is for; the payment id is the order's receipt too.
const NoteOrderPayment = "payment_id"

// Refund statuses Razorpay answers.
var refundStatuses = map[string]bool{"pending": true, "processed": true, "failed": true}

// Errors of answers that are not about what FinFlow asked.
var (
	errAnswerNotAsked = errors.New("Razorpay's answer is not about what FinFlow asked")
	// ErrOrderIDInUse is an order id FinFlow already recorded for another
	// payment: Razorpay never makes one order twice, so an answer naming
	// it is not Razorpay's.
	ErrOrderIDInUse = errors.New("the order id is recorded for another payment")
)

// notAsked is the no-definite-answer error of an answer of op that is not
// about what was asked, saying how.
func notAsked(op Op, format string, args ...any) error {
	return Unanswered(op, fmt.Errorf("%w: "+format, append([]any{errAnswerNotAsked}, args...)...))
}

// checkAnswer logs an answer that did not hold (err, from a check below)
// and returns err.
func (a *Adapter) checkAnswer(ctx context.Context, err error, key, value string) error {
	if err != nil {
		a.Log.WarnContext(ctx, "Razorpay's answer refused: no definite answer", key, value, "err", err.Error())
	}
	return err
}

// checkOrderAnswer holds the order Razorpay made to the order asked for:
// a Razorpay order id, the amount and currency asked, the payment id as
// receipt and (when Razorpay answers notes) in notes.
func checkOrderAnswer(req contract.CreateOrderRequest, o OrderAnswer) error {
	const op = OpCreateOrder
	note, noted := o.Notes[NoteOrderPayment]
	switch {
	case !ValidOrderID(o.ID):
		return Unanswered(op, fmt.Errorf("%w: %q", errAnswerOrderID, printable(o.ID, 64)))
	case o.Amount != req.Amount:
		return notAsked(op, "order %s is of %d paise, not the %d asked", o.ID, o.Amount, req.Amount)
	case o.Currency != req.Currency:
		return notAsked(op, "order %s is in %q, not %s", o.ID, printable(o.Currency, 8), req.Currency)
	case o.Receipt != req.PaymentID:
		return notAsked(op, "order %s has receipt %q, not %s", o.ID, printable(o.Receipt, 64), req.PaymentID)
	case noted && note != req.PaymentID:
		return notAsked(op, "order %s has note %s %q, not %s", o.ID, NoteOrderPayment, printable(note, 64), req.PaymentID)
	}
	return nil
}

// checkOrderPaymentAnswer holds one payment of a listing of order o's
// payments to o: Razorpay's ids, o's id, and o's amount and currency
// (FinFlow's orders take no partial payments, so every attempt on one is
// of its amount).
func checkOrderPaymentAnswer(o Order, p contract.GatewayPayment) error {
	const op = OpOrderPayments
	if err := checkPaymentAnswer(op, p, true); err != nil {
		return err
	}
	switch {
	case p.OrderID != o.OrderID:
		return notAsked(op, "payment %s is of order %s, not %s", p.ID, p.OrderID, o.OrderID)
	case p.Currency != o.Currency:
		return notAsked(op, "payment %s of order %s is in %q, not the order's %s", p.ID, o.OrderID, printable(p.Currency, 8), o.Currency)
	case p.Amount != o.Amount:
		return notAsked(op, "payment %s of order %s is of %d paise, not the order's %d", p.ID, o.OrderID, p.Amount, o.Amount)
	}
	return nil
}

// checkFetchedPaymentAnswer holds a fetched payment to the id asked (its
// order, amount and currency are the payment service's to compare: a late
// capture is settled only if they are its own).
func checkFetchedPaymentAnswer(asked string, p contract.GatewayPayment) error {
	const op = OpFetchPayment
	if err := checkPaymentAnswer(op, p, false); err != nil {
		return err
	}
	if p.ID != asked {
		return notAsked(op, "it is payment %s, not %s", p.ID, asked)
	}
	return nil
}

// refundAsked is the refund FinFlow asked Razorpay to make (RefundID
// empty) or asked about (RefundID: the refund it was made as).
type refundAsked struct {
	RefundID, Key, PaymentID, GatewayPaymentID string
	Amount                                     int64
}

// checkRefundAnswer holds Razorpay's refund to the refund asked: a Razorpay
// refund id (the one asked about, when fetching), a refund of the gateway
// payment asked, of the amount asked, in INR (the only currency FinFlow
// handles), with a status Razorpay documents, and notes (when Razorpay
// answers them) naming this refund's key and FinFlow payment.
func checkRefundAnswer(op Op, asked refundAsked, r RefundAnswer) error {
	key, keyNoted := r.Notes[NoteRefundKey]
	payment, paymentNoted := r.Notes[NotePaymentID]
	switch {
	case !ValidRefundID(r.ID):
		return Unanswered(op, fmt.Errorf("%w: %q", errAnswerRefundID, printable(r.ID, 64)))
	case asked.RefundID != "" && r.ID != asked.RefundID:
		return notAsked(op, "it is refund %s, not %s", r.ID, asked.RefundID)
	case r.PaymentID != asked.GatewayPaymentID:
		return notAsked(op, "refund %s is of payment %q, not %s", r.ID, printable(r.PaymentID, 64), asked.GatewayPaymentID)
	case r.Amount != asked.Amount:
		return notAsked(op, "refund %s is of %d paise, not %d", r.ID, r.Amount, asked.Amount)
	case r.Currency != money.INR:
		return notAsked(op, "refund %s is in %q, not %s", r.ID, printable(r.Currency, 8), money.INR)
	case !refundStatuses[r.Status]:
		return notAsked(op, "refund %s has status %q, not one Razorpay documents", r.ID, printable(r.Status, 32))
	case keyNoted && key != asked.Key:
		return notAsked(op, "refund %s has note %s %q, not %s", r.ID, NoteRefundKey, printable(key, 64), asked.Key)
	case paymentNoted && payment != asked.PaymentID:
		return notAsked(op, "refund %s has note %s %q, not %s", r.ID, NotePaymentID, printable(payment, 64), asked.PaymentID)
	}
	return nil
}

// refund is Razorpay's answer as the refund FinFlow passes on: Razorpay's
// refund id, payment, amount and status, and the refund key and FinFlow
// payment its notes name (FinFlow's own where Razorpay answered no notes,
// as for refunds made before FinFlow wrote them).
func (r RefundAnswer) refund(key, paymentID string, createdAt time.Time) contract.Refund {
	if k, ok := r.Notes[NoteRefundKey]; ok {
		key = k
	}
	if p, ok := r.Notes[NotePaymentID]; ok {
		paymentID = p
	}
	return contract.Refund{RefundID: r.ID, Key: key, PaymentID: paymentID, GatewayPaymentID: r.PaymentID, Amount: r.Amount, Status: r.Status, CreatedAt: createdAt}
}
