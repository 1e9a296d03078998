// Package domain holds FinFlow's payment model and the orchestration that
// moves a payment from PENDING to SUCCESS or FAILED without losing or
// double-counting money.
//
// A wallet payment is recorded PENDING before anything moves, then takes
// three steps, each idempotent and keyed by the payment id:
//
//  1. claim the bill (one active payment per bill, so a racing second
//     payment is refused before any money moves),
//  2. debit the wallet (reference = payment id: applied at most once),
//  3. mark the bill PAID by this payment (at most once, by one payment),
//
// and only then becomes SUCCESS. Because every step can be repeated safely,
// a payment interrupted anywhere (a service down, a timeout, a process
// killed) is simply driven again from the start by the recovery loop, and
// ends where an uninterrupted one would have. A payment fails only on a
// definite answer: the bill is claimed by another payment, the wallet lacks
// funds or does not exist (no money moved), or the bill turned out paid by
// another payment after the debit (then the debit is given back first).
package domain

import (
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
)

// Method is how a payment is paid.
type Method string

// Payment methods.
const (
	MethodWallet   Method = "WALLET"
	MethodRazorpay Method = "RAZORPAY"
)

// Status is a payment's state. It only moves PENDING to SUCCESS or PENDING
// to FAILED.
type Status string

// Payment states.
const (
	Pending Status = "PENDING"
	Success Status = "SUCCESS"
	Failed  Status = "FAILED"
)

// Failure reasons.
const (
	ReasonInsufficientFunds = contract.CodeInsufficientFunds
	ReasonBillAlreadyPaid   = contract.CodeBillAlreadyPaid
	ReasonBillNotFound      = contract.CodeBillNotFound
	ReasonWalletNotFound    = contract.CodeWalletNotFound
	ReasonGatewayFailed     = "PAYMENT_FAILED"      // the gateway reported the payment failed
	ReasonExpired           = "EXPIRED"             // the order was never paid within its lifetime
	ReasonOrderNotCreated   = "GATEWAY_UNAVAILABLE" // the gateway order could not be created (kept for old records)
	ReasonDuplicate         = "DUPLICATE_REQUEST"   // another pending Razorpay payment of the bill was returned instead
	ReasonForbidden         = "FORBIDDEN"           // the bill turned out to be another user's
	// Razorpay refused what FinFlow asked for this payment (an order, a
	// look at the order): GatewayError holds Razorpay's answer.
	ReasonGatewayRefused = "GATEWAY_REFUSED"
	// A late capture Razorpay does not confirm as this order's, for this
	// amount and currency, captured (GatewayError or the history says
	// what differs).
	ReasonCaptureMismatch = "CAPTURE_MISMATCH"
	// A late capture Razorpay could not be asked about, after every retry.
	ReasonCaptureUnconfirmed = "CAPTURE_NOT_CONFIRMED"
	// The capture was refunded at Razorpay (from its dashboard) before
	// FinFlow settled it: no money to settle.
	ReasonRefundedAtGateway = "REFUNDED_AT_GATEWAY"
	// A capture of a top-up's order after the top-up was credited by
	// another: refunded.
	ReasonTopUpCredited = "TOPUP_ALREADY_CREDITED"
)

// timeMillis is the precision of every time FinFlow records.
const timeMillis = time.Millisecond

// Purpose is what a payment's money is for.
type Purpose string

// Purposes. A bill payment settles a bill (the contract's payment object);
// a top-up puts money into its user's wallet through Razorpay (the
// contract's top-up object, id top_...).
const (
	PurposeBill  Purpose = ""
	PurposeTopUp Purpose = "TOPUP"
)

