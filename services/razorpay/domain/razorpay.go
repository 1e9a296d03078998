// Package domain holds the Razorpay adapter's rules and use cases: how a
// webhook is authenticated (before anything in it is trusted), what FinFlow
// does with every kind of verified event, how each answer of Razorpay is
// classified (ClassifyAnswer), and the orders, refunds and lookups the
// payment service asks for (Adapter).
package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
)

// Errors returned by the Razorpay adapter.
var (
	ErrSignatureMissing = apperr.New(apperr.KindInvalid, "INVALID_SIGNATURE", "X-Razorpay-Signature is missing")
	ErrSignatureInvalid = apperr.New(apperr.KindInvalid, "INVALID_SIGNATURE", "X-Razorpay-Signature does not match the body")
	ErrOrderNotFound    = apperr.New(apperr.KindNotFound, "ORDER_NOT_FOUND", "no such Razorpay order was created by FinFlow")
	ErrOrderExists      = apperr.New(apperr.KindConflict, "ORDER_EXISTS", "this payment already has an order for another amount")
	ErrRefundExists     = apperr.New(apperr.KindConflict, "REFUND_EXISTS", "this payment already has a refund of another gateway payment or amount")
)

// VerifySignature reports whether signature is the lower-case hex HMAC-SHA256
// of body with secret (as Razorpay sends it), comparing in constant time.
// Other spellings of the same MAC (upper-case hex) are refused: there is one
// valid signature per body. (Found by FuzzVerifySignature.)
func VerifySignature(body []byte, signature, secret string) error {
	if signature == "" {
		return ErrSignatureMissing
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(signature), []byte(want)) {
		return ErrSignatureInvalid
	}
	return nil
}

// ValidEventID accepts Razorpay's event ids (X-Razorpay-Event-Id: base62,
// sometimes with a prefix and underscore) and little else: 4 to 64
// characters of [A-Za-z0-9_-].
func ValidEventID(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// BodyEventID is the event id of a verified delivery that came without a
// usable X-Razorpay-Event-Id: "body:" and the SHA-256 of the body, so a
// redelivery of the same body is still recognised as a repeat.
func BodyEventID(body []byte) string {
	sum := sha256.Sum256(body)
	return "body:" + hex.EncodeToString(sum[:16])
}

// Verdict is what FinFlow does with a verified event.
type Verdict int

// Verdicts of ParseEvent.
const (
	// Act: a result about a payment FinFlow may have started; published
	// for the payment service.
	Act Verdict = iota
	// Ignore: an event FinFlow does not use (refund.created,
	// payment.authorized, ...) or a payment FinFlow did not start (no
	// order: a QR code, a payment link, another integration on the same
	// account). Recorded, nothing else.
	Ignore
	// Malformed: a verified body that is not what Razorpay documents.
	// Recorded and parked for an operator.
	Malformed
	// Foreign: a refund of the account FinFlow did not make (Razorpay's
	// dashboard, another integration): money moved outside FinFlow.
	// Recorded and parked for an operator.
	Foreign
)

// envelope is the part of Razorpay's webhook body FinFlow reads.
type envelope struct {
	Entity  string `json:"entity"`
	Event   string `json:"event"`
	Payload struct {
		Payment *struct {
			Entity *gatewayPayment `json:"entity"`
		} `json:"payment"`
		Refund *struct {
			Entity *gatewayRefund `json:"entity"`
		} `json:"refund"`
	} `json:"payload"`
}

// gatewayRefund is the part of Razorpay's refund entity FinFlow reads.
// FinFlow makes every refund with notes naming its key and payment.
type gatewayRefund struct {
	ID        string          `json:"id"`
	PaymentID string          `json:"payment_id"`
	Amount    json.RawMessage `json:"amount"`
	Currency  string          `json:"currency"`
	Notes     json.RawMessage `json:"notes"` // {} or [] when empty
}

// Notes FinFlow puts on every refund it makes, so that Razorpay's refund
// events name the refund and payment they are about.
const (
	NoteRefundKey = "finflow_refund_key"
	NotePaymentID = "finflow_payment_id"
)

type gatewayPayment struct {
	ID               string          `json:"id"`
	OrderID          *string         `json:"order_id"`
	Amount           json.RawMessage `json:"amount"`
	Currency         string          `json:"currency"`
	Status           string          `json:"status"`
	ErrorCode        *string         `json:"error_code"`
	ErrorDescription *string         `json:"error_description"`
}

// handled maps the events FinFlow acts on to the result they carry.
var handled = map[string]string{
	"payment.captured": contract.ResultCaptured,
	"order.paid":       contract.ResultCaptured,
	"payment.failed":   contract.ResultFailed,
	"refund.processed": contract.ResultRefunded,
	"refund.failed":    contract.ResultRefundFailed,
}

// ParseEvent reads a verified webhook body. It returns the result to
// publish (Act), or the verdict Ignore, Malformed or Foreign with the
// reason; the result then carries whatever could be read (for the delivery
// log). It never fails: every verified body gets a verdict. A result to act
// on carries only ids that are Razorpay's (its order, payment and refund)
// and, in a refund's notes, FinFlow's (eventIDsProblem): an event naming
// anything else is Malformed.
func ParseEvent(eventID string, body []byte, now time.Time) (Result, Verdict, string) {
	r, verdict, reason := parseEvent(eventID, body, now)
	if verdict != Act {
		// What could be read goes to the delivery log and an operator:
		// printable, and no FinFlow payment id that is not one.
		r.OrderID, r.GatewayPaymentID, r.GatewayRefundID = printable(r.OrderID, 64), printable(r.GatewayPaymentID, 64), printable(r.GatewayRefundID, 64)
		if !ValidFinFlowPayment(r.PaymentID) {
			r.PaymentID = ""
		}
		r.RefundKey = printable(r.RefundKey, 64)
	}
	return r, verdict, reason
}

func parseEvent(eventID string, body []byte, now time.Time) (Result, Verdict, string) {
	r := Result{EventID: eventID, At: now.UTC()}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return r, Malformed, "the body is not a Razorpay event: " + shortError(err)
	}
	if env.Entity != "event" || env.Event == "" {
		return r, Malformed, `the body is not a Razorpay event (no "entity":"event" and "event")`
	}
	r.Event = printable(env.Event, 64)
	status, ok := handled[env.Event]
	if !ok {
		return r, Ignore, "FinFlow does not use " + r.Event + " events"
	}
	r.Status = status
	if status == contract.ResultRefunded || status == contract.ResultRefundFailed {
		return parseRefund(r, env)
	}
	if env.Payload.Payment == nil || env.Payload.Payment.Entity == nil {
		return r, Malformed, r.Event + " without a payment entity"
	}
	p := env.Payload.Payment.Entity
	r.GatewayPaymentID = p.ID
	if p.ID == "" {
		return r, Malformed, "a payment entity without an id"
	}
	if p.OrderID == nil || *p.OrderID == "" {
		return r, Ignore, "a payment without an order: not started by FinFlow (a QR code, a payment link or another integration)"
	}
	r.OrderID = *p.OrderID
	if problem := eventIDsProblem(r); problem != "" {
		return r, Malformed, problem
	}
	amount, ok := paise(p.Amount)
	if !ok {
		return r, Malformed, fmt.Sprintf("payment amount %s is not a positive whole number of paise", printable(string(p.Amount), 32))
	}
	r.Amount, r.Currency = amount, printable(p.Currency, 8)
	if p.ErrorCode != nil {
		r.ErrorCode = printable(*p.ErrorCode, 64)
	}
	if p.ErrorDescription != nil {
		r.ErrorDescription = printable(*p.ErrorDescription, 300)
	}
	return r, Act, ""
}

