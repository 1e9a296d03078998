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

// Gateway result statuses: a payment captured or failed, a refund
// processed or failed.
const (
	ResultCaptured     = "captured"
	ResultFailed       = "failed"
	ResultRefunded     = "refund_processed"
	ResultRefundFailed = "refund_failed"
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
	// RefundKey and GatewayRefundID name the refund of a refund result:
	// the key FinFlow made it with (a FinFlow refund id, or the payment id
	// of a capture given back) and Razorpay's id of it.
	RefundKey       string `json:"refund_key,omitempty"`
	GatewayRefundID string `json:"gateway_refund_id,omitempty"`
	// Reason says why an event was parked instead of acted on (only on
	// TopicGatewayParked).
	Reason string `json:"reason,omitempty"`
}

// Internal routes one service calls on another through Dapr service
// invocation (never routed by the gateway), with their bodies below.
const (
	// PathWalletDebit (wallet, POST) takes DebitRequest: takes money from
	// a wallet at most once per reference. ErrInsufficientFunds,
	// ErrWalletNotFound.
	PathWalletDebit = "/wallet/deduct"
	// PathWalletReverse (wallet, POST) takes ReverseRequest: gives the
	// debit with that reference back, at most once.
	PathWalletReverse = "/wallet/reverse"
	// PathWalletCredit (wallet, POST) takes CreditRequest: puts money into
	// a wallet at most once per reference (a top-up's id, a refund's id).
	// ErrWalletNotFound.
	PathWalletCredit = "/wallet/credit"
	// PathBillMarkPaid (billing, PUT) takes MarkPaidRequest: marks a bill
	// PAID by one payment, at most once. ErrBillAlreadyPaid,
	// ErrBillNotFound.
	PathBillMarkPaid = "/billing/updateStatus"
	// PathBillMarkRefunded (billing, PUT) takes MarkRefundedRequest: marks
	// a bill PAID by that payment REFUNDED (its whole amount was refunded).
	// Again changes nothing. ErrBillNotFound, ErrBillAlreadyPaid (PAID by
	// another payment).
	PathBillMarkRefunded = "/billing/refunded"

	// PathCreateOrder takes CreateOrderRequest and answers the order.
	PathCreateOrder = "/razorpay/create-order"
	// PathRefund takes RefundRequest and answers the refund.
	PathRefund = "/razorpay/refund"
)

// PathWalletBalance is the wallet service's route for a user's wallet
// (GET: the balance, or ErrWalletNotFound).
func PathWalletBalance(userID string) string { return "/wallet/balance/" + url.PathEscape(userID) }

// PathUser is the user service's route for one user (GET: the user, or
// ErrUserNotFound).
func PathUser(userID string) string { return "/users/" + url.PathEscape(userID) }

// PathBill is the billing service's route for one bill (GET: Bill, or
// ErrBillNotFound).
func PathBill(billID string) string { return "/billing/" + url.PathEscape(billID) }

// DebitRequest takes Amount paise from UserID's wallet, at most once per
// Reference (the payment id).
type DebitRequest struct {
	UserID    string `json:"user_id"`
	Amount    int64  `json:"amount"`
	Reference string `json:"reference"`
}

// CreditRequest puts Amount paise into UserID's wallet, at most once per
// Reference (a top-up's id, a refund's id).
type CreditRequest struct {
	UserID    string `json:"user_id"`
	Amount    int64  `json:"amount"`
	Reference string `json:"reference"`
}

// ReverseRequest gives back the debit made with Reference.
type ReverseRequest struct {
	UserID    string `json:"user_id"`
	Reference string `json:"reference"`
}

// MarkPaidRequest marks BillID PAID by PaymentID (Status is "PAID").
type MarkPaidRequest struct {
	BillID    string `json:"bill_id"`
	Status    string `json:"status"`
	PaymentID string `json:"payment_id"`
}

// MarkRefundedRequest marks BillID, PAID by PaymentID, REFUNDED.
type MarkRefundedRequest struct {
	BillID    string `json:"bill_id"`
	PaymentID string `json:"payment_id"`
}