// Payment is one attempt to pay a bill, or to top a wallet up.
type Payment struct {
	ID      string
	Purpose Purpose
	BillID  string // a bill payment's bill
	// TopUpID is the top-up a TOPUP payment settles: its own id, or for a
	// late capture of a top-up's order, that top-up's.
	TopUpID string
	// UserID, Amount and Currency come from the bill; they are empty until
	// the bill has been read (a payment accepted while billing was down).
	UserID        string
	Amount        int64
	Currency      string
	Method        Method
	Status        Status
	FailureReason string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// History records every transition, for operators.
	History []Event
	// Razorpay is the gateway order of a RAZORPAY payment.
	Razorpay *RazorpayOrder
	// Refund records money given back through the gateway.
	Refund *Refund
	// LateCaptureOf names the payment whose order got this payment's
	// late (or second) capture; SettledBy, on that payment, names this one
	// once Razorpay confirmed the capture and it was settled.
	LateCaptureOf string
	SettledBy     string
	// GatewayError is Razorpay's definite refusal of something FinFlow
	// asked for this payment (an order, a refund, a look at a payment).
	GatewayError *GatewayError
	// GatewayRetries counts the times Razorpay gave no answer to the
	// gateway work this payment still needs; RetryAt is when it may be
	// tried again (RetryPolicy).
	GatewayRetries int
	RetryAt        time.Time
	// Seq is the payment's place in its user's list (package listindex);
	// 0 until it is listed.
	Seq int64
	// Refunds are the refunds an admin asked for (RequestRefund);
	// BillRefunded records that the bill was marked REFUNDED once they
	// gave the whole amount back.
	Refunds      []RefundRecord
	BillRefunded bool
	// Unconfirmed are the gateway payments a verified result (a webhook,
	// signed with the webhook secret) reported captured on this payment's
	// order and that Razorpay's own API has not confirmed yet, in the order
	// heard, at most MaxUnconfirmed. None of them has moved money: the
	// gateway work asks Razorpay about each (confirmCaptures) and only a
	// confirmed one is bound to the order and settled.
	Unconfirmed []string
	// Disowned are gateway payments Razorpay's API describes as no capture
	// of this payment's order for its amount and currency (another order,
	// amount or currency: facts that never change): parked once, a result
	// naming one again is refused at once, and reconciliation passes it by.
	Disowned []string
}

// MaxUnconfirmed bounds Payment.Unconfirmed: a result naming one more
// capture is refused (parked); a genuine one is still found by
// reconciliation in the order's payments.
const MaxUnconfirmed = 16

// RefundRecord is a refund of a SUCCESS payment an admin asked for: PENDING
// until the money is back (a wallet payment: at once; Razorpay: on
// refund.processed or reconciliation), then SUCCESS, or FAILED (Razorpay
// refused it, or refund.failed).
type RefundRecord struct {
	ID              string    `json:"id"`
	Amount          int64     `json:"amount"`
	Reason          string    `json:"reason"`
	Status          Status    `json:"status"`
	GatewayRefundID string    `json:"gateway_refund_id,omitempty"`
	Error           string    `json:"error,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	// GatewayError is Razorpay's definite refusal of the refund, or of
	// telling its status.
	GatewayError *GatewayError `json:"gateway_error,omitempty"`
	// The gateway work of a Razorpay refund (making it, then asking its
	// status): GatewayRetries counts Razorpay's no-answers since its last
	// answer, Asks the answers that it is still pending; RetryAt is when
	// the work may be done next (RetryPolicy). Parked names the dead
	// letter the work was parked with ("": not parked); parked work is
	// still tried, every RetryPolicy.Max.
	GatewayRetries int       `json:"gateway_retries,omitempty"`
	Asks           int       `json:"asks,omitempty"`
	RetryAt        time.Time `json:"retry_at,omitzero"`
	Parked         string    `json:"parked,omitempty"`
}

// claimKey is what a payment must hold before it settles: its bill, or
// its top-up.
func (p Payment) claimKey() string {
	if p.Purpose == PurposeTopUp {
		return p.TopUpID
	}
	return p.BillID
}

// Reserved is the money of the payment's refunds that are not FAILED, in
// paise: what can no longer be refunded.
func (p Payment) Reserved() int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.Status != Failed {
			n += r.Amount
		}
	}
	return n
}

// AmountRefunded is the money of its SUCCESS refunds, in paise.
func (p Payment) AmountRefunded() int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.Status == Success {
			n += r.Amount
		}
	}
	return n
}

// pendingRefunds reports whether a refund of the payment is still PENDING.
func (p Payment) pendingRefunds() bool {
	for _, r := range p.Refunds {
		if r.Status == Pending {
			return true
		}
	}
	return false
}

// NeedsWork reports whether anything of the payment is still to be done:
// it is PENDING, a refund of it is, or its bill is still to be marked
// REFUNDED. (The pending index keeps it until then.)
func (p Payment) NeedsWork() bool {
	return p.Status == Pending || p.pendingRefunds() || p.billRefundOwed() || len(p.Unconfirmed) > 0
}

func (p Payment) billRefundOwed() bool {
	return p.Purpose == PurposeBill && p.Status == Success && !p.BillRefunded && p.Amount > 0 && p.AmountRefunded() == p.Amount
}

// GatewayError is Razorpay's definite refusal (HTTP 400-499 but 408 and
// 429), as FinFlow recorded it.
type GatewayError struct {
	Op          string `json:"op"` // what FinFlow asked: "creating the order", "refunding ...", ...
	Status      int    `json:"status"`
	Code        string `json:"code,omitempty"`
	Description string `json:"description"`
	Field       string `json:"field,omitempty"`
}

// String is Razorpay's answer in one line: "400 BAD_REQUEST_ERROR: The
// payment has been fully refunded already."
func (g *GatewayError) String() string {
	s := fmt.Sprint(g.Status)
	if g.Code != "" {
		s += " " + g.Code
	}
	return s + ": " + g.Description
}

// RazorpayOrder is what a client needs to pay a RAZORPAY payment at
// checkout, and what the gateway reported.
type RazorpayOrder struct {
	OrderID          string `json:"order_id"`
	KeyID            string `json:"key_id"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	GatewayPaymentID string `json:"gateway_payment_id,omitempty"`
}

