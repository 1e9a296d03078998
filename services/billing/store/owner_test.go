package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/services/billing/domain"
)

// A keyed create refused because its key was used for another user (the
// gateway kept no record of it) changes nothing a client can see: the id
// it appended to the second user's list is not listed there, though it sits
// at the very number the item carries in its owner's list (both users'
// first). An outside tester read Carol's bill in Dave's own listing.
func TestARefusedKeyedCreateListsNothingOfAnotherUser(t *testing.T) {
	ctx := context.Background()
	svc, _, _, _ := newInstance(t, time.Now())
	carol, dave := id.New(id.User), id.New(id.User)

	bill := domain.NewBillRequest{UserID: carol, Amount: 4242, Description: "carol private", IdempotencyToken: "tok-bill"}
	if _, err := svc.Create(ctx, admin(), bill); err != nil {
		t.Fatal(err)
	}
	bill.UserID = dave
	if _, err := svc.Create(ctx, admin(), bill); !errors.Is(err, domain.ErrKeyReused) {
		t.Fatalf("the key again for Dave = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	if got := pageAll(t, svc, owner(dave), dave, "", 50); len(got) != 0 {
		t.Fatalf("Dave's bills = %v, want none", got)
	}
	if got := pageAll(t, svc, owner(carol), carol, "", 50); len(got) != 1 {
		t.Fatalf("Carol's bills = %v, want her one bill", got)
	}

	sub := domain.NewSubscriptionRequest{UserID: carol, Amount: money.Amount(300), Description: "carol plan", Interval: "MONTHLY", IdempotencyToken: "tok-sub"}
	if _, err := svc.CreateSubscription(ctx, admin(), sub); err != nil {
		t.Fatal(err)
	}
	sub.UserID = dave
	if _, err := svc.CreateSubscription(ctx, admin(), sub); !errors.Is(err, domain.ErrKeyReused) {
		t.Fatalf("the key again for Dave = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	page, err := svc.ListSubscriptions(ctx, owner(dave), domain.Listing{UserID: dave})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("Dave's subscriptions = %+v, %v; want none", page.Items, err)
	}
}
