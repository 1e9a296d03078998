package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/peers/peerstest"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/payment/domain"
	"github.com/finflow/finflow/services/payment/store"
)

func ownerOf(userID string) auth.Caller {
	return auth.Caller{Signed: true, Identity: auth.Identity{Sub: userID, Role: "user"}}
}

// listWorld is a processor whose store lists users' payments and top-ups
// in memory, with a count of the state's round trips.
type listWorld struct {
	pr  *domain.Processor
	mem *sidecartest.MemState
	st  *store.Store
}

func newListWorld() listWorld {
	mem := sidecartest.NewMemState()
	st := store.New(mem, "payment-store")
	return listWorld{pr: &domain.Processor{Store: st, Users: &peerstest.Directory{}, Now: time.Now}, mem: mem, st: st}
}

// make creates n payments (or top-ups) for user, oldest first, at
// positions 1 to n of the user's list.
func (w listWorld) make(t *testing.T, purpose domain.Purpose, user string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		p := domain.NewWalletPayment("", domain.Bill{ID: id.New(id.Bill), UserID: user, Amount: int64(100 + i), Currency: "INR"}, time.Now())
		if purpose == domain.PurposeTopUp {
			p = domain.NewRazorpayPayment(id.New(id.TopUp), domain.Bill{UserID: user, Amount: int64(100 + i), Currency: "INR"}, time.Now())
			p.Purpose, p.TopUpID = domain.PurposeTopUp, p.ID
		}
		if _, err := w.st.Create(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// forged is a cursor written by hand: the base64 of raw.
func forged(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

// A cursor is taken only when it could have been issued for the list: of
// the listing's kind (p for payments, t for top-ups) and a position within
// the user's list as it is. The rest, the tester's p:9223372036854775807
// and t:1000 among them, are 400 on the cursor field, for the price of the
// read of the list's head that every page makes anyway.
func TestListCursors(t *testing.T) {
	ctx := context.Background()
	listings := []struct {
		name, kind, other string
		purpose           domain.Purpose
		entries           int64
		list              func(*domain.Processor, context.Context, auth.Caller, domain.Listing) (domain.Page, error)
	}{
		{"payments", "p", "t", domain.PurposeBill, 55, (*domain.Processor).ListPayments},
		{"top-ups", "t", "p", domain.PurposeTopUp, 6, (*domain.Processor).ListTopUps},
	}
	for _, l := range listings {
		w := newListWorld()
		user := id.New(id.User)
		w.make(t, l.purpose, user, int(l.entries))
		n := l.entries
		cases := []struct {
			name   string
			cursor string
			want   int64 // the first listed position; 0: refused
		}{
			{"the lowest issued", page.Cursor(l.kind, 2), 1},
			{"the newest issued", page.Cursor(l.kind, n), n - 1},
			{"in the middle", page.Cursor(l.kind, n/2), n/2 - 1},
			{"just past the newest", page.Cursor(l.kind, n+1), 0},
			{"position 1000", forged(l.kind + ":1000"), 0},
			{"the largest position", forged(fmt.Sprintf("%s:%d", l.kind, int64(math.MaxInt64))), 0},
			{"past int64", forged(l.kind + ":9223372036854775808"), 0},
			{"position 1", page.Cursor(l.kind, 1), 0},
			{"position 0", page.Cursor(l.kind, 0), 0},
			{"negative", page.Cursor(l.kind, -2), 0},
			{"the other list's kind", page.Cursor(l.other, 2), 0},
			{"a bills cursor", page.Cursor("b", 2), 0},
			{"the wallet's kind", page.Cursor("w1", 2), 0},
			{"a leading zero", forged(l.kind + ":02"), 0},
			{"not base64", "!!not-base64", 0},
			{"base64 of no cursor", "bm9wZQ", 0},
		}
		for _, status := range []string{"", "PENDING", "FAILED"} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s, status %q, %s", l.name, status, tc.name), func(t *testing.T) {
					before := w.mem.RoundTrips()
					p, err := l.list(w.pr, ctx, ownerOf(user), domain.Listing{UserID: user, Status: status, Limit: "2", Cursor: tc.cursor})
					if tc.want == 0 {
						var ae *apperr.Error
						if !errors.As(err, &ae) || ae.Code != apperr.CodeValidationFailed || ae.Details["field"] != "cursor" ||
							ae.Message != "cursor is not one this server issued" || !errors.Is(err, domain.ErrInvalidCursor) {
							t.Fatalf("%s(cursor %q) = %+v, %v; want 400 VALIDATION_FAILED on cursor", l.name, tc.cursor, p, err)
						}
						if n := w.mem.RoundTrips() - before; n > 1 {
							t.Fatalf("refusing cursor %q took %d state round trips, want at most 1 (the list's head)", tc.cursor, n)
						}
						return
					}
					if err != nil {
						t.Fatalf("%s(cursor %q) = %v", l.name, tc.cursor, err)
					}
					if status == "FAILED" {
						if len(p.Items) != 0 {
							t.Fatalf("%s(status FAILED) = %+v, want none", l.name, p.Items)
						}
						return
					}
					if len(p.Items) == 0 || p.Items[0].Seq != tc.want {
						t.Fatalf("%s(cursor %q) = %+v, want a page from position %d", l.name, tc.cursor, p.Items, tc.want)
					}
				})
			}
		}
	}
}