// Refund is captured money FinFlow gives back through the gateway because
// the capture cannot pay its bill (the bill was paid by another payment,
// or is gone). A payment owing one stays PENDING until Razorpay makes it
// (then FAILED with reason For) or refuses it (FAILED, parked for an
// operator); one Razorpay does not answer is parked (NOT_MADE) and still
// tried.
type Refund struct {
	RefundID string `json:"refund_id,omitempty"`
	Amount   int64  `json:"amount"`
	// Status is RefundOwed, Razorpay's status of a refund made (pending,
	// processed), RefundRefused or RefundNotMade.
	Status string `json:"status,omitempty"`
	// For is the failure reason the payment ends with.
	For string `json:"for,omitempty"`
	// Error says why a refund was not made.
	Error string `json:"error,omitempty"`
}

// refundToMake reports whether p owes a refund of its capture not made
// yet: OWED, or NOT_MADE (parked, and still tried).
func (p Payment) refundToMake() bool {
	return p.Refund != nil && (p.Refund.Status == RefundOwed || p.Refund.Status == RefundNotMade)
}

// Refund states FinFlow sets (Razorpay's own, pending and processed, mean
// it was made).
const (
	RefundOwed    = "OWED"     // to be made
	RefundRefused = "REFUSED"  // Razorpay refused it: parked
	RefundNotMade = "NOT_MADE" // Razorpay never answered, after every retry: parked, still tried
)

