package domain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/services/payment/domain"
)

// A payment's refunds are listed newest first with the contract's cursor
// paging: every refund once, across pages of any size; only cursors the
// listing issued for a list that long are taken; owner or admin only.
func TestRefundsArePagedNewestFirst(t *testing.T) {
	w := newRefundWorld(t)
	ctx := context.Background()
	var made []string // oldest first
	for i := range 7 {
		made = append(made, w.refund(t, w.pid, 100, fmt.Sprintf("k%d", i)).ID)
	}
	newestFirst := make([]string, len(made))
	for i, id := range made {
		newestFirst[len(made)-1-i] = id
	}

	for _, limit := range []string{"", "1", "2", "3", "7", "200"} {
		t.Run("limit="+limit, func(t *testing.T) {
			var got []string
			cursor := ""
			for pages := 0; pages < 20; pages++ {
				pg, err := w.pr.Refunds(ctx, admin, domain.RefundListing{PaymentID: w.pid, Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				if pg.Payment.ID != w.pid {
					t.Fatalf("page of payment %q, want %s", pg.Payment.ID, w.pid)
				}
				for _, r := range pg.Items {
					got = append(got, r.ID)
				}
				if pg.Next == "" {
					break
				}
				cursor = pg.Next
			}
			if fmt.Sprint(got) != fmt.Sprint(newestFirst) {
				t.Fatalf("refunds = %v, want %v", got, newestFirst)
			}
		})
	}

	owner := auth.Caller{Signed: true, Identity: auth.Identity{Sub: "usr_a", Role: auth.RoleUser}}
	other := auth.Caller{Signed: true, Identity: auth.Identity{Sub: "usr_b", Role: auth.RoleUser}}
	if pg, err := w.pr.Refunds(ctx, owner, domain.RefundListing{PaymentID: w.pid, Limit: "2"}); err != nil || len(pg.Items) != 2 || pg.Items[0].ID != made[6] || pg.Next != page.Cursor("r", 6) {
		t.Fatalf("the owner's first page of 2 = %+v, %v; want %s, %s and a cursor at 6", pg, err, made[6], made[5])
	}

	refused := []struct {
		name   string
		caller auth.Caller
		q      domain.RefundListing
		want   error // nil: a VALIDATION_FAILED of field
		field  string
	}{
		{"another user", other, domain.RefundListing{PaymentID: w.pid}, auth.ErrForbidden, ""},
		{"another user, with a bad limit", other, domain.RefundListing{PaymentID: w.pid, Limit: "0"}, auth.ErrForbidden, ""},
		{"no such payment, with a bad cursor", admin, domain.RefundListing{PaymentID: "pay_nosuchpayment00", Cursor: "x"}, domain.ErrPaymentNotFound, ""},
		{"no such payment", admin, domain.RefundListing{PaymentID: "pay_nosuchpayment00"}, domain.ErrPaymentNotFound, ""},
		{"limit 0", admin, domain.RefundListing{PaymentID: w.pid, Limit: "0"}, nil, "limit"},
		{"limit 201", admin, domain.RefundListing{PaymentID: w.pid, Limit: "201"}, nil, "limit"},
		{"limit not a number", admin, domain.RefundListing{PaymentID: w.pid, Limit: "2.0"}, nil, "limit"},
		{"not a cursor", admin, domain.RefundListing{PaymentID: w.pid, Cursor: "x"}, domain.ErrInvalidCursor, "cursor"},
		{"a payments cursor", admin, domain.RefundListing{PaymentID: w.pid, Cursor: page.Cursor("p", 3)}, domain.ErrInvalidCursor, "cursor"},
		{"position 1", admin, domain.RefundListing{PaymentID: w.pid, Cursor: page.Cursor("r", 1)}, domain.ErrInvalidCursor, "cursor"},
		{"one past the newest", admin, domain.RefundListing{PaymentID: w.pid, Cursor: page.Cursor("r", 8)}, domain.ErrInvalidCursor, "cursor"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			pg, err := w.pr.Refunds(ctx, tc.caller, tc.q)
			if err == nil {
				t.Fatalf("Refunds = %+v, want an error", pg)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Refunds = %v, want %v", err, tc.want)
			}
			if e := apperr.From(err); tc.field != "" && (e.Code != apperr.CodeValidationFailed || e.Details["field"] != tc.field) {
				t.Fatalf("Refunds = %v (%s, %v), want VALIDATION_FAILED of %s", err, e.Code, e.Details, tc.field)
			}
		})
	}
	// The last position is one the listing issues (a page of 1 after the
	// newest), so it is taken: it lists from the one below it.
	if pg, err := w.pr.Refunds(ctx, admin, domain.RefundListing{PaymentID: w.pid, Cursor: page.Cursor("r", 7), Limit: "1"}); err != nil || len(pg.Items) != 1 || pg.Items[0].ID != made[5] {
		t.Fatalf("page below position 7 = %+v, %v; want %s", pg, err, made[5])
	}
}

// A payment has at most MaxRefunds refunds: one more is refused (422
// REFUND_LIMIT_REACHED) and changes nothing; a retry of one it has is still
// answered, and asking for more than is left still says so first. (A
// wallet payment: its refunds have no minimum.)
func TestRefundsPerPaymentAreBounded(t *testing.T) {
	w := newRefundWorld(t)
	ctx := context.Background()
	w.bank.balance["usr_a"] += 10_000
	w.bank.bills["bill_w"] = &domain.Bill{ID: "bill_w", UserID: "usr_a", Amount: 10_000, Currency: "INR"}
	wp, err := w.pr.PayFromWallet(ctx, "bill_w", id.New(id.Payment), "usr_a")
	if err != nil || wp.Status != domain.Success {
		t.Fatalf("wallet payment = %+v, %v; want SUCCESS", wp, err)
	}
	for i := range domain.MaxRefunds {
		w.refund(t, wp.ID, 1, fmt.Sprintf("k%d", i))
	}
	before := w.get(t, wp.ID)
	_, _, err = w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wp.ID, Amount: amountOf(1), Reason: "goodwill", IdempotencyToken: "one-more"})
	if e := apperr.From(err); !errors.Is(err, domain.ErrTooManyRefunds) || e.Code != "REFUND_LIMIT_REACHED" || e.Kind.Status() != 422 {
		t.Fatalf("refund %d = %v, want 422 REFUND_LIMIT_REACHED", domain.MaxRefunds+1, err)
	}
	if after := w.get(t, wp.ID); len(after.Refunds) != len(before.Refunds) || after.Reserved() != before.Reserved() {
		t.Fatalf("the refused refund changed the payment: %d refunds, %d reserved; want %d, %d", len(after.Refunds), after.Reserved(), len(before.Refunds), before.Reserved())
	}
	if r, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wp.ID, Amount: amountOf(1), Reason: "goodwill", IdempotencyToken: "k7"}); err != nil || r.Amount != 1 {
		t.Fatalf("a retry of refund k7 = %+v, %v; want it answered", r, err)
	}
	if _, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: wp.ID, Amount: amountOf(1_000_000), Reason: "goodwill"}); !errors.Is(err, domain.ErrRefundExceeds) {
		t.Fatalf("more than is left = %v, want ErrRefundExceeds", err)
	}
}

