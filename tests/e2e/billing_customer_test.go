package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// The billing service's customer routes through the gateway and real
// sidecars: a user's bills listed, subscriptions billed by the billing
// sidecar's cron binding, cancelled, and refused when they should be.

func billIDs(bills []harness.ListedBill) []string {
	out := make([]string, len(bills))
	for i, b := range bills {
		out[i] = b.ID
	}
	return out
}

func sameIDs(got []string, want ...string) bool { return slices.Equal(got, want) }

// A user's bills, newest first, in pages, filtered by status, for the
// user and an admin only; a bill made while a client pages is listed once.
func TestBillListings(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Lister", fmt.Sprintf("lister-%d@example.com", rand.Int64()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 10000, "")
	var made []string // oldest first
	for i := 0; i < 7; i++ {
		made = append(made, env.MustCreateBill(t, u.ID, int64(100+i)).ID)
	}
	// Bills 1 and 4 are paid from the wallet; bill 4 is then refunded whole
	// (the payment service marks it REFUNDED through PUT /billing/refunded).
	var pay4 harness.Payment
	for _, i := range []int{1, 4} {
		r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": made[i]}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("paying bill %d = %d %s", i, r.Status, r.Body)
		}
		r.JSON(t, &pay4)
	}
	if r := env.Do(t, "POST", "/Payment/"+pay4.ID+"/refund", map[string]any{"reason": "returned"}, nil); r.Status != http.StatusCreated {
		t.Fatalf("refund = %d %s", r.Status, r.Body)
	}
	harness.WaitFor(t, 15*time.Second, "bill 4 REFUNDED", func() bool { return env.MustBill(t, made[4]).Status == "REFUNDED" })
	// A REFUNDED bill stays closed: paying it again is refused and takes
	// nothing from the wallet.
	balance := env.MustBalance(t, u.ID)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": made[4]}, nil); r.Status != http.StatusConflict || r.ErrorCode() != "BILL_ALREADY_PAID" {
		t.Fatalf("paying the REFUNDED bill again = %d %s, want 409 BILL_ALREADY_PAID", r.Status, r.Body)
	}
	if b := env.MustBalance(t, u.ID); b != balance || env.MustBill(t, made[4]).Status != "REFUNDED" {
		t.Fatalf("paying the REFUNDED bill again: balance %d (was %d), bill %s", b, balance, env.MustBill(t, made[4]).Status)
	}

	owner := env.As(t, u.ID)
	all := harness.MustListAll[harness.ListedBill](t, env, "/billing/user/"+u.ID+"?limit=3", owner)
	if !sameIDs(billIDs(all), made[6], made[5], made[4], made[3], made[2], made[1], made[0]) {
		t.Fatalf("pages of 3: %v, want the 7 bills newest first", billIDs(all))
	}
	first := harness.MustListPage[harness.ListedBill](t, env, "/billing/user/"+u.ID+"?limit=3", "", owner)
	if len(first.Items) != 3 || first.NextCursor == nil || first.Items[0].SubscriptionID != nil {
		t.Fatalf("first page of 3 = %+v, want 3 bills made by hand and a cursor", first)
	}
	filters := []struct {
		status string
		want   []string
	}{
		{"UNPAID", []string{made[6], made[5], made[3], made[2], made[0]}},
		{"PAID", []string{made[1]}},
		{"REFUNDED", []string{made[4]}},
	}
	for _, f := range filters {
		for _, limit := range []int{1, 2, 50} {
			got := harness.MustListAll[harness.ListedBill](t, env, fmt.Sprintf("/billing/user/%s?status=%s&limit=%d", u.ID, f.status, limit), nil)
			if !sameIDs(billIDs(got), f.want...) {
				t.Errorf("status %s, pages of %d: %v, want %v", f.status, limit, billIDs(got), f.want)
			}
			for _, b := range got {
				if b.Status != f.status {
					t.Errorf("status %s listed a %s bill", f.status, b.Status)
				}
			}
		}
	}

	// A bill made between two pages is not on the later pages.
	page1 := harness.MustListPage[harness.ListedBill](t, env, "/billing/user/"+u.ID+"?limit=4", "", owner)
	newer := env.MustCreateBill(t, u.ID, 999).ID
	page2 := harness.MustListPage[harness.ListedBill](t, env, "/billing/user/"+u.ID+"?limit=4", *page1.NextCursor, owner)
	if got := append(billIDs(page1.Items), billIDs(page2.Items)...); !sameIDs(got, made[6], made[5], made[4], made[3], made[2], made[1], made[0]) || page2.NextCursor != nil {
		t.Fatalf("paging while a bill was made: %v (next %v), want the 7 that existed, once each", got, page2.NextCursor)
	}
	if again := harness.MustListAll[harness.ListedBill](t, env, "/billing/user/"+u.ID, owner); len(again) != 8 || again[0].ID != newer {
		t.Fatalf("listing afresh: %v, want the new bill first and 8 in all", billIDs(again))
	}

	other := env.MustCreateUser(t, "Other", fmt.Sprintf("other-%d@example.com", rand.Int64()))
	refusals := []struct {
		name   string
		path   string
		header map[string]string
		status int
		code   string
		field  string
	}{
		{"another user's bills", "/billing/user/" + u.ID, env.As(t, other.ID), 403, "FORBIDDEN", ""},
		{"no token", "/billing/user/" + u.ID, map[string]string{"Authorization": ""}, 401, "UNAUTHENTICATED", ""},
		{"not a user id", "/billing/user/usr_nope", nil, 404, "USER_NOT_FOUND", ""},
		{"limit 0", "/billing/user/" + u.ID + "?limit=0", nil, 400, "VALIDATION_FAILED", "limit"},
		{"limit 201", "/billing/user/" + u.ID + "?limit=201", nil, 400, "VALIDATION_FAILED", "limit"},
		{"limit not a number", "/billing/user/" + u.ID + "?limit=ten", nil, 400, "VALIDATION_FAILED", "limit"},
		{"a cursor never issued", "/billing/user/" + u.ID + "?cursor=bm9wZQ", nil, 400, "VALIDATION_FAILED", "cursor"},
		{"status in lower case", "/billing/user/" + u.ID + "?status=paid", nil, 400, "VALIDATION_FAILED", "status"},
		{"unknown status", "/billing/user/" + u.ID + "?status=SHIPPED", nil, 400, "VALIDATION_FAILED", "status"},
		{"status twice", "/billing/user/" + u.ID + "?status=PAID&status=UNPAID", nil, 400, "VALIDATION_FAILED", "status"},
	}
	for _, tc := range refusals {
		r := env.Do(t, "GET", tc.path, nil, tc.header)
		if r.Status != tc.status || r.ErrorCode() != tc.code || r.ErrorField() != tc.field {
			t.Errorf("%s: GET %s = %d %s, want %d %s (field %q)", tc.name, tc.path, r.Status, r.Body, tc.status, tc.code, tc.field)
		}
	}
	if got := harness.MustListAll[harness.ListedBill](t, env, "/billing/user/"+other.ID, env.As(t, other.ID)); len(got) != 0 {
		t.Fatalf("a user without bills lists %v", billIDs(got))
	}
}

