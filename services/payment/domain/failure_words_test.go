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
