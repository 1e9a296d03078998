package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/services/billing/domain"
)

func TestNewBill(t *testing.T) {
	cases := []struct {
		name, desc, due string
		amount          int64
		wantField       string
	}{
		{"valid", "Electricity, November", "2026-12-15", 125000, ""},
		{"no due date", "Broadband", "", 99900, ""},
		{"zero amount", "x", "", 0, "amount"},
		{"too much", "x", "", 1_000_000_000_001, "amount"},
		{"no description", "  ", "", 100, "description"},
		{"long description", strings.Repeat("d", 201), "", 100, "description"},
		{"bad date", "x", "15/12/2026", 100, "due_date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := domain.NewBill("usr_x", moneyAmount(tc.amount), tc.desc, tc.due, time.Now())
			if tc.wantField == "" {
				if err != nil || b.Status != domain.Unpaid || b.Amount != tc.amount || b.Currency != "INR" {
					t.Fatalf("NewBill = %+v, %v", b, err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Details["field"] != tc.wantField {
				t.Fatalf("NewBill = %v, want VALIDATION_FAILED on %s", err, tc.wantField)
			}
		})
	}
}

func TestMarkPaidOnceByOnePayment(t *testing.T) {
	b, _ := domain.NewBill("usr_x", moneyAmount(100), "x", "", time.Now())
	if changed, err := b.MarkPaid("pay_a", time.Now()); !changed || err != nil {
		t.Fatalf("first MarkPaid = %v, %v", changed, err)
	}
	if changed, err := b.MarkPaid("pay_a", time.Now()); changed || err != nil {
		t.Fatalf("retry by the same payment = %v, %v; want no change, no error", changed, err)
	}
	if _, err := b.MarkPaid("pay_b", time.Now()); !errors.Is(err, domain.ErrBillAlreadyPaid) {
		t.Fatalf("MarkPaid by another payment = %v, want ErrBillAlreadyPaid", err)
	}
	if b.PaymentID != "pay_a" || b.PaidAt.IsZero() {
		t.Fatalf("bill = %+v, want paid by pay_a", b)
	}
}
