package domain

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
)

// ClassifyAnswer turns Razorpay's answer to an operation (op, "creating the
// order") into nil for a success or a classified error. The rule, from
// Razorpay's API reference and its error body:
//
//   - 2xx: done.
//   - 400-499 except 408, 409 and 429: a definite refusal. It is
//     contract.ErrGatewayRefused carrying Razorpay's status, error.code,
//     error.description and error.field; the operation must end, not be
//     retried.
//   - 408, 429, 5xx, and any other status: Razorpay did not decide;
//     contract.ErrGatewayUnavailable, worth retrying later with backoff.
//   - 409: Razorpay's refund API answers it to a request whose idempotency
//     key is still being processed, and says to retry
//     (api/refunds/normal-refunds-idempotent); a different request with a
//     used key is a 400. So 409 is transient too.
//
// Razorpay's error body is {"error":{"code","description","field",...}}; an
// answer without it (an HTML page from a proxy) is classified by its status
// alone.
func ClassifyAnswer(op string, status int, body []byte) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusConflict && status != http.StatusTooManyRequests:
		code, description, field := errorBody(body)
		if description == "" {
			description = fmt.Sprintf("HTTP %d", status)
		}
		details := map[string]any{contract.GatewayStatus: status, contract.GatewayCode: code, contract.GatewayDescription: description}
		if field != "" {
			details[contract.GatewayField] = field
		}
		e := contract.ErrGatewayRefused.With(fmt.Sprintf("Razorpay refused %s: %s", op, description), details)
		return e
	default:
		_, description, _ := errorBody(body)
		cause := fmt.Errorf("Razorpay answered %d while %s", status, op)
		if description != "" {
			cause = fmt.Errorf("%w: %s", cause, description)
		}
		return contract.ErrGatewayUnavailable.Wrap(cause)
	}
}

// Unanswered is the error of an operation that got no answer from Razorpay
// at all (a timeout, a refused connection, an unreadable answer): not a
// decision, so worth retrying.
func Unanswered(op string, cause error) error {
	return contract.ErrGatewayUnavailable.Wrap(fmt.Errorf("no answer from Razorpay while %s: %w", op, cause))
}

// errorBody reads Razorpay's error envelope, if the body is one.
func errorBody(body []byte) (code, description, field string) {
	var env struct {
		Error struct {
			Code        string `json:"code"`
			Description string `json:"description"`
			Field       any    `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", "", ""
	}
	if f, ok := env.Error.Field.(string); ok {
		field = f
	}
	return printable(env.Error.Code, 64), printable(env.Error.Description, 300), printable(field, 64)
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