// Refunds Razorpay refused (FAILED) do not use up a payment's refunds: an
// outside tester locked a payment out of refunds with 100 FAILED ones and
// nothing refunded. They count only towards the bound on all the refunds a
// record keeps (MaxRefundRecords), which says so when reached.
func TestFailedRefundsDoNotUseUpThePaymentsRefunds(t *testing.T) {
	w := newRefundWorld(t)
	ctx := context.Background()
	w.rzp.refuse["refund"] = "Your account does not have enough balance to carry out the refund operation."
	for i := range domain.MaxRefunds {
		if r := w.refund(t, w.pid, 100, fmt.Sprintf("f%d", i)); r.Status != domain.Failed {
			t.Fatalf("refund %d refused by Razorpay = %s, want FAILED", i, r.Status)
		}
	}
	delete(w.rzp.refuse, "refund")
	if r := w.refund(t, w.pid, 100, "after-the-failures"); r.Status == domain.Failed {
		t.Fatalf("a refund after %d FAILED ones = %+v, want it made", domain.MaxRefunds, r)
	}
	w.rzp.refuse["refund"] = "Your account does not have enough balance to carry out the refund operation."
	for i := len(w.get(t, w.pid).Refunds); i < domain.MaxRefundRecords; i++ {
		w.refund(t, w.pid, 100, fmt.Sprintf("g%d", i))
	}
	_, _, err := w.pr.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(100), Reason: "goodwill"})
	if e := apperr.From(err); !errors.Is(err, domain.ErrTooManyRefunds) || !strings.Contains(e.Message, "FAILED") {
		t.Fatalf("refund %d = %v, want REFUND_LIMIT_REACHED naming the FAILED ones", domain.MaxRefundRecords+1, err)
	}
}

