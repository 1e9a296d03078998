package domain_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/finflow/finflow/services/payment/domain"
)

// Payments settled by this process and by a twin (another payment instance
// over the same store) wait in the pending index together: one recovery
// round drops them all. The round's bookkeeping is written by its
// goroutines and by the round itself (run with -race); on the replica
// topology a payment instance died of "concurrent map writes" here.
func TestRecoveryRoundOverPaymentsSettledHereAndByATwin(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 1_000_000
	pr := newProcessor(bank)
	twin := newProcessor(bank)
	twin.Store = pr.Store
	for i := 0; i < 40; i++ {
		bill := fmt.Sprintf("bill_%d", i)
		bank.bills[bill] = &domain.Bill{ID: bill, UserID: "usr_a", Amount: 100, Currency: "INR"}
		by := pr
		if i%2 == 1 {
			by = twin
		}
		if p, err := by.PayFromWallet(ctx, bill, "", ""); err != nil || p.Status != domain.Success {
			t.Fatalf("PayFromWallet(%s) = %s, %v; want SUCCESS", bill, p.Status, err)
		}
	}
	if err := pr.RecoverOnce(ctx, immediately); err != nil {
		t.Fatalf("RecoverOnce = %v", err)
	}
	pending, err := pr.Store.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Fatalf("%d payments still in the pending index after a round, want none", len(pending))
	}
}
