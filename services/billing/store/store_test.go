package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/billing/domain"
	"github.com/finflow/finflow/services/billing/store"
)

// Twenty payments race to mark one bill PAID: exactly one wins, and the
// bill records it.
func TestMarkPaidRace(t *testing.T) {
	ctx := context.Background()
	s := store.New(sidecartest.NewMemState(), "billing-store")
	b, _ := domain.NewBill("usr_x", money.Amount(500), "Water", "", time.Now())
	if err := s.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := []string{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pay := fmt.Sprintf("pay_%d", i)
			_, err := s.Update(ctx, b.ID, func(b *domain.Bill) (bool, error) { return b.MarkPaid(pay, time.Now()) })
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, pay)
				mu.Unlock()
			case errors.Is(err, domain.ErrBillAlreadyPaid):
			default:
				t.Errorf("Update = %v", err)
			}
		}(i)
	}
	wg.Wait()
	got, _ := s.Get(ctx, b.ID)
	if len(winners) != 1 || got.Status != domain.Paid || got.PaymentID != winners[0] {
		t.Fatalf("winners %v, bill %+v: want exactly one payer recorded", winners, got)
	}
}