// A cursor is bound to its list's kind, not to a user: another user's
// cursor is a position in this user's list too, taken within it and
// refused past its end; a user with no list takes none.
func TestListCursorOfAnotherUser(t *testing.T) {
	ctx := context.Background()
	w := newListWorld()
	long, short, none := id.New(id.User), id.New(id.User), id.New(id.User)
	w.make(t, domain.PurposeBill, long, 10)
	w.make(t, domain.PurposeBill, short, 3)
	first, err := w.pr.ListPayments(ctx, ownerOf(long), domain.Listing{UserID: long, Limit: "8"})
	if err != nil || first.Next != page.Cursor("p", 3) {
		t.Fatalf("a page of 8 of 10 = %+v, %v; want the cursor of position 3", first.Next, err)
	}
	if p, err := w.pr.ListPayments(ctx, ownerOf(short), domain.Listing{UserID: short, Cursor: first.Next}); err != nil || len(p.Items) != 2 || p.Items[0].UserID != short {
		t.Fatalf("p:3 on a list of 3 = %+v, %v; want its 2 oldest payments", p.Items, err)
	}
	for _, who := range []string{short, none} {
		if _, err := w.pr.ListPayments(ctx, ownerOf(who), domain.Listing{UserID: who, Cursor: page.Cursor("p", 9)}); !errors.Is(err, domain.ErrInvalidCursor) {
			t.Fatalf("p:9 on a list of 3 or none = %v, want ErrInvalidCursor", err)
		}
	}
}

// Paging follows every cursor it is given to the list's oldest entry, with
// and without a filter, listing each payment once, newest first: a scan
// that reads down to entry 1 ends the listing rather than asking for a page
// below it (a position never issued), and a page that fills up before the
// stretch it read ends has a cursor even when the list ends there too.
func TestListPagingToTheEnd(t *testing.T) {
	ctx := context.Background()
	for _, total := range []int{1, 2, 3, 4, 5, 50, 51, 101} {
		w := newListWorld()
		user := id.New(id.User)
		w.make(t, domain.PurposeBill, user, total)
		for _, status := range []string{"", "PENDING", "SUCCESS"} {
			for _, limit := range []string{"1", "2", "50", "200"} {
				t.Run(fmt.Sprintf("%d payments, status %q, limit %s", total, status, limit), func(t *testing.T) {
					listed, cursor := 0, ""
					for pages := 0; ; pages++ {
						if pages > total+1 {
							t.Fatal("paging does not end")
						}
						p, err := w.pr.ListPayments(ctx, ownerOf(user), domain.Listing{UserID: user, Status: status, Limit: limit, Cursor: cursor})
						if err != nil {
							t.Fatalf("ListPayments(cursor %q) = %v", cursor, err)
						}
						for _, it := range p.Items {
							if it.Seq != int64(total-listed) {
								t.Fatalf("listed position %d after %d payments of %d, want %d", it.Seq, listed, total, total-listed)
							}
							listed++
						}
						if p.Next == "" {
							break
						}
						cursor = p.Next
					}
					if want := map[string]int{"": total, "PENDING": total, "SUCCESS": 0}[status]; listed != want {
						t.Fatalf("listed %d payments, want %d", listed, want)
					}
				})
			}
		}
	}
}