// subscribeNow subscribes a user as the admin, starting now (or at start),
// and checks the answer.
func subscribeNow(t *testing.T, userID, interval string, amount int64, autopay bool, start string) harness.Subscription {
	t.Helper()
	body := map[string]any{"user_id": userID, "amount": amount, "description": "Broadband " + interval, "interval": interval, "autopay": autopay}
	if start != "" {
		body["start_at"] = start
	}
	s := env.MustCreateSubscription(t, body)
	if !strings.HasPrefix(s.ID, "sub_") || s.Status != "ACTIVE" || s.UserID != userID || s.Amount != amount || s.Currency != "INR" ||
		s.Interval != interval || s.Autopay != autopay || s.NextBillAt == nil || *s.NextBillAt != s.StartAt || s.CancelledAt != nil {
		t.Fatalf("subscription = %+v, want ACTIVE, its next bill at its start", s)
	}
	return s
}

// waitFirstBill waits for a subscription's first bill, made by the billing
// sidecar's cron binding: the contract gives it a minute.
func waitFirstBill(t *testing.T, s harness.Subscription) harness.ListedBill {
	t.Helper()
	var bills []harness.ListedBill
	harness.WaitFor(t, time.Minute, "the first bill of "+s.ID, func() bool {
		bills = env.SubscriptionBills(t, s.UserID, s.ID)
		return len(bills) > 0
	})
	return bills[0]
}

