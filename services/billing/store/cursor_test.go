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
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/billing/domain"
)

// forged is a cursor written by hand: the base64 of raw.
func forged(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

// cursorCase is one cursor given to a listing of a user whose list holds
// some entries: ok with want, the position of the first item listed, or
// refused with 400 VALIDATION_FAILED on the cursor field.
type cursorCase struct {
	name   string
	cursor string
	want   int64 // the first item's position; 0 for a refusal
}

// cursorCases are the cursors of kind for a list of n entries (n ≥ 4),
// issued and forged; other is a kind of another list.
func cursorCases(kind, other string, n int64) []cursorCase {
	return []cursorCase{
		{"the lowest issued (" + kind + ":2)", page.Cursor(kind, 2), 1},
		{"the newest issued (" + kind + ":n)", page.Cursor(kind, n), n - 1},
		{"in the middle", page.Cursor(kind, n/2), n/2 - 1},
		{"just past the newest (" + kind + ":n+1)", page.Cursor(kind, n+1), 0},
		{"position 1000", forged(kind + ":1000"), 0},
		{"the largest position", forged(fmt.Sprintf("%s:%d", kind, int64(math.MaxInt64))), 0},
		{"past int64", forged(kind + ":9223372036854775808"), 0},
		{"position 1", page.Cursor(kind, 1), 0},
		{"position 0", page.Cursor(kind, 0), 0},
		{"negative", page.Cursor(kind, -3), 0},
		{"another list's kind", page.Cursor(other, 2), 0},
		{"the wallet's kind", page.Cursor("w1", 2), 0},
		{"the users' kind", page.Cursor("u1", 2), 0},
		{"a payments cursor", page.Cursor("p", 2), 0},
		{"a leading zero", forged(kind + ":02"), 0},
		{"not base64", "!!not-base64", 0},
		{"base64 of no cursor", "bm9wZQ", 0},
		{"padded base64", page.Cursor(kind, 2) + "=", 0},
	}
}

// checkCursor runs one case against list, which returns the positions of
// the items of the page the cursor asks for. With a filter (filtered), the
// page may start below the cursor's position.
func checkCursor(t *testing.T, tc cursorCase, filtered bool, list func(cursor string) ([]int64, error)) {
	t.Helper()
	got, err := list(tc.cursor)
	if tc.want == 0 {
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.CodeValidationFailed || ae.Details["field"] != "cursor" || ae.Message != "cursor is not one this server issued" {
			t.Fatalf("list(cursor %q) = %v, %v; want 400 VALIDATION_FAILED on cursor", tc.cursor, got, err)
		}
		if !errors.Is(err, domain.ErrInvalidCursor) {
			t.Fatalf("list(cursor %q) = %v, want ErrInvalidCursor", tc.cursor, err)
		}
		return
	}
	if err != nil || len(got) == 0 || got[0] > tc.want || (!filtered && got[0] != tc.want) {
		t.Fatalf("list(cursor %q) = %v, %v; want a page from position %d", tc.cursor, got, err, tc.want)
	}
}

// A cursor is taken only when it could have been issued for the list: a
// bills cursor whose position lies within the user's list as it is. One
// past the newest bill, a forged b:1000, another list's kind, position 0
// or 1 or garbage are 400 on the cursor field, with or without a filter,
// at the cost of the one read of the list's head every page makes.
func TestListBillsCursors(t *testing.T) {
	mem := sidecartest.NewMemState()
	svc := instance(mem, &clock{now: time.Now()}, &published{})
	user := id.New(id.User)
	makeBills(t, svc, user, 20)
	ctx := context.Background()
	for _, status := range []string{"", "UNPAID"} {
		for _, tc := range cursorCases("b", "s", 20) {
			t.Run(fmt.Sprintf("status %q, %s", status, tc.name), func(t *testing.T) {
				checkCursor(t, tc, status != "", func(cursor string) ([]int64, error) {
					before := mem.RoundTrips()
					p, err := svc.ListBills(ctx, owner(user), domain.Listing{UserID: user, Status: status, Limit: "2", Cursor: cursor})
					if n := mem.RoundTrips() - before; err != nil && n > 1 {
						t.Errorf("refusing cursor %q took %d state round trips, want 1 (the list's head)", cursor, n)
					}
					var seqs []int64
					for _, b := range p.Items {
						seqs = append(seqs, b.Seq)
					}
					return seqs, err
				})
			})
		}
	}
	// The tester's own: b:1000 on a list of 20 was the first page again.
	if _, err := svc.ListBills(ctx, owner(user), domain.Listing{UserID: user, Limit: "1", Cursor: "YjoxMDAw"}); !errors.Is(err, domain.ErrInvalidCursor) {
		t.Fatalf("ListBills(cursor b:1000) = %v, want ErrInvalidCursor", err)
	}
	// The cursors a client follows are all taken, to the list's end.
	if got := pageAll(t, svc, owner(user), user, "", 3); len(got) != 20 {
		t.Fatalf("paging by 3 listed %d bills, want 20", len(got))
	}
}

// A cursor is a position, bound to its list's kind, not to a user: another
// user's bills cursor is a position in this user's list too, taken when it
// lies within it and refused past its end; a user with no bills takes none.
func TestListBillsCursorOfAnotherUser(t *testing.T) {
	svc, _, _, _ := newInstance(t, time.Now())
	ctx := context.Background()
	long, short, none := id.New(id.User), id.New(id.User), id.New(id.User)
	makeBills(t, svc, long, 10)
	shortIDs, _ := makeBills(t, svc, short, 3)
	p, err := svc.ListBills(ctx, owner(long), domain.Listing{UserID: long, Limit: "8"})
	if err != nil || p.Next != page.Cursor("b", 3) {
		t.Fatalf("a page of 8 of 10 = %+v, %v; want the cursor of position 3", p, err)
	}
	q, err := svc.ListBills(ctx, owner(short), domain.Listing{UserID: short, Cursor: p.Next})
	if err != nil || len(q.Items) != 2 || q.Items[0].ID != shortIDs[1] {
		t.Fatalf("the long list's cursor (b:3) on a list of 3 = %+v, %v; want its 2 oldest bills", q, err)
	}
	first, err := svc.ListBills(ctx, owner(long), domain.Listing{UserID: long, Limit: "2"})
	if err != nil || first.Next != page.Cursor("b", 9) {
		t.Fatalf("a page of 2 of 10 = %+v, %v; want the cursor of position 9", first, err)
	}
	if _, err := svc.ListBills(ctx, owner(short), domain.Listing{UserID: short, Cursor: first.Next}); !errors.Is(err, domain.ErrInvalidCursor) {
		t.Fatalf("b:9 on a list of 3 = %v, want ErrInvalidCursor", err)
	}
	if _, err := svc.ListBills(ctx, owner(none), domain.Listing{UserID: none, Cursor: page.Cursor("b", 2)}); !errors.Is(err, domain.ErrInvalidCursor) {
		t.Fatalf("b:2 on an empty list = %v, want ErrInvalidCursor", err)
	}
}

// The subscriptions list takes its own cursors within it, the same way.
func TestListSubscriptionsCursors(t *testing.T) {
	svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	for i := 0; i < 6; i++ {
		subscribe(t, svc, user, "WEEKLY", "", false)
	}
	for _, tc := range cursorCases("s", "b", 6) {
		t.Run(tc.name, func(t *testing.T) {
			checkCursor(t, tc, false, func(cursor string) ([]int64, error) {
				p, err := svc.ListSubscriptions(ctx, owner(user), domain.Listing{UserID: user, Limit: "2", Cursor: cursor})
				var seqs []int64
				for _, s := range p.Items {
					seqs = append(seqs, s.Seq)
				}
				return seqs, err
			})
		})
	}
	if _, err := svc.ListSubscriptions(ctx, owner(user), domain.Listing{UserID: user, Cursor: "czoxMDAw"}); !errors.Is(err, domain.ErrInvalidCursor) {
		t.Fatalf("ListSubscriptions(cursor s:1000) = %v, want ErrInvalidCursor", err)
	}
}
