package domain_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// The shapes of body Razorpay (or something in its place) answers with.
var answerBodies = []struct {
	shape, body string
	refusal     bool // Razorpay's error body with its refusal code
	unknownID   bool // ... saying that the id does not exist
}{
	{"Razorpay's refusal", `{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist","source":"business","step":"payment_initiation","reason":"input_validation_failed","metadata":{},"field":"id"}}`, true, true},
	{"Razorpay's refusal, no description", `{"error":{"code":"BAD_REQUEST_ERROR"}}`, true, false},
	{"Razorpay's answer to an address it does not serve", `{"error":{"code":"BAD_REQUEST_ERROR","description":"The requested URL was not found on the server."}}`, true, false},
	{"Razorpay's server error", `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error. The incident has been reported to admins."}}`, false, false},
	{"Razorpay's gateway error", `{"error":{"code":"GATEWAY_ERROR","description":"Payment processing failed due to error at bank or wallet gateway"}}`, false, false},
	{"an error without a code", `{"error":{"description":"Unauthorized"}}`, false, false},
	{"JSON that is no error", `{"id":"order_AAAAAAAAAAAAAA"}`, false, false},
	{"a proxy's HTML page", `<html><head><title>404</title></head><body><h1>404 Not Found</h1></body></html>`, false, false},
	{"empty", ``, false, false},
	{"unparseable", `{"error":{"code":"BAD_REQ`, false, false},
}

// ClassifyAnswer's table, member by member: every status, every shape of
// body, every operation. Only Razorpay's error body with its refusal code,
// at 400 or 422, or at 404 saying the id does not exist on an operation
// whose path names an id, is a definite refusal; everything else that is
// not 2xx (a 404 for an address Razorpay does not serve among them) is no
// definite answer.
func TestClassifyAnswerTable(t *testing.T) {
	statuses := []int{200, 201, 204, 100, 301, 302, 304, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 412, 413, 415, 422, 425, 429, 451, 499, 500, 501, 502, 503, 504, 520, 599}
	for _, op := range domain.Ops {
		for _, status := range statuses {
			for _, b := range answerBodies {
				want := "unavailable"
				switch {
				case status >= 200 && status < 300:
					want = "done"
				case b.refusal && (status == 400 || status == 422 || status == 404 && op != domain.OpCreateOrder && b.unknownID):
					want = "refused"
				}
				t.Run(fmt.Sprintf("%s/%d/%s", op, status, b.shape), func(t *testing.T) {
					checkAnswer(t, op, status, b.body, want)
				})
			}
		}
	}
}