// nextMonth is the same day and time a month after t (UTC), or the month's
// last day when it is shorter.
func nextMonth(t time.Time) time.Time {
	t = t.UTC()
	first := time.Date(t.Year(), t.Month()+1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}

// A monthly subscription with autopay starting now: its first bill within
// a minute, for this month, paid from the wallet; exactly one bill for the
// period however many ticks come after.
func TestSubscriptionBillsAndAutopays(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Subscriber", fmt.Sprintf("subscriber-%d@example.com", rand.Int64()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 100000, "")
	key := fmt.Sprintf("subscribe-%d", rand.Int64())
	body := map[string]any{"user_id": u.ID, "amount": 49900, "description": "Broadband MONTHLY", "interval": "MONTHLY", "autopay": true}
	r := env.Do(t, "POST", "/billing/subscriptions", body, map[string]string{"Idempotency-Key": key})
	var s harness.Subscription
	r.JSON(t, &s)
	if r.Status != http.StatusCreated || s.Status != "ACTIVE" || !s.Autopay || s.NextBillAt == nil {
		t.Fatalf("POST /billing/subscriptions = %d %s", r.Status, r.Body)
	}
	if again := env.Do(t, "POST", "/billing/subscriptions", body, map[string]string{"Idempotency-Key": key}); again.Status != http.StatusCreated ||
		again.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(again.Body), s.ID) {
		t.Fatalf("the same key again = %d %s, want the first answer replayed", again.Status, again.Body)
	}
	if got := env.Do(t, "GET", "/billing/subscriptions/"+s.ID, nil, env.As(t, u.ID)); got.Status != http.StatusOK || !strings.Contains(string(got.Body), s.ID) {
		t.Fatalf("GET the subscription as its owner = %d %s", got.Status, got.Body)
	}
	start, err := time.Parse(time.RFC3339Nano, s.StartAt)
	if err != nil {
		t.Fatal(err)
	}

	bill := waitFirstBill(t, s)
	if bill.Period == nil || *bill.Period != start.UTC().Format("2006-01") || bill.Amount != 49900 || bill.UserID != u.ID || bill.Description != "Broadband MONTHLY" {
		t.Fatalf("first bill = %+v (period %v), want 49900 for %s", bill, bill.Period, start.UTC().Format("2006-01"))
	}
	// Autopay: the payment service pays it from the wallet.
	harness.WaitFor(t, 30*time.Second, "the bill paid by autopay", func() bool { return env.MustBill(t, bill.ID).Status == "PAID" })
	if b := env.MustBalance(t, u.ID); b != 100000-49900 {
		t.Fatalf("balance after autopay = %d, want %d", b, 100000-49900)
	}
	got := env.MustSubscription(t, s.ID)
	if want := contract.Stamp(nextMonth(start)); got.NextBillAt == nil || *got.NextBillAt != want {
		t.Fatalf("next_bill_at = %v, want %s (a month after the start)", got.NextBillAt, want)
	}
	// Another subscription's first bill comes from a tick that began after
	// this one's bill was made: still one bill for the period.
	later := subscribeNow(t, u.ID, "DAILY", 100, false, "")
	waitFirstBill(t, later)
	if bills := env.SubscriptionBills(t, u.ID, s.ID); len(bills) != 1 {
		t.Fatalf("the subscription has %d bills for its first period, want 1: %v", len(bills), billIDs(bills))
	}
	subs := harness.MustListAll[harness.Subscription](t, env, "/billing/user/"+u.ID+"/subscriptions?limit=1", env.As(t, u.ID))
	if len(subs) != 2 || subs[0].ID != later.ID || subs[1].ID != s.ID {
		t.Fatalf("the user's subscriptions: %+v, want the daily one, then the monthly one", subs)
	}
}