// A refund through Razorpay is at least ₹1.00 (Razorpay refuses less), and
// may not leave less than that to refund (it could never be refunded, and
// the bill never become REFUNDED): both are refused before anything is
// asked (422 REFUND_BELOW_MINIMUM) and change nothing. The payment is 2500
// paise.
func TestRazorpayRefundsBelowTheMinimum(t *testing.T) {
	for _, tc := range []struct {
		name   string
		amount *money.Amount
		ok     bool
	}{
		{"1 paisa", amountOf(1), false},
		{"99 paise", amountOf(99), false},
		{"₹1.00", amountOf(100), true},
		{"leaving 1 paisa", amountOf(2499), false},
		{"leaving 99 paise", amountOf(2401), false},
		{"leaving ₹1.00", amountOf(2400), true},
		{"all of it", amountOf(2500), true},
		{"the rest (no amount)", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRefundWorld(t)
			r, _, err := w.pr.RequestRefund(context.Background(), admin, domain.RefundRequest{PaymentID: w.pid, Amount: tc.amount, Reason: "goodwill"})
			if tc.ok {
				if err != nil || r.Status == domain.Failed {
					t.Fatalf("refund = %+v, %v; want it made", r, err)
				}
				return
			}
			if e := apperr.From(err); !errors.Is(err, domain.ErrRefundBelowMinimum) || e.Code != "REFUND_BELOW_MINIMUM" || e.Kind.Status() != 422 || e.Details["amount_min"] != domain.MinRazorpayRefund {
				t.Fatalf("refund = %v, want 422 REFUND_BELOW_MINIMUM with amount_min", err)
			}
			if p := w.get(t, w.pid); len(p.Refunds) != 0 {
				t.Fatalf("a refused refund was recorded: %+v", p.Refunds)
			}
		})
	}
	// A wallet payment's refunds have no minimum.
	w := newRefundWorld(t)
	w.bank.balance["usr_a"] += 500
	w.bank.bills["bill_w"] = &domain.Bill{ID: "bill_w", UserID: "usr_a", Amount: 500, Currency: "INR"}
	wp, err := w.pr.PayFromWallet(context.Background(), "bill_w", id.New(id.Payment), "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	if r := w.refund(t, wp.ID, 1, "one-paisa"); r.Status != domain.Success {
		t.Fatalf("a 1 paisa refund of a wallet payment = %+v, want SUCCESS", r)
	}
}

// A refund's reason is shown to people: text that hides itself or turns
// the text around it is refused (400 on reason) and changes nothing.
func TestRefundReasonIsVisibleText(t *testing.T) {
	w := newRefundWorld(t)
	for _, reason := range []string{"", "   ", "Good\nwill", "Good\u202ewill", "\u200b", "\ufeff\u00ad", "a\u2028b"} {
		_, _, err := w.pr.RequestRefund(context.Background(), admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(100), Reason: reason})
		if e := apperr.From(err); e.Code != apperr.CodeValidationFailed || e.Details["field"] != "reason" {
			t.Fatalf("reason %q = %v, want VALIDATION_FAILED on reason", reason, err)
		}
	}
	if p := w.get(t, w.pid); len(p.Refunds) != 0 {
		t.Fatalf("refused reasons made refunds: %+v", p.Refunds)
	}
	if r, _, err := w.pr.RequestRefund(context.Background(), admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(100), Reason: "धनवापसी 👍"}); err != nil || r.Reason != "धनवापसी 👍" {
		t.Fatalf("a Hindi reason with an emoji = %+v, %v", r, err)
	}
}
