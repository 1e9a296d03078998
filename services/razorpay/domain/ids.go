package domain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
)

// Every id that comes into FinFlow from Razorpay, in a webhook or in an
// answer of its API, is checked here before FinFlow uses it: as a state
// key (order/<id>), in a URL path (/v1/payments/<id>/refund), or handed to
// the payment service. An id that is not Razorpay's (or, in the notes
// FinFlow writes, not FinFlow's) is never trusted: a webhook carrying one is
// malformed (answered 2xx, parked, nothing applied) and an answer carrying
// one is no definite answer.

// Razorpay's id prefixes: the prefix, an underscore and 14 base62
// characters (order_RB58MiP5SPFYyM; Razorpay's API reference and what the
// simulator issues).
const (
	razorpayOrder   = "order_"
	razorpayPayment = "pay_"
	razorpayRefund  = "rfnd_"
	razorpayIDLen   = 14
)

// ValidOrderID reports whether s is a Razorpay order id (order_ and 14
// base62 characters).
func ValidOrderID(s string) bool { return razorpayID(razorpayOrder, s) }

// ValidPaymentID reports whether s is a Razorpay payment id (pay_ and 14
// base62 characters). FinFlow's own payment ids (pay_ and 26 characters)
// are not.
func ValidPaymentID(s string) bool { return razorpayID(razorpayPayment, s) }

// ValidRefundID reports whether s is a Razorpay refund id (rfnd_ and 14
// base62 characters).
func ValidRefundID(s string) bool { return razorpayID(razorpayRefund, s) }

func razorpayID(prefix, s string) bool {
	body, ok := strings.CutPrefix(s, prefix)
	if !ok || len(body) != razorpayIDLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ValidFinFlowPayment reports whether s names what FinFlow makes Razorpay
// orders and refunds for: a FinFlow payment or top-up id.
func ValidFinFlowPayment(s string) bool { return id.Valid(id.Payment, s) || id.Valid(id.TopUp, s) }

// ValidRefundKey reports whether key is a key FinFlow makes a refund of
// paymentID with: a FinFlow refund id, or the payment's own id (a capture
// given back whole).
func ValidRefundKey(key, paymentID string) bool {
	return id.Valid(id.Refund, key) || (key == paymentID && ValidFinFlowPayment(key))
}

// eventIDsProblem says what in a webhook's result is not the id it should
// be ("" when every id holds): Razorpay's payment and order ids of a
// payment event; Razorpay's refund and payment ids of a refund event, and
// the FinFlow ids its notes give (when it has any: a refund without
// FinFlow's notes was made elsewhere).
func eventIDsProblem(r Result) string {
	if r.Status == contract.ResultRefunded || r.Status == contract.ResultRefundFailed {
		switch {
		case !ValidRefundID(r.GatewayRefundID):
			return fmt.Sprintf("refund id %q is not a Razorpay refund id", printable(r.GatewayRefundID, 64))
		case !ValidPaymentID(r.GatewayPaymentID):
			return fmt.Sprintf("the refund's payment_id %q is not a Razorpay payment id", printable(r.GatewayPaymentID, 64))
		case r.PaymentID != "" && !ValidFinFlowPayment(r.PaymentID):
			return fmt.Sprintf("the refund's note %s %q is not a FinFlow payment or top-up id", NotePaymentID, printable(r.PaymentID, 64))
		case r.RefundKey != "" && !ValidRefundKey(r.RefundKey, r.PaymentID):
			return fmt.Sprintf("the refund's note %s %q is not a FinFlow refund id or the payment's own id", NoteRefundKey, printable(r.RefundKey, 64))
		}
		return ""
	}
	switch {
	case !ValidPaymentID(r.GatewayPaymentID):
		return fmt.Sprintf("payment id %q is not a Razorpay payment id", printable(r.GatewayPaymentID, 64))
	case !ValidOrderID(r.OrderID):
		return fmt.Sprintf("order_id %q is not a Razorpay order id", printable(r.OrderID, 64))
	}
	return ""
}

// Errors of answers whose ids are not Razorpay's.
var (
	errAnswerOrderID   = errors.New("Razorpay's answer names an order id that is not Razorpay's")
	errAnswerPaymentID = errors.New("Razorpay's answer names a payment id that is not Razorpay's")
	errAnswerRefundID  = errors.New("Razorpay's answer names a refund id that is not Razorpay's")
)

// checkPaymentAnswer checks the ids of a payment entity Razorpay answered
// with: its own id, and its order's (required when withOrder, as in an
// order's list of payments; otherwise a payment may have none).
func checkPaymentAnswer(op Op, p contract.GatewayPayment, withOrder bool) error {
	switch {
	case !ValidPaymentID(p.ID):
		return Unanswered(op, fmt.Errorf("%w: %q", errAnswerPaymentID, printable(p.ID, 64)))
	case (withOrder || p.OrderID != "") && !ValidOrderID(p.OrderID):
		return Unanswered(op, fmt.Errorf("%w: %q (payment %s)", errAnswerOrderID, printable(p.OrderID, 64), p.ID))
	}
	return nil
}
