package domain

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
)

// Op is one operation FinFlow asks Razorpay for, named as its errors and
// logs say it.
type Op string

// The operations FinFlow asks Razorpay for.
const (
	OpCreateOrder   Op = "creating the order"           // POST /v1/orders
	OpOrderPayments Op = "listing the order's payments" // GET /v1/orders/{id}/payments
	OpFetchPayment  Op = "fetching the payment"         // GET /v1/payments/{id}
	OpRefund        Op = "refunding the payment"        // POST /v1/payments/{id}/refund
	OpFetchRefund   Op = "fetching the refund"          // GET /v1/refunds/{id}
)

// Ops lists every operation, for tests that go through them all.
var Ops = []Op{OpCreateOrder, OpOrderPayments, OpFetchPayment, OpRefund, OpFetchRefund}

// namesAnID reports whether op's path names a Razorpay id, so that
// Razorpay's 404 with its error body can say that this id does not exist. A
// 404 to POST /v1/orders names no id: only the address can be wrong.
func (op Op) namesAnID() bool { return op != OpCreateOrder }

// idUnknown reports whether a 404's description says that the id the path
// names does not exist ("The id provided does not exist"), rather than that
// the address is not one of Razorpay's ("The requested URL was not found on
// the server.", Razorpay's and its simulator's answer to a path it does not
// serve, as when the base URL carries a path of its own).
func idUnknown(description string) bool {
	return strings.Contains(strings.ToLower(description), "does not exist")
}

// codeBadRequest is the error.code of Razorpay's refusal of a request
// (razorpay-go's constants.BAD_REQUEST_ERROR). Its other codes,
// SERVER_ERROR and GATEWAY_ERROR, say Razorpay (or a bank behind it)
// failed, which is no decision about the request.
const codeBadRequest = "BAD_REQUEST_ERROR"

// ClassifyAnswer turns Razorpay's answer to op into nil for a success or a
// classified error, by one table (docs/razorpay.md, "Razorpay's answers"):
//
//	answer                                                   FinFlow calls it
//	2xx                                                      done
//	400 or 422 with Razorpay's error body, code              a definite refusal
//	  BAD_REQUEST_ERROR, on any op
//	404 with that body saying the id does not exist ("The    a definite refusal
//	  id provided does not exist"), on an op whose path
//	  names an id (order payments, fetch payment, refund,
//	  fetch refund)
//	401, 403: FinFlow's own API key was not accepted         no definite answer
//	404 creating an order (no id: the address is wrong), or  no definite answer
//	  any other 404 ("The requested URL was not found on
//	  the server.": the address is wrong)
//	any 4xx without Razorpay's error body (a proxy's HTML    no definite answer
//	  page, an empty or unreadable body), or with another
//	  code (SERVER_ERROR, GATEWAY_ERROR)
//	408, 409 (Razorpay's refund API: the key is still being  no definite answer
//	  processed, retry), 429, any other 4xx
//	1xx, 3xx, 5xx                                            no definite answer
//
// A definite refusal is contract.ErrGatewayRefused carrying Razorpay's
// status, error.code, error.description and error.field: the operation
// must end, not be retried. No definite answer is
// contract.ErrGatewayUnavailable, worth retrying later with backoff: a
// payment fails only on a definite answer, so anything Razorpay did not
// decide about the request (a key FinFlow is misconfigured with, a proxy
// in the way, a rate limit) must leave it to be asked again.
func ClassifyAnswer(op Op, status int, body []byte) error {
	env, isEnvelope := errorBody(body)
	refusal := isEnvelope && env.code == codeBadRequest
	var why string
	switch {
	case status >= 200 && status < 300:
		return nil
	case (status == http.StatusBadRequest || status == http.StatusUnprocessableEntity) && refusal:
		return refused(op, status, env)
	case status == http.StatusNotFound && refusal && op.namesAnID() && idUnknown(env.description):
		return refused(op, status, env)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		why = "FinFlow's API key was not accepted (a configuration outage, not a decision about the request)"
	case status == http.StatusNotFound && refusal:
		why = "the address is not Razorpay's API (not an answer about an id)"
	case status >= 400 && status < 500 && !isEnvelope:
		why = "not Razorpay's error body (a proxy's page, or nothing)"
	case status >= 400 && status < 500 && !refusal:
		why = fmt.Sprintf("error code %q is not a refusal", env.code)
	default:
		why = "not a decision about the request"
	}
	cause := fmt.Errorf("Razorpay answered %d while %s: %s", status, op, why)
	if env.description != "" {
		cause = fmt.Errorf("%w: %s", cause, env.description)
	}
	return contract.ErrGatewayUnavailable.Wrap(cause)
}

// refused is Razorpay's definite refusal of op, with its words.
func refused(op Op, status int, env razorpayError) error {
	description := env.description
	if description == "" {
		description = fmt.Sprintf("HTTP %d", status)
	}
	details := map[string]any{contract.GatewayStatus: status, contract.GatewayCode: env.code, contract.GatewayDescription: description}
	if env.field != "" {
		details[contract.GatewayField] = env.field
	}
	return contract.ErrGatewayRefused.With(fmt.Sprintf("Razorpay refused %s: %s", op, description), details)
}

// Unanswered is the error of an operation that got no answer from Razorpay
// at all (a timeout, a refused connection, an unreadable answer): not a
// decision, so worth retrying.
func Unanswered(op Op, cause error) error {
	return contract.ErrGatewayUnavailable.Wrap(fmt.Errorf("no answer from Razorpay while %s: %w", op, cause))
}

// razorpayError is the part of Razorpay's error envelope FinFlow reads.
type razorpayError struct{ code, description, field string }

// errorBody reads Razorpay's error envelope
// ({"error":{"code":...,"description":...,"field":...}}); ok is false when
// the body is not one (not JSON, or no error.code).
func errorBody(body []byte) (e razorpayError, ok bool) {
	var env struct {
		Error *struct {
			Code        string `json:"code"`
			Description string `json:"description"`
			Field       any    `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil || env.Error.Code == "" {
		return razorpayError{}, false
	}
	field, _ := env.Error.Field.(string)
	return razorpayError{printable(env.Error.Code, 64), printable(env.Error.Description, 300), printable(field, 64)}, true
}

// printable keeps at most n printable characters of s (Razorpay's words end
// up in logs and on the console).
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r >= 0x20 && r != 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Refused reports whether err is Razorpay's definite refusal.
func Refused(err error) bool {
	e, ok := apperrOf(err)
	return ok && e.Code == contract.CodeGatewayRefused
}

func apperrOf(err error) (*apperr.Error, bool) {
	if err == nil {
		return nil, false
	}
	e := apperr.From(err)
	return e, e.Kind != apperr.KindInternal
}
