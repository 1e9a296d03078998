package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/peers/peerstest"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/billing/domain"
)

// makeBills creates n bills for user, oldest first; bill i (from 0) is
// PAID when i%3 == 1 and REFUNDED when i%5 == 4 (paid, then refunded). It
// returns their ids and statuses, newest first.
func makeBills(t testing.TB, svc *domain.Service, user string, n int) ([]string, map[string]domain.Status) {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	status := map[string]domain.Status{}
	for i := 0; i < n; i++ {
		b, err := svc.Create(ctx, admin(), domain.NewBillRequest{UserID: user, Amount: money.Amount(100 + i), Description: "bill " + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		status[b.ID] = domain.Unpaid
		if i%3 == 1 || i%5 == 4 {
			pay := id.New(id.Payment)
			if _, err := svc.MarkPaid(ctx, contract.MarkPaidRequest{BillID: b.ID, Status: "PAID", PaymentID: pay}); err != nil {
				t.Fatal(err)
			}
			status[b.ID] = domain.Paid
			if i%5 == 4 {
				if _, err := svc.MarkRefunded(ctx, contract.MarkRefundedRequest{BillID: b.ID, PaymentID: pay}); err != nil {
					t.Fatal(err)
				}
				status[b.ID] = domain.Refunded
			}
		}
		ids[n-1-i] = b.ID
	}
	return ids, status
}

// pageAll pages through a user's bills and returns every id, failing on a
// page over the limit.
func pageAll(t *testing.T, svc *domain.Service, caller auth.Caller, user, status string, limit int) []string {
	t.Helper()
	var got []string
	cursor := ""
	for pages := 0; pages < 1000; pages++ {
		p, err := svc.ListBills(context.Background(), caller, domain.Listing{UserID: user, Status: status, Limit: strconv.Itoa(limit), Cursor: cursor})
		if err != nil {
			t.Fatalf("ListBills(status %q, limit %d, cursor %q) = %v", status, limit, cursor, err)
		}
		if len(p.Items) > limit {
			t.Fatalf("a page of %d bills for limit %d", len(p.Items), limit)
		}
		for _, b := range p.Items {
			got = append(got, b.ID)
		}
		if p.Next == "" {
			return got
		}
		cursor = p.Next
	}
	t.Fatal("paging does not end")
	return nil
}

// Every bill is listed once, newest first, in pages of any size, with and
// without a status filter, by its owner or an admin.
func TestListBillsPaging(t *testing.T) {
	svc, _, _, _ := newInstance(t, time.Now())
	user := id.New(id.User)
	ids, status := makeBills(t, svc, user, 137)
	makeBills(t, svc, id.New(id.User), 20) // someone else's
	for _, filter := range []string{"", "UNPAID", "PAID", "REFUNDED"} {
		var want []string
		for _, b := range ids {
			if filter == "" || string(status[b]) == filter {
				want = append(want, b)
			}
		}
		for _, limit := range []int{1, 7, 50, 200} {
			for _, caller := range []auth.Caller{owner(user), admin()} {
				t.Run(fmt.Sprintf("status %q limit %d admin %v", filter, limit, caller.Identity.Admin()), func(t *testing.T) {
					if got := pageAll(t, svc, caller, user, filter, limit); fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("listed %d bills %v\nwant %d %v", len(got), got, len(want), want)
					}
				})
			}
		}
	}
}

// The contract's refusals: other users, no identity, bad filters, limits
// and cursors.
func TestListBillsRefusals(t *testing.T) {
	svc, _, _, _ := newInstance(t, time.Now())
	user := id.New(id.User)
	makeBills(t, svc, user, 3)
	cases := []struct {
		name      string
		caller    auth.Caller
		q         domain.Listing
		wantErr   error
		wantField string
	}{
		{"another user", owner(id.New(id.User)), domain.Listing{UserID: user}, auth.ErrForbidden, ""},
		{"no identity", auth.Caller{App: "gateway"}, domain.Listing{UserID: user}, auth.ErrUnauthenticated, ""},
		{"not a user id", admin(), domain.Listing{UserID: "usr_1"}, contract.ErrUserNotFound, ""},
		{"status in lower case", admin(), domain.Listing{UserID: user, Status: "paid"}, nil, "status"},
		{"unknown status", admin(), domain.Listing{UserID: user, Status: "CANCELLED"}, nil, "status"},
		{"limit 0", admin(), domain.Listing{UserID: user, Limit: "0"}, nil, "limit"},
		{"limit 201", admin(), domain.Listing{UserID: user, Limit: "201"}, nil, "limit"},
		{"limit not a number", admin(), domain.Listing{UserID: user, Limit: "ten"}, nil, "limit"},
		{"cursor not issued", admin(), domain.Listing{UserID: user, Cursor: "bm90LWEtY3Vyc29y"}, nil, "cursor"},
		{"cursor of position 1", admin(), domain.Listing{UserID: user, Cursor: "Yjox"}, nil, "cursor"},
		{"a subscriptions cursor", admin(), domain.Listing{UserID: user, Cursor: "czo1"}, nil, "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.ListBills(context.Background(), tc.caller, tc.q)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ListBills = %v, want %v", err, tc.wantErr)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.CodeValidationFailed || ae.Details["field"] != tc.wantField {
				t.Fatalf("ListBills = %v, want VALIDATION_FAILED on %s", err, tc.wantField)
			}
		})
	}
	// The cursor the first page issues is accepted ("b:<n>"), and the
	// literal cursors above are what they claim to be.
	p, err := svc.ListBills(context.Background(), admin(), domain.Listing{UserID: user, Limit: "1"})
	if err != nil || p.Next != "Yjoz" {
		t.Fatalf("first page of 1 = %+v, %v; want the cursor of position 3 (Yjoz)", p, err)
	}
}