// Event is one entry of a payment's history.
type Event struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// Errors returned by the payment service.
var (
	ErrPaymentNotFound   = contract.ErrPaymentNotFound
	ErrBillNotFound      = contract.ErrBillNotFound
	ErrBillAlreadyPaid   = contract.ErrBillAlreadyPaid.With("this bill is already paid, or being paid by another payment", nil)
	ErrInsufficientFunds = contract.ErrInsufficientFunds
	ErrWalletNotFound    = contract.ErrWalletNotFound
	ErrUserNotFound      = contract.ErrUserNotFound
	// ErrPaymentExists is returned by Store.Create for an id already taken
	// (a retried keyed payment derives the same id).
	ErrPaymentExists = apperr.New(apperr.KindConflict, "PAYMENT_EXISTS", "a payment with this id already exists")
	ErrKeyReused     = apperr.New(apperr.KindUnprocessable, contract.CodeIdempotencyKeyReused, "this Idempotency-Key was used to pay a different bill")
	// ErrRefundKeyReused is ErrKeyReused for a refund: the key's refund id
	// is bound to another payment or another request.
	ErrRefundKeyReused = ErrKeyReused.With("this Idempotency-Key was used for a different refund", nil)
	// ErrTopUpNotFound: no such top-up.
	ErrTopUpNotFound = contract.ErrTopUpNotFound
	// ErrNotRefundable: only a SUCCESS payment can be refunded.
	ErrNotRefundable = apperr.New(apperr.KindConflict, "PAYMENT_NOT_REFUNDABLE", "only a SUCCESS payment can be refunded")
	// ErrRefundExceeds: the refunds would give back more than was paid.
	ErrRefundExceeds = apperr.New(apperr.KindUnprocessable, "REFUND_EXCEEDS_PAYMENT", "the refunds of a payment cannot exceed its amount")
	// ErrTooManyRefunds: the payment has MaxRefunds refunds already that
	// did not fail, or MaxRefundRecords in all.
	ErrTooManyRefunds = apperr.New(apperr.KindUnprocessable, "REFUND_LIMIT_REACHED", "a payment can have at most 100 refunds")
	// ErrRefundBelowMinimum: a refund through Razorpay of less than its
	// smallest refund (MinRazorpayRefund), or one that would leave less
	// than that to refund, which could then never be refunded.
	ErrRefundBelowMinimum = apperr.New(apperr.KindUnprocessable, "REFUND_BELOW_MINIMUM", "a refund through Razorpay is at least ₹1.00")
	// ErrBelowRazorpayMinimum: a bill for less than Razorpay takes
	// (MinRazorpayAmount) cannot be paid through Razorpay, only from the
	// wallet; nothing is recorded.
	ErrBelowRazorpayMinimum = apperr.New(apperr.KindUnprocessable, "AMOUNT_BELOW_MINIMUM", "Razorpay takes payments of ₹1.00 (100 paise) or more: pay this bill from the wallet")
	// ErrForbidden refuses to pay another user's bill.
	ErrForbidden = apperr.New(apperr.KindForbidden, apperr.CodeForbidden, "you may only pay your own bills")
)

// errorFor maps a failure reason to the error the client gets.
var errorFor = map[string]*apperr.Error{
	ReasonInsufficientFunds: ErrInsufficientFunds,
	ReasonBillAlreadyPaid:   ErrBillAlreadyPaid,
	ReasonBillNotFound:      ErrBillNotFound,
	ReasonWalletNotFound:    ErrWalletNotFound,
	ReasonGatewayRefused:    contract.ErrGatewayRefused,
}

// failureWords says in plain words why a payment FAILED, for the failure
// reasons that are no error code of another service (the code of the
// answer is the reason itself).
var failureWords = map[string]string{
	ReasonGatewayFailed:      "Razorpay reported the payment failed; the bill can be paid again",
	ReasonExpired:            "the Razorpay order was not paid within its lifetime; the bill can be paid again",
	ReasonOrderNotCreated:    "the Razorpay order could not be made; the bill can be paid again",
	ReasonDuplicate:          "another Razorpay payment of the bill, under way, was returned instead",
	ReasonForbidden:          "the bill is another user's",
	ReasonCaptureMismatch:    "Razorpay does not confirm the capture as this order's, for this amount and currency",
	ReasonCaptureUnconfirmed: "Razorpay could not be asked to confirm the capture",
	ReasonRefundedAtGateway:  "the capture was refunded at Razorpay before FinFlow settled it",
	ReasonTopUpCredited:      "the top-up was credited by another capture of its order; this one is refunded",
}

// Detail keys that name the record an error is about: a payment (read at
// GET /Payment/{id}) or a top-up (read at GET /wallet/topup/{id}).
const (
	DetailPayment = "payment_id"
	DetailTopUp   = "topup_id"
)

// Named returns the details that name p to a client: {"topup_id": id} for
// a top-up, {"payment_id": id} for a payment.
func (p Payment) Named() map[string]any {
	if p.Purpose == PurposeTopUp {
		return map[string]any{DetailTopUp: p.ID}
	}
	return map[string]any{DetailPayment: p.ID}
}

// noun is what p is called in a client's message.
func (p Payment) noun() string {
	if p.Purpose == PurposeTopUp {
		return "top-up"
	}
	return "payment"
}