// A cancelled subscription makes no bill after the cancel; cancelling again
// is 409 and changes nothing; other users cannot cancel or see it.
func TestSubscriptionCancel(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Canceller", fmt.Sprintf("canceller-%d@example.com", rand.Int64()))
	other := env.MustCreateUser(t, "Other", fmt.Sprintf("other-%d@example.com", rand.Int64()))
	soon := time.Now().UTC().Add(20 * time.Second)
	s := subscribeNow(t, u.ID, "DAILY", 2500, false, soon.Format(time.RFC3339))

	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		code   string
	}{
		{"another user cancels", "POST", "/billing/subscriptions/" + s.ID + "/cancel", env.As(t, other.ID), 403, "FORBIDDEN"},
		{"another user reads", "GET", "/billing/subscriptions/" + s.ID, env.As(t, other.ID), 403, "FORBIDDEN"},
		{"another user lists", "GET", "/billing/user/" + u.ID + "/subscriptions", env.As(t, other.ID), 403, "FORBIDDEN"},
		{"no token", "POST", "/billing/subscriptions/" + s.ID + "/cancel", map[string]string{"Authorization": ""}, 401, "UNAUTHENTICATED"},
		{"unknown id", "POST", "/billing/subscriptions/" + id.New(id.Subscription) + "/cancel", nil, 404, "SUBSCRIPTION_NOT_FOUND"},
		{"malformed id", "POST", "/billing/subscriptions/sub_123/cancel", nil, 404, "SUBSCRIPTION_NOT_FOUND"},
		{"a bill's id", "GET", "/billing/subscriptions/" + id.New(id.Bill), nil, 404, "SUBSCRIPTION_NOT_FOUND"},
		{"unknown id read", "GET", "/billing/subscriptions/" + id.New(id.Subscription), nil, 404, "SUBSCRIPTION_NOT_FOUND"},
	} {
		if r := env.Do(t, tc.method, tc.path, nil, tc.header); r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("%s: %s %s = %d %s, want %d %s", tc.name, tc.method, tc.path, r.Status, r.Body, tc.status, tc.code)
		}
	}

	// Cancelled by its owner before its first period begins.
	r := env.Do(t, "POST", "/billing/subscriptions/"+s.ID+"/cancel", nil, env.As(t, u.ID))
	var cancelled harness.Subscription
	r.JSON(t, &cancelled)
	if r.Status != http.StatusOK || cancelled.Status != "CANCELLED" || cancelled.NextBillAt != nil || cancelled.CancelledAt == nil {
		t.Fatalf("cancel = %d %s, want 200 CANCELLED without a next bill", r.Status, r.Body)
	}
	for _, who := range []map[string]string{env.As(t, u.ID), nil} {
		again := env.Do(t, "POST", "/billing/subscriptions/"+s.ID+"/cancel", nil, who)
		if again.Status != http.StatusConflict || again.ErrorCode() != "SUBSCRIPTION_ALREADY_CANCELLED" {
			t.Fatalf("cancelling twice = %d %s, want 409 SUBSCRIPTION_ALREADY_CANCELLED", again.Status, again.Body)
		}
	}
	if got := env.MustSubscription(t, s.ID); !reflect.DeepEqual(got, cancelled) {
		t.Fatalf("after cancelling twice: %+v, want unchanged %+v", got, cancelled)
	}
	// A subscription starting after the cancelled one's start gets its first
	// bill from a tick that came after that start: the cancelled one has none.
	probe := subscribeNow(t, u.ID, "DAILY", 100, false, soon.Add(time.Second).Format(time.RFC3339))
	waitFirstBill(t, probe)
	if bills := env.SubscriptionBills(t, u.ID, s.ID); len(bills) != 0 {
		t.Fatalf("the cancelled subscription made bills: %v", billIDs(bills))
	}
	subs := harness.MustListAll[harness.Subscription](t, env, "/billing/user/"+u.ID+"/subscriptions", env.As(t, u.ID))
	if len(subs) != 2 || subs[1].Status != "CANCELLED" || subs[0].Status != "ACTIVE" {
		t.Fatalf("the user's subscriptions: %+v", subs)
	}
}

