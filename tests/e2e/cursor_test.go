package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// forgedCursor is a cursor written by hand, as a client might forge one:
// the base64 (URL alphabet, unpadded) of kind:position.
func forgedCursor(kind string, pos int64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s:%d", kind, pos))
}

// Every listing that pages with cursors takes only the cursors it could
// have issued: its own kind, at a position within the list as it is. A
// cursor past the list's newest entry (one past it, b:1000, the largest
// position), another listing's kind, position 1 or 0, or no cursor at all
// is 400 VALIDATION_FAILED on the cursor field, never the first page
// again; the cursors a client is given are taken, to the list's end. A
// cursor is a position in its kind of list, not bound to a user: another
// user's cursor is taken on this user's list when it lies within it. Every
// listing takes a limit of 1 to 200 and refuses anything else with 400 on
// the limit field.
func TestCursorsOfEveryListing(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Pager", fmt.Sprintf("pager-%d@example.com", rand.Int64()))
	short := env.MustCreateUser(t, "Short", fmt.Sprintf("short-%d@example.com", rand.Int64()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 100000, "") // the ledger's first entry
	owner := env.As(t, u.ID)

	const bills, payments, topups, subscriptions = 5, 2, 2, 2
	var made []string
	for i := 0; i < bills; i++ {
		made = append(made, env.MustCreateBill(t, u.ID, int64(500+i)).ID)
	}
	env.MustCreateBill(t, short.ID, 700) // the short user's one bill
	var paid []string
	for i := 0; i < payments; i++ {
		r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": made[i]}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("paying bill %d = %d %s", i, r.Status, r.Body)
		}
		var p harness.Payment
		r.JSON(t, &p)
		paid = append(paid, p.ID)
	}
	const refunds = 2 // of the first payment, each credited to the wallet
	for i := 0; i < refunds; i++ {
		if r := env.Do(t, "POST", "/Payment/"+paid[0]+"/refund", map[string]any{"amount": 10 + i, "reason": "paging"}, nil); r.Status != http.StatusCreated {
			t.Fatalf("refund %d = %d %s", i, r.Status, r.Body)
		}
	}
	for i := 0; i < topups; i++ {
		if r := env.Do(t, "POST", "/wallet/topup", map[string]any{"user_id": u.ID, "amount": 1000 + i}, owner); r.Status != http.StatusCreated {
			t.Fatalf("POST /wallet/topup = %d %s", r.Status, r.Body)
		}
	}
	// Starting next week: the cron binding makes no bill meanwhile, so the
	// bills list keeps its length.
	start := time.Now().UTC().Add(7 * 24 * time.Hour).Format(time.RFC3339)
	for i := 0; i < subscriptions; i++ {
		subscribeNow(t, u.ID, "MONTHLY", int64(30000+i), false, start)
	}
	ledger := int64(1 + payments + refunds) // the credit, a debit per payment, a credit per refund

	listings := []struct {
		name, path, kind, other string
		header                  map[string]string
		entries                 int64 // 0: a list shared with other tests, its length unknown
	}{
		{"bills", "/billing/user/" + u.ID, "b", "s", owner, bills},
		{"payments", "/Payment/user/" + u.ID, "p", "t", owner, payments},
		{"top-ups", "/wallet/user/" + u.ID + "/topups", "t", "p", owner, topups},
		{"subscriptions", "/billing/user/" + u.ID + "/subscriptions", "s", "b", owner, subscriptions},
		{"the ledger", "/wallet/transactions/" + u.ID, "w1", "u1", owner, ledger},
		{"refunds", "/Payment/" + paid[0] + "/refunds", "r", "p", owner, refunds},
		{"users", "/users/all", "u1", "w1", nil, 0},
	}
	for _, l := range listings {
		t.Run(l.name, func(t *testing.T) {
			// The cursors given are taken, one item a page, to the end.
			listed, cursor := 0, ""
			for pages := 0; l.entries > 0 || pages < 3; pages++ {
				if pages > int(l.entries)+1 && l.entries > 0 {
					t.Fatalf("paging %s does not end", l.path)
				}
				p := harness.MustListPage[map[string]any](t, env, l.path+"?limit=1", cursor, l.header)
				listed += len(p.Items)
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
			}
			if l.entries > 0 && int64(listed) != l.entries {
				t.Fatalf("paging %s by 1 listed %d, want %d", l.path, listed, l.entries)
			}
			// One paging rule for every listing: limit 1 to 200.
			if p := harness.MustListPage[map[string]any](t, env, l.path+"?limit=200", "", l.header); l.entries > 0 && int64(len(p.Items)) != l.entries {
				t.Errorf("GET %s?limit=200 listed %d, want %d", l.path, len(p.Items), l.entries)
			}
			for _, q := range []string{"0", "201", "-1", "1.5", "x", "1e2", "%20"} {
				r := env.Do(t, "GET", l.path+"?limit="+q, nil, l.header)
				if r.Status != http.StatusBadRequest || r.ErrorCode() != "VALIDATION_FAILED" || r.ErrorField() != "limit" {
					t.Errorf("GET %s?limit=%s = %d %s, want 400 VALIDATION_FAILED on limit", l.path, q, r.Status, r.Body)
				}
			}
			forged := []struct {
				name   string
				cursor string
			}{
				{"a large position", forgedCursor(l.kind, 1_000_000_000)},
				{"the largest position", forgedCursor(l.kind, math.MaxInt64)},
				{"position 1", forgedCursor(l.kind, 1)},
				{"position 0", forgedCursor(l.kind, 0)},
				{"a negative position", forgedCursor(l.kind, -1)},
				{"another listing's kind", forgedCursor(l.other, 2)},
				{"not base64", "nope!"},
				{"base64 of no cursor", "bm9wZQ"},
			}
			if l.entries > 0 {
				past := l.entries + 1
				forged = append(forged,
					struct{ name, cursor string }{"just past the newest", forgedCursor(l.kind, past)},
					struct{ name, cursor string }{"position 1000", forgedCursor(l.kind, 1000)})
			}
			for _, f := range forged {
				path := l.path + "?limit=1&cursor=" + url.QueryEscape(f.cursor)
				r := env.Do(t, "GET", path, nil, l.header)
				if r.Status != http.StatusBadRequest || r.ErrorCode() != "VALIDATION_FAILED" || r.ErrorField() != "cursor" ||
					cursorRefusalMessage(r) != "cursor is not one this server issued" {
					t.Errorf("%s: GET %s = %d %s, want 400 VALIDATION_FAILED on cursor", f.name, path, r.Status, r.Body)
				}
			}
		})
	}

	// A cursor is a position in its kind of list: the cursor of position 2
	// of this user's bills is refused on a list of one bill (past its
	// newest), and taken once that list has two.
	short2 := env.Do(t, "GET", "/billing/user/"+short.ID+"?cursor="+forgedCursor("b", 2), nil, env.As(t, short.ID))
	if short2.Status != http.StatusBadRequest || short2.ErrorField() != "cursor" {
		t.Fatalf("b:2 on a list of one bill = %d %s, want 400 on cursor", short2.Status, short2.Body)
	}
	env.MustCreateBill(t, short.ID, 701)
	p := harness.MustListPage[harness.ListedBill](t, env, "/billing/user/"+u.ID+"?limit=4", "", owner)
	if p.NextCursor == nil || *p.NextCursor != forgedCursor("b", 2) {
		t.Fatalf("4 of 5 bills: next %v, want the cursor of position 2", p.NextCursor)
	}
	if q := harness.MustListPage[harness.ListedBill](t, env, "/billing/user/"+short.ID, *p.NextCursor, env.As(t, short.ID)); len(q.Items) != 1 || q.Items[0].UserID != short.ID {
		t.Fatalf("another user's b:2 on a list of 2 = %+v, want its oldest bill", q.Items)
	}
}