// A list with nothing in it asks the user service whether the user exists:
// a user it does not know is 404 USER_NOT_FOUND, not an empty page (as the
// wallet's ledger is WALLET_NOT_FOUND), and a user service that cannot tell
// is its error, not a page. A list with entries, a filter that matches none
// of them, or a cursor, asks nothing: the list is proof enough.
func TestAnEmptyListAsksWhetherTheUserExists(t *testing.T) {
	ctx := context.Background()
	down := apperr.New(apperr.KindUnavailable, "UNAVAILABLE", "the user service is not answering")
	paid, quiet, unknown := id.New(id.User), id.New(id.User), id.New(id.User)
	for _, tc := range []struct {
		name      string
		user      string
		q         domain.Listing
		usersErr  error
		wantErr   error
		wantItems int
		wantAsked int
	}{
		{"a user with payments", paid, domain.Listing{}, nil, nil, 3, 0},
		{"a filter that matches none of them", paid, domain.Listing{Status: "FAILED"}, nil, nil, 0, 0},
		{"a filter of method", paid, domain.Listing{Method: "RAZORPAY"}, nil, nil, 0, 0},
		{"a user with none", quiet, domain.Listing{}, nil, nil, 0, 1},
		{"a user with none, filtered", quiet, domain.Listing{Status: "SUCCESS"}, nil, nil, 0, 1},
		{"no such user", unknown, domain.Listing{}, nil, domain.ErrUserNotFound, 0, 1},
		{"no such user, filtered", unknown, domain.Listing{Status: "PENDING", Limit: "200"}, nil, domain.ErrUserNotFound, 0, 1},
		{"the user service cannot tell", quiet, domain.Listing{}, down, down, 0, 1},
	} {
		for _, l := range []struct {
			name string
			list func(*domain.Processor, context.Context, auth.Caller, domain.Listing) (domain.Page, error)
			kind domain.Purpose
		}{{"payments", (*domain.Processor).ListPayments, domain.PurposeBill}, {"top-ups", (*domain.Processor).ListTopUps, domain.PurposeTopUp}} {
			if l.kind == domain.PurposeTopUp && tc.q.Method != "" {
				continue
			}
			t.Run(l.name+"/"+tc.name, func(t *testing.T) {
				w := newListWorld()
				w.make(t, l.kind, paid, 3)
				u := &peerstest.Directory{Gone: map[string]bool{unknown: true}, Err: tc.usersErr}
				w.pr.Users = u
				q := tc.q
				q.UserID = tc.user
				p, err := l.list(w.pr, ctx, auth.Caller{Signed: true, Identity: auth.Identity{Sub: "usr_admin", Role: "admin"}}, q)
				if !errors.Is(err, tc.wantErr) || (err == nil && len(p.Items) != tc.wantItems) || u.Asked() != tc.wantAsked {
					t.Fatalf("list = %d items, %v; the user service asked %d times; want %d items, %v, asked %d",
						len(p.Items), err, u.Asked(), tc.wantItems, tc.wantErr, tc.wantAsked)
				}
			})
		}
	}
}