// Bad subscription requests answer the contract's errors and make nothing.
func TestSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Refused", fmt.Sprintf("refused-%d@example.com", rand.Int64()))
	valid := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"user_id": u.ID, "amount": 1000, "description": "Gym", "interval": "WEEKLY"}
		edit(b)
		return b
	}
	cases := []struct {
		name   string
		body   any
		header map[string]string
		status int
		code   string
		field  string
	}{
		{"zero amount", valid(func(b map[string]any) { b["amount"] = 0 }), nil, 400, "VALIDATION_FAILED", "amount"},
		{"negative amount", valid(func(b map[string]any) { b["amount"] = -100 }), nil, 400, "VALIDATION_FAILED", "amount"},
		{"amount above 10^12", valid(func(b map[string]any) { b["amount"] = int64(1_000_000_000_001) }), nil, 400, "VALIDATION_FAILED", "amount"},
		{"fractional amount", valid(func(b map[string]any) { b["amount"] = 12.5 }), nil, 400, "VALIDATION_FAILED", "amount"},
		{"amount as a string", valid(func(b map[string]any) { b["amount"] = "1000" }), nil, 400, "VALIDATION_FAILED", "amount"},
		{"unknown interval", valid(func(b map[string]any) { b["interval"] = "YEARLY" }), nil, 400, "VALIDATION_FAILED", "interval"},
		{"interval in lower case", valid(func(b map[string]any) { b["interval"] = "weekly" }), nil, 400, "VALIDATION_FAILED", "interval"},
		{"no interval", valid(func(b map[string]any) { delete(b, "interval") }), nil, 400, "VALIDATION_FAILED", "interval"},
		{"start_at not a time", valid(func(b map[string]any) { b["start_at"] = "tomorrow" }), nil, 400, "VALIDATION_FAILED", "start_at"},
		{"start_at a date only", valid(func(b map[string]any) { b["start_at"] = "2026-12-05" }), nil, 400, "VALIDATION_FAILED", "start_at"},
		{"start_at a number", valid(func(b map[string]any) { b["start_at"] = 1767225600 }), nil, 400, "VALIDATION_FAILED", "start_at"},
		{"autopay not a boolean", valid(func(b map[string]any) { b["autopay"] = "yes" }), nil, 400, "VALIDATION_FAILED", "autopay"},
		{"no description", valid(func(b map[string]any) { b["description"] = "" }), nil, 400, "VALIDATION_FAILED", "description"},
		{"another currency", valid(func(b map[string]any) { b["currency"] = "USD" }), nil, 400, "VALIDATION_FAILED", "currency"},
		{"unknown field", valid(func(b map[string]any) { b["plan"] = "gold" }), nil, 400, "VALIDATION_FAILED", "plan"},
		{"unknown user", valid(func(b map[string]any) { b["user_id"] = id.New(id.User) }), nil, 404, "USER_NOT_FOUND", ""},
		{"as the user", valid(func(map[string]any) {}), env.As(t, u.ID), 403, "FORBIDDEN", ""},
		{"no token", valid(func(map[string]any) {}), map[string]string{"Authorization": ""}, 401, "UNAUTHENTICATED", ""},
		{"not JSON", valid(func(map[string]any) {}), map[string]string{"Content-Type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
	}
	for _, tc := range cases {
		r := env.Do(t, "POST", "/billing/subscriptions", tc.body, tc.header)
		if r.Status != tc.status || r.ErrorCode() != tc.code || (tc.field != "" && r.ErrorField() != tc.field) {
			t.Errorf("%s: POST /billing/subscriptions = %d %s, want %d %s (field %q)", tc.name, r.Status, r.Body, tc.status, tc.code, tc.field)
		}
	}
	if subs := harness.MustListAll[harness.Subscription](t, env, "/billing/user/"+u.ID+"/subscriptions", nil); len(subs) != 0 {
		t.Fatalf("refused requests made subscriptions: %+v", subs)
	}
	for _, path := range []string{"/billing/user/" + u.ID + "/subscriptions?limit=0", "/billing/user/" + u.ID + "/subscriptions?limit=201"} {
		if r := env.Do(t, "GET", path, nil, nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "VALIDATION_FAILED" {
			t.Errorf("GET %s = %d %s, want 400", path, r.Status, r.Body)
		}
	}
}
