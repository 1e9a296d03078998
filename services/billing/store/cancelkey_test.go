package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/billing/domain"
)

// A keyed cancel binds its Idempotency-Key to the subscription it cancels,
// in the billing store: with no record of the key left at the gateway, the
// same key again on that subscription answers it as cancelled, and on
// another one is ErrKeyReused and changes nothing.
func TestKeyedCancelBindsItsKey(t *testing.T) {
	svc, clk, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	x := subscribe(t, svc, user, "DAILY", "", false)
	y := subscribe(t, svc, user, "DAILY", "", false)
	other := subscribe(t, svc, user, "DAILY", "", false)
	tick(t, svc)
	const token, fresh = "user:usr_a:K", "user:usr_a:L"

	first, err := svc.CancelKeyedSubscription(ctx, owner(user), x.ID, token)
	if err != nil || first.Status != domain.Cancelled {
		t.Fatalf("CancelKeyedSubscription(x, K) = %+v, %v; want CANCELLED", first, err)
	}
	clk.Set(mustTime("2026-12-01T11:00:00Z"))
	if _, err := svc.CancelSubscription(ctx, owner(user), other.ID); err != nil {
		t.Fatalf("CancelSubscription(other) = %v", err)
	}

	cases := []struct {
		name    string
		sub     string
		token   string
		wantErr error
	}{
		{"the same key on another subscription", y.ID, token, domain.ErrKeyReused},
		{"the retry", x.ID, token, nil},
		{"the retry again", x.ID, token, nil},
		{"another key on the cancelled one", x.ID, fresh, domain.ErrSubscriptionCancelled},
		{"no key on the cancelled one", x.ID, "", domain.ErrSubscriptionCancelled},
		{"the key on one cancelled without it", other.ID, token, domain.ErrKeyReused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.CancelKeyedSubscription(ctx, owner(user), tc.sub, tc.token)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CancelKeyedSubscription(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
			if tc.wantErr == nil && (got.ID != x.ID || got.Status != domain.Cancelled || !got.CancelledAt.Equal(first.CancelledAt)) {
				t.Fatalf("CancelKeyedSubscription(%s) = %+v, want the first answer %+v", tc.name, got, first)
			}
		})
	}
	if got, err := svc.GetSubscription(ctx, admin(), y.ID); err != nil || got.Status != domain.Active {
		t.Fatalf("GetSubscription(y) = %+v, %v; want it still ACTIVE", got, err)
	}
	// L was used on x (answered SUBSCRIPTION_ALREADY_CANCELLED): it is
	// x's now, and a key never used cancels y.
	if _, err := svc.CancelKeyedSubscription(ctx, owner(user), y.ID, fresh); !errors.Is(err, domain.ErrKeyReused) {
		t.Fatalf("CancelKeyedSubscription(y, L) = %v, want ErrKeyReused", err)
	}
	if got, err := svc.CancelKeyedSubscription(ctx, owner(user), y.ID, "user:usr_a:M"); err != nil || got.Status != domain.Cancelled {
		t.Fatalf("CancelKeyedSubscription(y, M) = %+v, %v; want CANCELLED", got, err)
	}
}

// A keyed cancel that another cancel got to first keeps its first
// answer, SUBSCRIPTION_ALREADY_CANCELLED, when retried.
func TestKeyedCancelOfACancelledSubscription(t *testing.T) {
	svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "MONTHLY", "", false)
	if _, err := svc.CancelSubscription(ctx, admin(), sub.ID); err != nil {
		t.Fatalf("CancelSubscription = %v", err)
	}
	for range 2 {
		if _, err := svc.CancelKeyedSubscription(ctx, owner(user), sub.ID, "user:usr_a:K"); !errors.Is(err, domain.ErrSubscriptionCancelled) {
			t.Fatalf("CancelKeyedSubscription = %v, want ErrSubscriptionCancelled", err)
		}
	}
}

// A refused caller binds nothing: the key stays free for its owner.
func TestKeyedCancelRefusedBindsNothing(t *testing.T) {
	svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "WEEKLY", "", false)
	mine := subscribe(t, svc, user, "WEEKLY", "", false)
	const token = "user:usr_a:K"
	if _, err := svc.CancelKeyedSubscription(ctx, owner(id.New(id.User)), sub.ID, token); err == nil {
		t.Fatal("CancelKeyedSubscription by a stranger = nil, want refused")
	}
	if _, err := svc.CancelKeyedSubscription(ctx, owner(user), id.New(id.Subscription), token); !errors.Is(err, domain.ErrSubscriptionNotFound) {
		t.Fatalf("CancelKeyedSubscription(unknown) = %v, want ErrSubscriptionNotFound", err)
	}
	if got, err := svc.CancelKeyedSubscription(ctx, owner(user), mine.ID, token); err != nil || got.Status != domain.Cancelled {
		t.Fatalf("CancelKeyedSubscription(mine) = %+v, %v; want CANCELLED", got, err)
	}
}