// Bill is the contract's bill object, as the billing service answers it
// (amount in paise; times RFC 3339 UTC). A subscription's bill names it and
// its period (2026-12, 2026-W49, 2026-12-01).
type Bill struct {
	ID             string  `json:"id"`
	UserID         string  `json:"user_id"`
	Amount         int64   `json:"amount"`
	Currency       string  `json:"currency"`
	Description    string  `json:"description"`
	DueDate        *string `json:"due_date"`
	Status         string  `json:"status"` // UNPAID, PAID, REFUNDED
	PaymentID      *string `json:"payment_id"`
	CreatedAt      string  `json:"created_at"`
	PaidAt         *string `json:"paid_at"`
	SubscriptionID *string `json:"subscription_id,omitempty"`
	Period         *string `json:"period,omitempty"`
}

// Bill statuses.
const (
	BillUnpaid   = "UNPAID"
	BillPaid     = "PAID"
	BillRefunded = "REFUNDED"
)

// TopicAutopayBills carries AutopayBill events: the billing service
// publishes one for each bill it makes for a subscription with autopay;
// the payment service pays it from the wallet, once (the payment id is
// derived from the bill id).
const TopicAutopayBills = "autopay-bills"

// AutopayBill asks for a subscription's bill to be paid from the wallet.
// EventID is the bill id (consumers de-duplicate on it).
type AutopayBill struct {
	EventID        string `json:"event_id"`
	BillID         string `json:"bill_id"`
	UserID         string `json:"user_id"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
	SubscriptionID string `json:"subscription_id"`
	Period         string `json:"period"`
}

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
// gateway payment on behalf of FinFlow's payment PaymentID. Key names the
// refund (a FinFlow refund id, rfd_...; or, for a capture FinFlow gives back
// whole, "" meaning the payment id): the refund is made at most once per
// key (Razorpay's X-Refund-Idempotency).
type RefundRequest struct {
	PaymentID        string `json:"payment_id"`
	GatewayPaymentID string `json:"gateway_payment_id"`
	Amount           int64  `json:"amount"`
	Key              string `json:"key,omitempty"`
}

// Refund is a refund Razorpay accepted. RefundID is Razorpay's id; Status
// is Razorpay's (pending, processed, failed).
type Refund struct {
	RefundID         string    `json:"refund_id"`
	Key              string    `json:"key,omitempty"`
	PaymentID        string    `json:"payment_id"`
	GatewayPaymentID string    `json:"gateway_payment_id"`
	Amount           int64     `json:"amount"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"created_at"`
}

// PathGatewayRefund is the razorpay service's route fetching the current
// state of the refund FinFlow made with key from Razorpay (reconciliation
// of refunds whose result never came).
func PathGatewayRefund(key string) string { return "/razorpay/refunds/" + url.PathEscape(key) }

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

// Errors that cross a service boundary: the service named sends them, and
// others (the gateway, the payment service, the billing and wallet services
// asking about users) match them with errors.Is. The kind and code travel
// in the contract's error body (sidecar.Call rebuilds them), so both sides
// use these very values.
var (
	// ErrUserNotFound: the user service has no such user.
	ErrUserNotFound = apperr.New(apperr.KindNotFound, CodeUserNotFound, "user not found")
	// ErrWalletNotFound: the wallet service has no wallet for the user.
	ErrWalletNotFound = apperr.New(apperr.KindNotFound, CodeWalletNotFound, "wallet not found")
	// ErrInsufficientFunds: the wallet's balance is below the debit.
	ErrInsufficientFunds = apperr.New(apperr.KindUnprocessable, CodeInsufficientFunds, "wallet balance is too low")
	// ErrBillNotFound: the billing service has no such bill.
	ErrBillNotFound = apperr.New(apperr.KindNotFound, CodeBillNotFound, "bill not found")
	// ErrBillAlreadyPaid: the bill is PAID by another payment.
	ErrBillAlreadyPaid = apperr.New(apperr.KindConflict, CodeBillAlreadyPaid, "this bill is already paid")
	// ErrPaymentNotFound: the payment service has no such payment.
	ErrPaymentNotFound = apperr.New(apperr.KindNotFound, CodePaymentNotFound, "payment not found")
	// ErrBillNotPaid: the billing service was asked to mark a bill REFUNDED
	// that no payment has paid (PUT PathBillMarkRefunded).
	ErrBillNotPaid = apperr.New(apperr.KindConflict, CodeBillNotPaid, "this bill is not paid")
	// ErrSubscriptionNotFound: the billing service has no such
	// subscription; the gateway answers it too, for an id that cannot be one.
	ErrSubscriptionNotFound = apperr.New(apperr.KindNotFound, CodeSubscriptionNotFound, "subscription not found")
	// ErrTopUpNotFound: the payment service has no such top-up; the
	// gateway answers it too, for an id that cannot be one.
	ErrTopUpNotFound = apperr.New(apperr.KindNotFound, CodeTopUpNotFound, "top-up not found")
)

// The codes of the errors above (a payment's failure_reason reuses them).
const (
	CodeUserNotFound         = "USER_NOT_FOUND"
	CodeWalletNotFound       = "WALLET_NOT_FOUND"
	CodeInsufficientFunds    = "INSUFFICIENT_FUNDS"
	CodeBillNotFound         = "BILL_NOT_FOUND"
	CodeBillAlreadyPaid      = "BILL_ALREADY_PAID"
	CodePaymentNotFound      = "PAYMENT_NOT_FOUND"
	CodeBillNotPaid          = "BILL_NOT_PAID"
	CodeSubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND"
	CodeTopUpNotFound        = "TOPUP_NOT_FOUND"
	// CodeIdempotencyKeyReused (422): an Idempotency-Key used for another
	// request. The gateway sends it from its own record of the key, and
	// each service that derives ids from the key's token (user, wallet,
	// billing, payment) from its binding of the token, with a message
	// saying what the key was used for.
	CodeIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
)

// Error codes the razorpay service sends and the payment service matches.
const (
	// CodeGatewayRefused: Razorpay gave a definite refusal: its JSON error
	// body with code BAD_REQUEST_ERROR at 400 or 422, or at 404 for a call
	// naming an id (the table is services/razorpay/domain's ClassifyAnswer,
	// and docs/razorpay.md). Details carry Razorpay's answer (GatewayStatus,
	// GatewayCode, GatewayDescription, GatewayField). Never worth retrying.
	CodeGatewayRefused = "GATEWAY_REFUSED"
	// CodeGatewayUnavailable: Razorpay did not give a definite answer (401
	// and 403: FinFlow's own key; any 4xx without Razorpay's error body,
	// 408, 409, 429, 5xx, a timeout, no connection). Worth retrying later.
	CodeGatewayUnavailable = "GATEWAY_UNAVAILABLE"
)

// Detail keys of a GATEWAY_REFUSED error.
const (
	GatewayStatus      = "gateway_status"
	GatewayCode        = "gateway_code"
	GatewayDescription = "gateway_description"
	GatewayField       = "gateway_field"
)

// DetailService is the detail key of a 503 UNAVAILABLE that names the
// part that did not answer: the app id of a FinFlow service the gateway
// could not reach, or AppRazorpay when the payment service got no answer
// from the razorpay service or from Razorpay itself. A client tells from it
// whether FinFlow or Razorpay is not answering.
const DetailService = "service"

// ErrGatewayRefused is Razorpay's definite refusal (422).
var ErrGatewayRefused = apperr.New(apperr.KindUnprocessable, CodeGatewayRefused, "Razorpay refused the request")

// ErrGatewayUnavailable is Razorpay not answering definitely (503).
var ErrGatewayUnavailable = apperr.New(apperr.KindUnavailable, CodeGatewayUnavailable, "Razorpay did not answer; try again shortly")

// StampLayout is how every timestamp of the public API is written: RFC 3339
// in UTC with always nine fractional digits ("2026-12-04T01:50:00.120000000Z").
// time.RFC3339Nano drops trailing zeros, so its stamps have different
// lengths and do not sort as strings in time order (".1Z" sorts after
// ".12Z"); these do, and parse as RFC 3339 everywhere.
const StampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Stamp writes t for the public API (StampLayout, in UTC).
func Stamp(t time.Time) string { return t.UTC().Format(StampLayout) }
