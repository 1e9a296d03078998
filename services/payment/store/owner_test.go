package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/payment/domain"
)

// A payment created under an id that is another user's payment (a keyed
// request whose key was used for another user, the gateway's record of it
// gone) is refused, and is not listed for the second user, though its id
// was appended to their list at the number it carries in its owner's.
func TestAPaymentRefusedAsAnotherUsersIsNotListedForThem(t *testing.T) {
	ctx := context.Background()
	w := newListWorld()
	carol, dave := id.New(id.User), id.New(id.User)
	payID := id.Derive(id.Payment, "tok-shared")
	mine := domain.NewWalletPayment(payID, domain.Bill{ID: id.New(id.Bill), UserID: carol, Amount: 4242, Currency: "INR"}, time.Now())
	if _, err := w.st.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	theirs := domain.NewWalletPayment(payID, domain.Bill{ID: id.New(id.Bill), UserID: dave, Amount: 4242, Currency: "INR"}, time.Now())
	if _, err := w.st.Create(ctx, theirs); !errors.Is(err, domain.ErrPaymentExists) {
		t.Fatalf("the same id for Dave = %v, want ErrPaymentExists", err)
	}
	for _, tc := range []struct {
		user string
		want int
	}{{dave, 0}, {carol, 1}} {
		page, err := w.pr.ListPayments(ctx, ownerOf(tc.user), domain.Listing{UserID: tc.user})
		if err != nil || len(page.Items) != tc.want {
			t.Fatalf("payments listed for %s = %+v, %v; want %d", tc.user, page.Items, err, tc.want)
		}
	}
}
