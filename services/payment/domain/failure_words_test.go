package domain_test

import (
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/services/payment/domain"
)

// A FAILED payment's error says why in words, with the failure reason as
// its code (a keyed retry of an expired payment had answered 422 EXPIRED
// "payment failed").
func TestFailedPaymentsSayWhy(t *testing.T) {
	for _, tc := range []struct{ reason, words string }{
		{domain.ReasonExpired, "not paid within its lifetime"},
		{domain.ReasonGatewayFailed, "Razorpay reported the payment failed"},
		{domain.ReasonDuplicate, "another Razorpay payment of the bill"},
		{domain.ReasonTopUpCredited, "credited by another capture"},
		{"SOMETHING_NEW", "it failed (SOMETHING_NEW)"},
		{domain.ReasonInsufficientFunds, ""}, // its own error: INSUFFICIENT_FUNDS
	} {
		p := domain.Payment{ID: "pay_X", Status: domain.Failed, FailureReason: tc.reason}
		e := apperr.From(p.Err(""))
		if e.Code != tc.reason || e.Kind.Status() != 422 || !strings.Contains(e.Message, tc.words) || e.Details["payment_id"] != "pay_X" {
			t.Errorf("%s: %d %s %q %v, want 422 %s saying %q", tc.reason, e.Kind.Status(), e.Code, e.Message, e.Details, tc.reason, tc.words)
		}
	}
}

// A failed top-up's error names it as a top-up, by the key a client reads
// it with (GET /wallet/topup/{id}): details.topup_id, never payment_id,
// which a client would look up at /Payment/{id} and not find.
func TestFailedRecordsNameWhatTheyAre(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p        domain.Payment
		key, not string
		noun     string
	}{
		{"a payment", domain.Payment{ID: "pay_X", Status: domain.Failed, FailureReason: "SOMETHING_NEW"}, domain.DetailPayment, domain.DetailTopUp, "payment pay_X FAILED"},
		{"a top-up", domain.Payment{ID: "top_X", TopUpID: "top_X", Purpose: domain.PurposeTopUp, Status: domain.Failed, FailureReason: "SOMETHING_NEW"}, domain.DetailTopUp, domain.DetailPayment, "top-up top_X FAILED"},
		{"a top-up Razorpay refused", domain.Payment{ID: "top_Y", TopUpID: "top_Y", Purpose: domain.PurposeTopUp, Status: domain.Failed, FailureReason: domain.ReasonGatewayRefused,
			GatewayError: &domain.GatewayError{Op: "the order", Status: 400, Code: "BAD_REQUEST_ERROR", Description: "Order amount less than minimum amount allowed"}}, domain.DetailTopUp, domain.DetailPayment, "Razorpay refused the order"},
	} {
		e := apperr.From(tc.p.Err(""))
		if e.Details[tc.key] != tc.p.ID || e.Details[tc.not] != nil || !strings.Contains(e.Message, tc.noun) {
			t.Errorf("%s: %s %q %v; want details.%s = %s, no %s, a message with %q", tc.name, e.Code, e.Message, e.Details, tc.key, tc.p.ID, tc.not, tc.noun)
		}
	}
}
