// Package domain holds the Razorpay adapter's rules: how a webhook is
// authenticated (before anything in it is trusted), what FinFlow takes from
// Razorpay's event envelope, and the verified result it publishes for the
// payment service.
package domain

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/apperr"
)

// Errors returned by the Razorpay adapter.
var (
	ErrSignatureMissing = apperr.New(apperr.KindInvalid, "INVALID_SIGNATURE", "X-Razorpay-Signature is missing")
	ErrSignatureInvalid = apperr.New(apperr.KindInvalid, "INVALID_SIGNATURE", "X-Razorpay-Signature does not match the body")
	ErrEventIDMissing   = apperr.Invalid("X-Razorpay-Event-Id", "X-Razorpay-Event-Id is missing")
	ErrMalformedEvent   = apperr.New(apperr.KindInvalid, "MALFORMED_EVENT", "the webhook body is not a Razorpay event")
	ErrOrderNotFound    = apperr.New(apperr.KindNotFound, "ORDER_NOT_FOUND", "no such Razorpay order was created by FinFlow")
	ErrGateway          = apperr.New(apperr.KindUnavailable, "GATEWAY_UNAVAILABLE", "Razorpay did not accept the request; try again shortly")
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

// Result statuses.
const (
	Captured = "captured"
	Failed   = "failed"
)

// Result is a verified gateway result, as published to the payment service
// (topic ResultsTopic). EventID is Razorpay's event id (or, for results
// found by reconciliation, "recon:<gateway payment id>"); consumers
// de-duplicate on it.
type Result struct {
	EventID          string    `json:"event_id"`
	Event            string    `json:"event"`
	Status           string    `json:"status"` // captured or failed
	OrderID          string    `json:"order_id"`
	GatewayPaymentID string    `json:"gateway_payment_id"`
	PaymentID        string    `json:"payment_id"` // FinFlow's payment, from the order FinFlow created
	Amount           int64     `json:"amount"`
	Currency         string    `json:"currency"`
	ErrorCode        string    `json:"error_code,omitempty"`
	ErrorDescription string    `json:"error_description,omitempty"`
	At               time.Time `json:"at"`
}

// ResultsTopic is where verified results go; DeadTopic is where the payment
// service's refused ones end up.
const (
	PubSub       = "finflow-pubsub"
	ResultsTopic = "razorpay-results"
	DeadTopic    = "razorpay-results-dead"
)

// envelope is the part of Razorpay's webhook body FinFlow reads.
type envelope struct {
	Entity  string `json:"entity"`
	Event   string `json:"event"`
	Payload struct {
		Payment *struct {
			Entity gatewayPayment `json:"entity"`
		} `json:"payment"`
	} `json:"payload"`
}

type gatewayPayment struct {
	ID               string          `json:"id"`
	OrderID          string          `json:"order_id"`
	Amount           int64           `json:"amount"`
	Currency         string          `json:"currency"`
	Status           string          `json:"status"`
	ErrorCode        *string         `json:"error_code"`
	ErrorDescription *string         `json:"error_description"`
	Notes            json.RawMessage `json:"notes"` // {} or [] when empty
}

// Handled events; others are acknowledged and ignored.
var handled = map[string]string{
	"payment.captured": Captured,
	"order.paid":       Captured,
	"payment.failed":   Failed,
}

// ParseEvent reads a verified webhook body into a Result. ok is false for
// an event FinFlow does not act on (refund.*, payment.authorized, ...).
func ParseEvent(eventID string, body []byte, now time.Time) (r Result, ok bool, err error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Entity != "event" || env.Event == "" {
		return Result{}, false, ErrMalformedEvent
	}
	status, ok := handled[env.Event]
	if !ok {
		return Result{}, false, nil
	}
	if env.Payload.Payment == nil {
		return Result{}, false, ErrMalformedEvent.With(fmt.Sprintf("%s without a payment entity", env.Event), nil)
	}
	p := env.Payload.Payment.Entity
	if p.ID == "" || p.OrderID == "" {
		return Result{}, false, ErrMalformedEvent.With("payment entity without id or order_id", nil)
	}
	r = Result{EventID: eventID, Event: env.Event, Status: status, OrderID: p.OrderID, GatewayPaymentID: p.ID,
		Amount: p.Amount, Currency: p.Currency, At: now.UTC()}
	if p.ErrorCode != nil {
		r.ErrorCode = *p.ErrorCode
	}
	if p.ErrorDescription != nil {
		r.ErrorDescription = *p.ErrorDescription
	}
	return r, true, nil
}

// Order is an order FinFlow created at Razorpay for one payment.
type Order struct {
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
}

// GatewayPayment is one payment attempt on an order, as the gateway reports
// it (for reconciliation).
type GatewayPayment struct {
	ID               string `json:"gateway_payment_id"`
	Status           string `json:"status"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	ErrorCode        string `json:"error_code,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// Refund is a refund FinFlow asked the gateway for.
type Refund struct {
	RefundID         string    `json:"refund_id"`
	PaymentID        string    `json:"payment_id"`
	GatewayPaymentID string    `json:"gateway_payment_id"`
	Amount           int64     `json:"amount"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"created_at"`
}

// Gateway is Razorpay (or the simulator).
type Gateway interface {
	CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (orderID string, err error)
	OrderPayments(ctx context.Context, orderID string) ([]GatewayPayment, error)
	Refund(ctx context.Context, gatewayPaymentID string, amount int64, idempotencyKey string) (refundID, status string, err error)
}

// Store keeps what the adapter did with the gateway.
type Store interface {
	// SaveOrder records an order for its payment; if the payment already has
	// one, it returns that one instead (and found true).
	SaveOrder(ctx context.Context, o Order) (kept Order, found bool, err error)
	// OrderForPayment returns the payment's order, if any.
	OrderForPayment(ctx context.Context, paymentID string) (Order, bool, error)
	// Order returns an order by id. Returns ErrOrderNotFound.
	Order(ctx context.Context, orderID string) (Order, error)
	// EventSeen reports whether a webhook event was already published.
	EventSeen(ctx context.Context, eventID string) (bool, error)
	// MarkEvent records that a webhook event was published.
	MarkEvent(ctx context.Context, eventID string, r Result) error
	// SaveRefund records a refund (one per FinFlow payment).
	SaveRefund(ctx context.Context, r Refund) error
	// RefundForPayment returns the refund made for a payment, if any.
	RefundForPayment(ctx context.Context, paymentID string) (Refund, bool, error)
}

// Publisher publishes verified results.
type Publisher interface {
	Publish(ctx context.Context, pubsub, topic string, data any, eventID string) error
}