// cursorRefusalMessage returns the error envelope's message ("" for none).
func cursorRefusalMessage(r *harness.Response) string {
	var b struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Message
}

// A customer listing of a well-formed user id that does not exist is 404
// USER_NOT_FOUND, filtered or not, asked by an admin or with a token whose
// subject names no user, as the wallet's ledger of no wallet is 404
// WALLET_NOT_FOUND; an existing user with nothing listed gets an empty page.
func TestListingsOfNoSuchUser(t *testing.T) {
	t.Parallel()
	quiet := env.MustCreateUser(t, "Quiet", fmt.Sprintf("quiet-%d@example.com", rand.Int64()))
	ghost := id.New(id.User)
	for _, path := range []string{
		"/billing/user/%s", "/billing/user/%s?status=PAID&limit=200",
		"/billing/user/%s/subscriptions",
		"/Payment/user/%s", "/Payment/user/%s?method=RAZORPAY&status=SUCCESS",
		"/wallet/user/%s/topups", "/wallet/user/%s/topups?status=PENDING",
	} {
		for _, who := range []struct {
			name   string
			header map[string]string
		}{{"admin", nil}, {"its own token", env.As(t, ghost)}} {
			p := fmt.Sprintf(path, ghost)
			if r := env.Do(t, "GET", p, nil, who.header); r.Status != http.StatusNotFound || r.ErrorCode() != "USER_NOT_FOUND" {
				t.Errorf("GET %s as %s = %d %s, want 404 USER_NOT_FOUND", p, who.name, r.Status, r.Body)
			}
		}
		p := fmt.Sprintf(path, quiet.ID)
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		r := env.Do(t, "GET", p, nil, env.As(t, quiet.ID))
		r.JSON(t, &page)
		if r.Status != http.StatusOK || page.Items == nil || len(page.Items) != 0 || page.NextCursor != nil {
			t.Errorf("GET %s of a user with nothing = %d %s, want 200 and an empty page", p, r.Status, r.Body)
		}
	}
	// The cursor is checked before the user: no page of an empty list
	// could have issued one.
	for _, path := range []string{"/billing/user/%s", "/Payment/user/%s"} {
		p := fmt.Sprintf(path, ghost) + "?cursor=" + forgedCursor(map[bool]string{true: "b", false: "p"}[strings.HasPrefix(path, "/billing")], 3)
		if r := env.Do(t, "GET", p, nil, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "cursor" {
			t.Errorf("GET %s = %d %s, want 400 on cursor", p, r.Status, r.Body)
		}
	}
	p := "/wallet/transactions/" + ghost
	if r := env.Do(t, "GET", p, nil, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "WALLET_NOT_FOUND" {
		t.Errorf("GET %s = %d %s, want 404 WALLET_NOT_FOUND", p, r.Status, r.Body)
	}
}