// paise reads an amount strictly as a positive JSON integer: not a string,
// not a fraction.
func paise(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil && n > 0
}

// parseRefund reads a refund.processed or refund.failed event: the refund
// FinFlow made (named by its notes), or, without FinFlow's notes, a refund
// made elsewhere (the dashboard): then the verdict is Foreign.
func parseRefund(r Result, env envelope) (Result, Verdict, string) {
	if env.Payload.Refund == nil || env.Payload.Refund.Entity == nil {
		return r, Malformed, r.Event + " without a refund entity"
	}
	rf := env.Payload.Refund.Entity
	r.GatewayRefundID, r.GatewayPaymentID = rf.ID, rf.PaymentID
	if rf.ID == "" || rf.PaymentID == "" {
		return r, Malformed, "a refund entity without an id or payment_id"
	}
	var notes map[string]string
	_ = json.Unmarshal(rf.Notes, &notes) // [] (no notes) leaves it empty
	r.RefundKey, r.PaymentID = notes[NoteRefundKey], notes[NotePaymentID]
	if problem := eventIDsProblem(r); problem != "" {
		return r, Malformed, problem
	}
	amount, ok := paise(rf.Amount)
	if !ok {
		return r, Malformed, fmt.Sprintf("refund amount %s is not a positive whole number of paise", printable(string(rf.Amount), 32))
	}
	r.Amount, r.Currency = amount, printable(rf.Currency, 8)
	if r.RefundKey == "" || r.PaymentID == "" {
		// The payment entity beside it names the order, by which the
		// adapter finds FinFlow's payment: the operator's dead letter
		// then says whose money went back.
		if pe := env.Payload.Payment; pe != nil && pe.Entity != nil && pe.Entity.ID == rf.PaymentID && pe.Entity.OrderID != nil && ValidOrderID(*pe.Entity.OrderID) {
			r.OrderID = *pe.Entity.OrderID
		}
		return r, Foreign, "refund " + r.GatewayRefundID + " of " + r.GatewayPaymentID + " was not made by FinFlow (Razorpay's dashboard, or another integration)"
	}
	return r, Act, ""
}

func shortError(err error) string { return printable(err.Error(), 120) }

// Result is a verified gateway result (see contract.GatewayResult).
type Result = contract.GatewayResult

// Order is an order FinFlow created at Razorpay for one payment.
type Order struct {
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
}
