package domain_test

import (
	"context"
	"errors"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/services/payment/domain"
)

// claimOutage is a payment store whose ClaimBill fails (the state store
// timed out or dropped the connection) while down is set; wrote says
// whether the failed claim was written all the same.
type claimOutage struct {
	domain.Store
	down, wrote bool
}

type storeDown struct{}

func (storeDown) Error() string   { return "state store: deadline exceeded" }
func (storeDown) Temporary() bool { return true }

func (s *claimOutage) ClaimBill(ctx context.Context, billID, paymentID string) error {
	if !s.down {
		return s.Store.ClaimBill(ctx, billID, paymentID)
	}
	if s.wrote {
		if err := s.Store.ClaimBill(ctx, billID, paymentID); err != nil {
			return err
		}
	}
	return storeDown{}
}

// A Razorpay payment whose bill could not be claimed is no payment to pay:
// it is answered 503 naming the payment, with no order made (an outside
// tester on PostgreSQL got 201 PENDING with no order, the bill not held,
// and then the wallet paid the bill while it was PENDING). Asked again with
// the same key once the store answers, it claims the bill and gets its
// order; whether the failed claim had been written or not.
func TestRazorpayPaymentWhoseBillClaimFailed(t *testing.T) {
	for _, wrote := range []bool{false, true} {
		name := map[bool]string{false: "claim not written", true: "claim written, answer lost"}[wrote]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			bank, rzp := newBank(), newRazorpay()
			pr := newProcessor(bank)
			pr.Gateway = rzp
			st := &claimOutage{Store: pr.Store, down: true, wrote: wrote}
			pr.Store = st
			bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}
			p, err := pr.PayWithRazorpay(ctx, "bill_1", "pay_K", "usr_a")
			if e := apperr.From(err); err == nil || e.Kind.Status() != 503 || e.Details["payment_id"] != "pay_K" {
				t.Fatalf("PayWithRazorpay during the outage = %+v, %v; want 503 naming pay_K", p, err)
			}
			if got, err := pr.Store.Get(ctx, "pay_K"); err != nil || got.Status != domain.Pending || got.Razorpay != nil {
				t.Fatalf("pay_K = %+v, %v; want PENDING without an order", got, err)
			}
			st.down = false
			p, err = pr.PayWithRazorpay(ctx, "bill_1", "pay_K", "usr_a")
			if err != nil || p.ID != "pay_K" || p.Status != domain.Pending || p.Razorpay == nil {
				t.Fatalf("asked again = %+v, %v; want pay_K PENDING with its order", p, err)
			}
			if holder, found, err := pr.Store.BillClaim(ctx, "bill_1"); err != nil || !found || holder != "pay_K" {
				t.Fatalf("bill claim = %q %v %v, want held by pay_K", holder, found, err)
			}
			if _, err := pr.PayFromWallet(ctx, "bill_1", "pay_W", "usr_a"); !errors.Is(err, domain.ErrBillAlreadyPaid) {
				t.Fatalf("a wallet payment of the bill while pay_K is PENDING = %v, want ErrBillAlreadyPaid", err)
			}
		})
	}
}
