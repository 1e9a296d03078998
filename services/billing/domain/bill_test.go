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
		{"bidi override in description", "Electricity \u202e", "", 100, "description"},
		{"invisible description", "\u200b\u00ad\ufeff\u061c", "", 100, "description"},
		{"description of Hindi with a joiner", "बिजली \u0915\u094d\u200d\u0937", "", 100, ""},
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

func TestMarkRefunded(t *testing.T) {
	paid := func() domain.Bill {
		b, _ := domain.NewBill("usr_x", moneyAmount(100), "x", "", time.Now())
		_, _ = b.MarkPaid("pay_a", time.Now())
		return b
	}
	unpaid, _ := domain.NewBill("usr_x", moneyAmount(100), "x", "", time.Now())
	refunded := paid()
	_, _ = refunded.MarkRefunded("pay_a", time.Now())
	cases := []struct {
		name        string
		bill        domain.Bill
		payment     string
		wantChanged bool
		wantErr     error
		wantStatus  domain.Status
	}{
		{"paid by that payment", paid(), "pay_a", true, nil, domain.Refunded},
		{"again: no change", refunded, "pay_a", false, nil, domain.Refunded},
		{"paid by another payment", paid(), "pay_b", false, domain.ErrBillAlreadyPaid, domain.Paid},
		{"refunded, asked by another payment", refunded, "pay_b", false, domain.ErrBillAlreadyPaid, domain.Refunded},
		{"unpaid", unpaid, "pay_a", false, domain.ErrBillNotPaid, domain.Unpaid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.bill
			changed, err := b.MarkRefunded(tc.payment, time.Now())
			if changed != tc.wantChanged || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || b.Status != tc.wantStatus {
				t.Fatalf("MarkRefunded(%s) = %v, %v (status %s), want %v, %v (%s)", tc.payment, changed, err, b.Status, tc.wantChanged, tc.wantErr, tc.wantStatus)
			}
			if tc.wantChanged && b.RefundedAt.IsZero() {
				t.Fatal("RefundedAt not set")
			}
		})
	}
}

// A REFUNDED bill stays closed: paying it again by its payment is a retry
// that changes nothing, by another payment a conflict.
func TestMarkPaidAfterRefund(t *testing.T) {
	b, _ := domain.NewBill("usr_x", moneyAmount(100), "x", "", time.Now())
	_, _ = b.MarkPaid("pay_a", time.Now())
	_, _ = b.MarkRefunded("pay_a", time.Now())
	if changed, err := b.MarkPaid("pay_a", time.Now()); changed || err != nil || b.Status != domain.Refunded {
		t.Fatalf("MarkPaid by its payment after the refund = %v, %v (status %s), want no change", changed, err, b.Status)
	}
	if _, err := b.MarkPaid("pay_b", time.Now()); !errors.Is(err, domain.ErrBillAlreadyPaid) || b.Status != domain.Refunded {
		t.Fatalf("MarkPaid by another payment after the refund = %v (status %s), want ErrBillAlreadyPaid", err, b.Status)
	}
}