// The answers the outside tester reproduced, and their neighbours, by
// name.
func TestClassifyAnswerExamples(t *testing.T) {
	envelope := func(code, description string) string {
		return `{"error":{"code":"` + code + `","description":"` + description + `"}}`
	}
	cases := []struct {
		name   string
		op     domain.Op
		status int
		body   string
		want   string // done, refused or unavailable
	}{
		{"order payments 401 (the simulator's fault): FinFlow's key, not the order", domain.OpOrderPayments, 401, envelope("BAD_REQUEST_ERROR", "Unauthorized"), "unavailable"},
		{"order payments 401, Razorpay's words for a bad key", domain.OpOrderPayments, 401, envelope("BAD_REQUEST_ERROR", "The api key provided is invalid"), "unavailable"},
		{"order payments 403", domain.OpOrderPayments, 403, envelope("BAD_REQUEST_ERROR", "Access forbidden"), "unavailable"},
		{"order payments, an HTML 404 page from a proxy", domain.OpOrderPayments, 404, `<html><body><h1>404 Not Found</h1></body></html>`, "unavailable"},
		{"order payments, an empty 404", domain.OpOrderPayments, 404, ``, "unavailable"},
		{"order payments, the order does not exist (400)", domain.OpOrderPayments, 400, envelope("BAD_REQUEST_ERROR", "The id provided does not exist"), "refused"},
		{"fetch payment 401 (late capture)", domain.OpFetchPayment, 401, envelope("BAD_REQUEST_ERROR", "Unauthorized"), "unavailable"},
		{"fetch payment: the id does not exist (404, Razorpay's body)", domain.OpFetchPayment, 404, envelope("BAD_REQUEST_ERROR", "The id provided does not exist"), "refused"},
		{"fetch payment: the id does not exist (400)", domain.OpFetchPayment, 400, envelope("BAD_REQUEST_ERROR", "The id provided does not exist"), "refused"},
		{"fetch refund: the id does not exist (404)", domain.OpFetchRefund, 404, envelope("BAD_REQUEST_ERROR", "The id provided does not exist"), "refused"},
		{"refund: fully refunded already", domain.OpRefund, 400, envelope("BAD_REQUEST_ERROR", "The payment has been fully refunded already."), "refused"},
		{"refund: the key is still being processed (409)", domain.OpRefund, 409, envelope("BAD_REQUEST_ERROR", "Request is being processed"), "unavailable"},
		{"refund: 401", domain.OpRefund, 401, envelope("BAD_REQUEST_ERROR", "Unauthorized"), "unavailable"},
		{"create order: amount below INR 1.00", domain.OpCreateOrder, 400, envelope("BAD_REQUEST_ERROR", "The amount must be at least INR 1.00"), "refused"},
		{"order payments: 404 for an address Razorpay does not serve (a base URL ending in /v1)", domain.OpOrderPayments, 404, envelope("BAD_REQUEST_ERROR", "The requested URL was not found on the server."), "unavailable"},
		{"fetch payment: 404 for an address Razorpay does not serve", domain.OpFetchPayment, 404, envelope("BAD_REQUEST_ERROR", "The requested URL was not found on the server."), "unavailable"},
		{"refund: 404 for an address Razorpay does not serve", domain.OpRefund, 404, envelope("BAD_REQUEST_ERROR", "The requested URL was not found on the server."), "unavailable"},
		{"fetch refund: 404 for an address Razorpay does not serve", domain.OpFetchRefund, 404, envelope("BAD_REQUEST_ERROR", "The requested URL was not found on the server."), "unavailable"},
		{"create order: 404 names no id (a wrong address)", domain.OpCreateOrder, 404, envelope("BAD_REQUEST_ERROR", "The requested URL was not found on the server."), "unavailable"},
		{"create order: an HTML 400 from a proxy", domain.OpCreateOrder, 400, `<html>400 Bad Request</html>`, "unavailable"},
		{"a 400 that is Razorpay's server error", domain.OpCreateOrder, 400, envelope("SERVER_ERROR", "The server encountered an error"), "unavailable"},
		{"rate limited", domain.OpCreateOrder, 429, envelope("BAD_REQUEST_ERROR", "Too many requests"), "unavailable"},
		{"request timeout", domain.OpFetchPayment, 408, ``, "unavailable"},
		{"server error, read as a bad request by razorpay-go", domain.OpRefund, 500, envelope("SERVER_ERROR", "The server encountered an error."), "unavailable"},
		{"bad gateway HTML page", domain.OpRefund, 502, `<html>502 Bad Gateway</html>`, "unavailable"},
		{"a redirect", domain.OpFetchRefund, 302, ``, "unavailable"},
		{"ok", domain.OpCreateOrder, 200, `{"id":"order_AAAAAAAAAAAAAA"}`, "done"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkAnswer(t, tc.op, tc.status, tc.body, tc.want) })
	}
}

// checkAnswer checks ClassifyAnswer(op, status, body) against want: done
// (nil), refused (422 GATEWAY_REFUSED naming Razorpay's status and words)
// or unavailable (503 GATEWAY_UNAVAILABLE).
func checkAnswer(tb testing.TB, op domain.Op, status int, body, want string) {
	tb.Helper()
	err := domain.ClassifyAnswer(op, status, []byte(body))
	if want == "done" {
		if err != nil {
			tb.Fatalf("ClassifyAnswer(%q, %d, %q) = %v, want nil", op, status, body, err)
		}
		return
	}
	e := apperr.From(err)
	switch want {
	case "refused":
		if e.Code != contract.CodeGatewayRefused || e.Kind.Status() != http.StatusUnprocessableEntity || e.Details[contract.GatewayStatus] != status ||
			e.Details[contract.GatewayCode] != "BAD_REQUEST_ERROR" || !strings.Contains(e.Message, string(op)) {
			tb.Fatalf("ClassifyAnswer(%q, %d, %q) = %+v, want 422 GATEWAY_REFUSED naming status %d, BAD_REQUEST_ERROR and the operation", op, status, body, e, status)
		}
		if d := fmt.Sprint(e.Details[contract.GatewayDescription]); d == "" || !strings.Contains(e.Message, d) {
			tb.Fatalf("ClassifyAnswer(%q, %d, %q) = %+v, want Razorpay's description (or the status) in the message", op, status, body, e)
		}
	case "unavailable":
		if e.Code != contract.CodeGatewayUnavailable || e.Kind != apperr.KindUnavailable {
			tb.Fatalf("ClassifyAnswer(%q, %d, %q) = %v, want GATEWAY_UNAVAILABLE", op, status, body, err)
		}
	}
}