// A bill created while a client pages is not listed on a later page, and
// none is listed twice or skipped.
func TestListBillsCreatedWhilePaging(t *testing.T) {
	svc, _, _, _ := newInstance(t, time.Now())
	user := id.New(id.User)
	ids, _ := makeBills(t, svc, user, 120)
	ctx := context.Background()
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := svc.ListBills(ctx, owner(user), domain.Listing{UserID: user, Limit: "25", Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Items {
			got = append(got, b.ID)
		}
		if page < 3 {
			makeBills(t, svc, user, 30) // 30 newer bills between pages
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("paging while bills were created listed %d bills, want the %d that existed, each once", len(got), len(ids))
	}
	if all := pageAll(t, svc, admin(), user, "", 200); len(all) != 210 {
		t.Fatalf("afterwards %d bills are listed, want 210", len(all))
	}
}

// A keyed create retried (the same bill id proposed again) adds a second
// entry to the list; the bill is listed once, at its own place.
func TestListBillsSkipsRetriedEntries(t *testing.T) {
	svc, _, _, _ := newInstance(t, time.Now())
	user := id.New(id.User)
	ctx := context.Background()
	req := domain.NewBillRequest{UserID: user, Amount: 500, Description: "Water", IdempotencyToken: "tok"}
	first, err := svc.Create(ctx, admin(), req)
	if err != nil {
		t.Fatal(err)
	}
	makeBills(t, svc, user, 2)
	again, err := svc.Create(ctx, admin(), req)
	if err != nil || again.ID != first.ID || again.Seq != 1 {
		t.Fatalf("retried create = %+v, %v; want the first bill %s, first in the list", again, err, first.ID)
	}
	got := pageAll(t, svc, admin(), user, "", 1)
	if len(got) != 3 || got[2] != first.ID {
		t.Fatalf("listed %v, want 3 bills with %s oldest (once)", got, first.ID)
	}
}

// A page costs a bounded number of state round trips, however long the
// user's history: at most 3 for the default page, 12 for any page.
func TestListBillsRoundTrips(t *testing.T) {
	mem := sidecartest.NewMemState()
	clk := &clock{now: time.Now()}
	svc := instance(mem, clk, &published{})
	user := id.New(id.User)
	makeBills(t, svc, user, 1000)
	cases := []struct {
		name, status, limit string
		most                int
	}{
		{"default page", "", "", 3},
		{"a page of 10", "", "10", 3},
		{"a page of 200", "", "200", 12},
		{"a filter that matches a third", "PAID", "50", 12},
		{"a filter that matches a tenth", "REFUNDED", "200", 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cursor, worst := "", 0
			for pages := 0; pages < 5; pages++ {
				before := mem.RoundTrips()
				p, err := svc.ListBills(context.Background(), owner(user), domain.Listing{UserID: user, Status: tc.status, Limit: tc.limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				worst = max(worst, mem.RoundTrips()-before)
				if p.Next == "" {
					break
				}
				cursor = p.Next
			}
			t.Logf("at most %d state round trips per page", worst)
			if worst > tc.most {
				t.Fatalf("a page took %d state round trips, want at most %d", worst, tc.most)
			}
		})
	}
}

// The domain reads lists in stretches the list index serves in one read of
// its head and at most one bulk read of its pages.
func TestListStretchIsTheIndexPage(t *testing.T) {
	if domain.ListStretch != listindex.PageSize {
		t.Fatalf("domain.ListStretch = %d, listindex.PageSize = %d", domain.ListStretch, listindex.PageSize)
	}
}

// A list with nothing in it asks the user service whether the user exists:
// a user it does not know is 404 USER_NOT_FOUND rather than an empty page,
// and a user service that cannot tell is its error. A list with entries
// (a filter matching none of them included) or a cursor asks nothing.
func TestAnEmptyListAsksWhetherTheUserExists(t *testing.T) {
	ctx := context.Background()
	down := apperr.New(apperr.KindUnavailable, "UNAVAILABLE", "the user service is not answering")
	listed, quiet, unknown := id.New(id.User), id.New(id.User), id.New(id.User)
	for _, tc := range []struct {
		name      string
		user      string
		status    string
		usersErr  error
		wantErr   error
		wantItems int
		wantAsked int
	}{
		{"a user with entries", listed, "", nil, nil, 2, 0},
		{"a filter that matches none of them", listed, "REFUNDED", nil, nil, 0, 0},
		{"a user with none", quiet, "", nil, nil, 0, 1},
		{"a user with none, filtered", quiet, "PAID", nil, nil, 0, 1},
		{"no such user", unknown, "", nil, domain.ErrUserNotFound, 0, 1},
		{"no such user, filtered", unknown, "UNPAID", nil, domain.ErrUserNotFound, 0, 1},
		{"the user service cannot tell", quiet, "", down, down, 0, 1},
	} {
		for _, kind := range []string{"bills", "subscriptions"} {
			if kind == "subscriptions" && tc.status != "" {
				continue
			}
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
				for i := 0; i < 2; i++ {
					if kind == "bills" {
						makeBills(t, svc, listed, 1)
					} else {
						subscribe(t, svc, listed, "WEEKLY", "", false)
					}
				}
				dir := &peerstest.Directory{Gone: map[string]bool{unknown: true}, Err: tc.usersErr}
				svc.Users = dir
				q := domain.Listing{UserID: tc.user, Status: tc.status}
				var n int
				var err error
				if kind == "bills" {
					var p domain.Page[domain.Bill]
					p, err = svc.ListBills(ctx, admin(), q)
					n = len(p.Items)
				} else {
					var p domain.Page[domain.Subscription]
					p, err = svc.ListSubscriptions(ctx, admin(), q)
					n = len(p.Items)
				}
				if !errors.Is(err, tc.wantErr) || (err == nil && n != tc.wantItems) || dir.Asked() != tc.wantAsked {
					t.Fatalf("list = %d items, %v; the user service asked %d times; want %d items, %v, asked %d",
						n, err, dir.Asked(), tc.wantItems, tc.wantErr, tc.wantAsked)
				}
			})
		}
	}
}