// Err returns the client error of a FAILED payment, naming it in details
// (Named: payment_id, or topup_id for a top-up), or nil for any other
// payment.
func (p Payment) Err(message string) error {
	if p.Status != Failed {
		return nil
	}
	base, ok := errorFor[p.FailureReason]
	if !ok {
		words, known := failureWords[p.FailureReason]
		if !known {
			words = "it failed (" + p.FailureReason + ")"
		}
		base = apperr.New(apperr.KindUnprocessable, p.FailureReason, p.noun()+" "+p.ID+" FAILED: "+words)
	}
	details := p.Named()
	if g := p.GatewayError; g != nil {
		details[contract.GatewayStatus], details[contract.GatewayCode], details[contract.GatewayDescription] = g.Status, g.Code, g.Description
		if message == "" {
			message = "Razorpay refused " + g.Op + ": " + g.Description
		}
	}
	if message == "" {
		message = base.Message
	}
	return base.With(message, details)
}

// NewRazorpayPayment returns a PENDING Razorpay payment for a bill.
func NewRazorpayPayment(paymentID string, b Bill, now time.Time) Payment {
	p := NewWalletPayment(paymentID, b, now)
	p.Method = MethodRazorpay
	return p
}

// NewWalletPayment returns a PENDING wallet payment for a bill, with the
// given id ("" for a fresh one). The bill's details may be unknown yet
// (zero Bill other than its id).
func NewWalletPayment(paymentID string, b Bill, now time.Time) Payment {
	if paymentID == "" {
		paymentID = id.New(id.Payment)
	}
	now = now.UTC().Truncate(time.Millisecond)
	p := Payment{ID: paymentID, BillID: b.ID, Method: MethodWallet, Status: Pending, CreatedAt: now, UpdatedAt: now}
	if b.Amount > 0 {
		p.setBill(b)
	}
	p.History = []Event{{At: now, What: "PENDING: created"}}
	return p
}

func (p *Payment) setBill(b Bill) {
	p.UserID, p.Amount, p.Currency = b.UserID, b.Amount, b.Currency
}

// knowsBill reports whether the bill's details have been read (amounts are
// never zero). Until then UserID, if set, is the user who asked to pay.
func (p *Payment) knowsBill() bool { return p.Amount > 0 }

func (p *Payment) note(now time.Time, what string) {
	p.UpdatedAt = now.UTC().Truncate(time.Millisecond)
	p.History = append(p.History, Event{At: p.UpdatedAt, What: what})
}

// succeed moves a PENDING payment to SUCCESS. It reports whether it changed
// anything (false when the payment is already final).
func (p *Payment) succeed(now time.Time) bool {
	if p.Status != Pending {
		return false
	}
	p.Status = Success
	p.note(now, "SUCCESS")
	return true
}

// fail moves a PENDING payment to FAILED with reason.
func (p *Payment) fail(reason string, now time.Time) bool {
	if p.Status != Pending {
		return false
	}
	p.Status = Failed
	p.FailureReason = reason
	p.note(now, "FAILED: "+reason)
	return true
}

// captureRecorded reports whether p is an order's own payment with a
// capture of the order recorded on it.
func (p *Payment) captureRecorded() bool {
	return p.LateCaptureOf == "" && p.Razorpay != nil && p.Razorpay.GatewayPaymentID != ""
}

// captureHeard reports whether p is an order's own payment with a capture
// of the order recorded on it, or reported and not confirmed yet
// (Unconfirmed): news that no capture came cannot end it until Razorpay
// has said what that capture is.
func (p *Payment) captureHeard() bool {
	return p.captureRecorded() || p.LateCaptureOf == "" && len(p.Unconfirmed) > 0
}

// orderNewsIgnored says why endOrder left p as it is.
func (p *Payment) orderNewsIgnored() string {
	switch {
	case p.Status != Pending:
		return string(p.Status)
	case p.Razorpay.GatewayPaymentID == "":
		return fmt.Sprintf("captures %v are being confirmed with Razorpay", p.Unconfirmed)
	}
	return "capture " + p.Razorpay.GatewayPaymentID + " is being settled"
}

// Bill is what the payment service knows of a bill.
type Bill struct {
	ID        string
	UserID    string
	Amount    int64
	Currency  string
	Paid      bool
	PaymentID string
	// Refunded: the bill was paid and its money given back (REFUNDED); it
	// is Paid too, and can never be paid again.
	Refunded bool
}
