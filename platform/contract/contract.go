// Package contract is the one home of what FinFlow's services say to each
// other: their Dapr app ids, the internal paths one calls on another, the
// pub/sub topics and the events on them, and the error codes that cross a
// service boundary. Both sides of every exchange import it, so a name, a
// field or a code cannot drift between the sender and the receiver.
//
// The public API is described by docs/api-contract.md and served as OpenAPI
// by the gateway; this package is the internal half.
package contract

import (
	"net/url"
	"time"

	"github.com/finflow/finflow/platform/apperr"
)

// Dapr app ids of the six services.
const (
	AppGateway  = "gateway"
	AppUser     = "user"
	AppWallet   = "wallet"
	AppBilling  = "billing"
	AppPayment  = "payment"
	AppRazorpay = "razorpay"
)

// PubSub is the pub/sub component every event travels on.
const PubSub = "finflow-pubsub"

// Topics. The razorpay service publishes every signature-verified Razorpay
// result FinFlow acts on to TopicGatewayResults (consumed by the payment
// service), and every verified event FinFlow cannot act on but an operator
// should see (a malformed body, an order FinFlow never made) to
// TopicGatewayParked. The payment service's subscription sends what it
// refuses to the same TopicGatewayParked as its dead-letter topic, and keeps
// everything that arrives there as a dead letter (GET /admin/dead-letters).
const (
	TopicGatewayResults = "razorpay-results"
	TopicGatewayParked  = "razorpay-results-dead"
)

// Gateway result statuses.
const (
	ResultCaptured = "captured"
	ResultFailed   = "failed"
)

// GatewayResult is a signature-verified result from Razorpay, as published on
// TopicGatewayResults (or on TopicGatewayParked, with Reason). Consumers
// de-duplicate on EventID: Razorpay's X-Razorpay-Event-Id, "recon:<gateway
// payment id>" for a result found by reconciliation, or "body:<sha-256>" for
// a verified delivery that came without an event id. Amount is integer paise.
type GatewayResult struct {
	EventID          string    `json:"event_id"`
	Event            string    `json:"event"`  // payment.captured, order.paid, payment.failed, reconciliation
	Status           string    `json:"status"` // ResultCaptured or ResultFailed
	OrderID          string    `json:"order_id"`
	GatewayPaymentID string    `json:"gateway_payment_id"`
	PaymentID        string    `json:"payment_id"` // FinFlow's payment, from the order FinFlow made ("" if none)
	Amount           int64     `json:"amount"`
	Currency         string    `json:"currency"`
	ErrorCode        string    `json:"error_code,omitempty"`
	ErrorDescription string    `json:"error_description,omitempty"`
	At               time.Time `json:"at"`
	// Reason says why an event was parked instead of acted on (only on
	// TopicGatewayParked).
	Reason string `json:"reason,omitempty"`
}

// Internal routes of the razorpay service, called by the payment service
// through Dapr service invocation (never routed by the gateway).
const (
	// PathCreateOrder takes CreateOrderRequest and answers the order.
	PathCreateOrder = "/razorpay/create-order"
	// PathRefund takes RefundRequest and answers the refund.
	PathRefund = "/razorpay/refund"
)

// PathOrderPayments is the razorpay service's route listing the gateway's
// payment attempts on one of FinFlow's orders (reconciliation).
func PathOrderPayments(orderID string) string {
	return "/razorpay/orders/" + url.PathEscape(orderID) + "/payments"
}

// PathGatewayPayment is the razorpay service's route fetching one gateway
// payment from Razorpay (GET /v1/payments/{id}).
func PathGatewayPayment(gatewayPaymentID string) string {
	return "/razorpay/payments/" + url.PathEscape(gatewayPaymentID)
}

// CreateOrderRequest asks for the Razorpay order of a FinFlow payment, in
// paise. Asking again for the same payment answers the same order.
type CreateOrderRequest struct {
	PaymentID string `json:"payment_id"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
}

// Order is the Razorpay order of a FinFlow payment, as a checkout needs it.
type Order struct {
	OrderID  string `json:"order_id"`
	KeyID    string `json:"key_id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// RefundRequest asks Razorpay to give back Amount paise of a captured
// gateway payment on behalf of FinFlow's payment PaymentID. The refund is
// made at most once per PaymentID (Razorpay's X-Refund-Idempotency).
type RefundRequest struct {
	PaymentID        string `json:"payment_id"`
	GatewayPaymentID string `json:"gateway_payment_id"`
	Amount           int64  `json:"amount"`
}

// Refund is a refund Razorpay accepted. Status is Razorpay's (pending,
// processed).
type Refund struct {
	RefundID         string    `json:"refund_id"`
	PaymentID        string    `json:"payment_id"`
	GatewayPaymentID string    `json:"gateway_payment_id"`
	Amount           int64     `json:"amount"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"created_at"`
}

// GatewayPayment is one payment at Razorpay, as Razorpay reports it: an
// attempt on an order (reconciliation) or a payment fetched by id. Amounts
// are integer paise.
type GatewayPayment struct {
	ID               string `json:"gateway_payment_id"`
	OrderID          string `json:"order_id,omitempty"`
	Status           string `json:"status"` // created, authorized, captured, refunded, failed
	Amount           int64  `json:"amount"`
	AmountRefunded   int64  `json:"amount_refunded"`
	Currency         string `json:"currency"`
	ErrorCode        string `json:"error_code,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// Error codes that cross a service boundary. The razorpay service sends
// them; the payment service matches them with errors.Is.
const (
	// CodeGatewayRefused: Razorpay gave a definite refusal (HTTP 400-499
	// but 408 and 429). Details carry Razorpay's answer (GatewayStatus,
	// GatewayCode, GatewayDescription, GatewayField). Never worth retrying.
	CodeGatewayRefused = "GATEWAY_REFUSED"
	// CodeGatewayUnavailable: Razorpay did not give a definite answer (408,
	// 429, 5xx, a timeout, no connection). Worth retrying later.
	CodeGatewayUnavailable = "GATEWAY_UNAVAILABLE"
)

// Detail keys of a GATEWAY_REFUSED error.
const (
	GatewayStatus      = "gateway_status"
	GatewayCode        = "gateway_code"
	GatewayDescription = "gateway_description"
	GatewayField       = "gateway_field"
)

// ErrGatewayRefused is Razorpay's definite refusal (422).
var ErrGatewayRefused = apperr.New(apperr.KindUnprocessable, CodeGatewayRefused, "Razorpay refused the request")

// ErrGatewayUnavailable is Razorpay not answering definitely (503).
var ErrGatewayUnavailable = apperr.New(apperr.KindUnavailable, CodeGatewayUnavailable, "Razorpay did not answer; try again shortly")
