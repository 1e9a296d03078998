package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/services/billing/domain"
	"github.com/finflow/finflow/services/billing/store"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func subscribe(t *testing.T, svc *domain.Service, user, interval, start string, autopay bool) domain.Subscription {
	t.Helper()
	req := domain.NewSubscriptionRequest{UserID: user, Amount: money.Amount(49900), Description: "Broadband", Interval: interval, Autopay: autopay}
	if start != "" {
		req.StartAt = &start
	}
	s, err := svc.CreateSubscription(context.Background(), admin(), req)
	if err != nil {
		t.Fatalf("CreateSubscription = %v", err)
	}
	return s
}

func tick(t *testing.T, svc *domain.Service) domain.TickReport {
	t.Helper()
	r, err := svc.RunSchedule(context.Background(), sidecarCron)
	if err != nil {
		t.Fatalf("RunSchedule = %v", err)
	}
	return r
}

// subscriptionBills returns the periods of the user's bills of subscription
// sub, oldest first, failing if a bill is listed twice or its id is not the
// one its period derives.
func subscriptionBills(t *testing.T, svc *domain.Service, user, sub string) []string {
	t.Helper()
	var periods []string
	seen := map[string]bool{}
	cursor := ""
	for {
		p, err := svc.ListBills(context.Background(), admin(), domain.Listing{UserID: user, Limit: "200", Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Items {
			if b.SubscriptionID != sub {
				continue
			}
			if seen[b.ID] || b.ID != domain.BillIDFor(sub, b.Period) {
				t.Fatalf("bill %s (period %s) listed twice or not derived from its period", b.ID, b.Period)
			}
			seen[b.ID] = true
			periods = append(periods, b.Period)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	slices.Reverse(periods)
	return periods
}

// A subscription starting now gets its first bill on the next tick, and
// one bill per period after that, at next_bill_at.
func TestSubscriptionBillsEachPeriodOnce(t *testing.T) {
	svc, clk, pub, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "MONTHLY", "", true)
	if next, _ := sub.NextBillAt(); !next.Equal(clk.Now()) {
		t.Fatalf("next_bill_at = %s, want now", next)
	}
	steps := []struct {
		now   string
		want  string
		bills int
	}{
		{"2026-12-01T10:00:00Z", "[2026-12]", 1},
		{"2026-12-01T10:00:15Z", "[2026-12]", 0},
		{"2026-12-31T23:59:59Z", "[2026-12]", 0},
		{"2027-01-01T09:59:59Z", "[2026-12]", 0},
		{"2027-01-01T10:00:00Z", "[2026-12 2027-01]", 1},
		{"2027-01-01T10:00:30Z", "[2026-12 2027-01]", 0},
	}
	for _, st := range steps {
		clk.Set(mustTime(st.now))
		if r := tick(t, svc); r.Bills != st.bills {
			t.Fatalf("tick at %s made %d bills, want %d", st.now, r.Bills, st.bills)
		}
		if got := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); got != st.want {
			t.Fatalf("at %s the bills are %s, want %s", st.now, got, st.want)
		}
	}
	got, err := svc.GetSubscription(context.Background(), owner(user), sub.ID)
	if next, _ := got.NextBillAt(); err != nil || !next.Equal(mustTime("2027-02-01T10:00:00Z")) || got.Billed != 2 || len(got.Claims) != 0 {
		t.Fatalf("subscription = %+v, %v; want next_bill_at 2027-02-01T10:00, 2 billed, no claim left", got, err)
	}
	if sent := pub.Bills(); len(sent) != 2 || sent[domain.BillIDFor(sub.ID, "2026-12")] != 1 || sent[domain.BillIDFor(sub.ID, "2027-01")] != 1 {
		t.Fatalf("autopay published %v, want each bill once", sent)
	}
}

// After downtime one tick catches up: one bill for each missed period,
// anchored to the start day.
func TestSubscriptionCatchUp(t *testing.T) {
	cases := []struct {
		name, interval, start, now string
		wantPeriods                []string
		wantNext                   string
	}{
		{"monthly from Jan 31", "MONTHLY", "2026-01-31T09:00:00Z", "2026-06-15T00:00:00Z",
			[]string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05"}, "2026-06-30T09:00:00Z"},
		{"monthly across a leap February", "MONTHLY", "2027-12-31T00:00:00Z", "2028-03-31T00:00:00Z",
			[]string{"2027-12", "2028-01", "2028-02", "2028-03"}, "2028-04-30T00:00:00Z"},
		{"weekly", "WEEKLY", "2026-12-01T08:00:00Z", "2027-01-06T00:00:00Z",
			[]string{"2026-W49", "2026-W50", "2026-W51", "2026-W52", "2026-W53", "2027-W01"}, "2027-01-12T08:00:00Z"},
		{"daily, more than one claim batch", "DAILY", "2026-12-01T00:00:00Z", "2027-02-09T12:00:00Z",
			nil, "2027-02-10T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, clk, _, _ := newInstance(t, mustTime(tc.start).Add(-time.Minute))
			user := id.New(id.User)
			sub := subscribe(t, svc, user, tc.interval, tc.start, false)
			clk.Set(mustTime(tc.now)) // the billing service was down until now
			tick(t, svc)
			got := subscriptionBills(t, svc, user, sub.ID)
			if tc.wantPeriods == nil { // daily: every day from the start
				for d := mustTime(tc.start); !d.After(mustTime(tc.now)); d = d.AddDate(0, 0, 1) {
					tc.wantPeriods = append(tc.wantPeriods, d.Format(time.DateOnly))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantPeriods) {
				t.Fatalf("after one tick at %s: %d bills %v\nwant %d %v", tc.now, len(got), got, len(tc.wantPeriods), tc.wantPeriods)
			}
			s, _ := svc.GetSubscription(context.Background(), admin(), sub.ID)
			if next, _ := s.NextBillAt(); !next.Equal(mustTime(tc.wantNext)) {
				t.Fatalf("next_bill_at = %s, want %s", next, tc.wantNext)
			}
			if r := tick(t, svc); r.Bills != 0 {
				t.Fatalf("a second tick made %d more bills", r.Bills)
			}
		})
	}
}

// Four billing instances tick at once, period after period: every
// subscription gets exactly one bill per period, listed once, and every
// autopay bill is published.
func TestSubscriptionInstancesRacing(t *testing.T) {
	svc, clk, pub, mem := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	instances := []*domain.Service{svc}
	for i := 0; i < 3; i++ {
		instances = append(instances, instance(mem, clk, pub))
	}
	type created struct{ user, sub string }
	var subs []created
	for i, interval := range []string{"MONTHLY", "WEEKLY", "DAILY", "MONTHLY", "WEEKLY"} {
		user := id.New(id.User)
		s := subscribe(t, instances[i%len(instances)], user, interval, "", i%2 == 0)
		subs = append(subs, created{user, s.ID})
	}
	for day := 0; day <= 63; day += 3 {
		clk.Set(mustTime("2026-12-01T10:00:00Z").AddDate(0, 0, day))
		var wg sync.WaitGroup
		for _, in := range instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := in.RunSchedule(context.Background(), sidecarCron); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	want := map[string]int{"MONTHLY": 3, "WEEKLY": 10, "DAILY": 64} // periods begun by day 63
	sent := pub.Bills()
	for i, c := range subs {
		s, err := svc.GetSubscription(context.Background(), admin(), c.sub)
		if err != nil {
			t.Fatal(err)
		}
		periods := subscriptionBills(t, svc, c.user, c.sub)
		if len(periods) != want[string(s.Interval)] || int64(len(periods)) != s.Billed || len(s.Claims) != 0 {
			t.Errorf("%s subscription: %d bills (%v), billed %d, claims %v; want %d", s.Interval, len(periods), periods, s.Billed, s.Claims, want[string(s.Interval)])
		}
		for _, p := range periods {
			if n := sent[domain.BillIDFor(c.sub, p)]; (i%2 == 0) != (n > 0) {
				t.Errorf("%s subscription (autopay %v), period %s: published %d times", s.Interval, s.Autopay, p, n)
			}
		}
	}
}

// A cancelled subscription makes no bill after the cancel; cancelling again
// is refused and changes nothing.
func TestSubscriptionCancel(t *testing.T) {
	svc, clk, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "DAILY", "", false)
	tick(t, svc)
	clk.Set(mustTime("2026-12-02T09:00:00Z"))
	cancelled, err := svc.CancelSubscription(ctx, owner(user), sub.ID)
	if _, next := cancelled.NextBillAt(); err != nil || cancelled.Status != domain.Cancelled || next || !cancelled.CancelledAt.Equal(clk.Now()) {
		t.Fatalf("CancelSubscription = %+v, %v; want CANCELLED now, no next bill", cancelled, err)
	}
	for _, d := range []string{"2026-12-02T10:00:00Z", "2026-12-20T00:00:00Z", "2027-06-01T00:00:00Z"} {
		clk.Set(mustTime(d))
		tick(t, svc)
	}
	if got := subscriptionBills(t, svc, user, sub.ID); fmt.Sprint(got) != "[2026-12-01]" {
		t.Fatalf("bills after the cancel: %v, want only 2026-12-01", got)
	}
	cases := []struct {
		name    string
		caller  auth.Caller
		id      string
		wantErr error
	}{
		{"twice", owner(user), sub.ID, domain.ErrSubscriptionCancelled},
		{"twice, by an admin", admin(), sub.ID, domain.ErrSubscriptionCancelled},
		{"another user's", owner(id.New(id.User)), sub.ID, auth.ErrForbidden},
		{"without an identity", auth.Caller{}, sub.ID, auth.ErrUnauthenticated},
		{"unknown", admin(), id.New(id.Subscription), domain.ErrSubscriptionNotFound},
		{"malformed", admin(), "sub_1", domain.ErrSubscriptionNotFound},
		{"a bill's id", admin(), id.New(id.Bill), domain.ErrSubscriptionNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := svc.CancelSubscription(ctx, tc.caller, tc.id); !errors.Is(err, tc.wantErr) {
				t.Fatalf("CancelSubscription = %v, want %v", err, tc.wantErr)
			}
			if got, _ := svc.GetSubscription(ctx, admin(), sub.ID); !got.CancelledAt.Equal(cancelled.CancelledAt) || got.Billed != cancelled.Billed {
				t.Fatalf("the refused cancel changed the subscription: %+v", got)
			}
		})
	}
}

// claimAndDie claims the subscription's due periods as a scheduler would,
// and then makes no bill (it died).
func claimAndDie(t *testing.T, mem store.State, subID string, now time.Time) []int64 {
	t.Helper()
	var claimed []int64
	_, err := store.NewSubscriptions(mem, storeName).Update(context.Background(), subID, func(s *domain.Subscription) (bool, error) {
		claimed = s.Claim(now, 10)
		return len(claimed) > 0, nil
	})
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	return claimed
}

// A period claimed before a cancel has its bill when the cancel answers.
func TestSubscriptionCancelMakesClaimedBills(t *testing.T) {
	svc, clk, pub, mem := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "MONTHLY", "", true)
	claimAndDie(t, mem, sub.ID, clk.Now())
	if got := subscriptionBills(t, svc, user, sub.ID); len(got) != 0 {
		t.Fatalf("bills before the cancel: %v", got)
	}
	got, err := svc.CancelSubscription(context.Background(), admin(), sub.ID)
	if err != nil || len(got.Claims) != 0 {
		t.Fatalf("CancelSubscription = %+v, %v", got, err)
	}
	if bills := subscriptionBills(t, svc, user, sub.ID); fmt.Sprint(bills) != "[2026-12]" || pub.Bills()[domain.BillIDFor(sub.ID, "2026-12")] != 1 {
		t.Fatalf("bills when the cancel answered: %v (autopay %v), want the claimed 2026-12, published", bills, pub.Bills())
	}
}

// A claim whose claimer died is made by another scheduler once
// ClaimTimeout has passed, never before (the claimer may still be at work).
func TestSubscriptionDeadClaimerTakenOver(t *testing.T) {
	svc, clk, _, mem := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "MONTHLY", "", false)
	claimAndDie(t, mem, sub.ID, clk.Now())
	steps := []struct {
		after time.Duration
		want  string
	}{
		{time.Second, "[]"},
		{domain.ClaimTimeout - time.Second, "[]"},
		{domain.ClaimTimeout, "[2026-12]"},
		{domain.ClaimTimeout + time.Hour, "[2026-12]"},
	}
	start := clk.Now()
	for _, st := range steps {
		clk.Set(start.Add(st.after))
		tick(t, svc)
		if got := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); got != st.want {
			t.Fatalf("%s after the claim: bills %s, want %s", st.after, got, st.want)
		}
	}
}

// A scheduler that dies after making a bill and publishing it, before it
// drops its claim: the bill is not made again, and the autopay request is
// published again (at least once; the consumer de-duplicates).
func TestSubscriptionCrashAfterTheBill(t *testing.T) {
	svc, clk, pub, mem := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	user := id.New(id.User)
	sub := subscribe(t, svc, user, "MONTHLY", "", true)
	mem.FailAfter("subscription/", 1) // the claim is written, the settle is not
	if _, err := svc.RunSchedule(context.Background(), sidecarCron); err == nil {
		t.Fatal("the tick whose settle failed reported no error")
	}
	mem.FailAfter("", -1)
	bill := domain.BillIDFor(sub.ID, "2026-12")
	if got := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); got != "[2026-12]" || pub.Bills()[bill] != 1 {
		t.Fatalf("after the crash: bills %s, published %v", got, pub.Bills())
	}
	clk.Set(clk.Now().Add(domain.ClaimTimeout))
	tick(t, svc)
	s, _ := svc.GetSubscription(context.Background(), admin(), sub.ID)
	if got := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); got != "[2026-12]" || pub.Bills()[bill] != 2 || len(s.Claims) != 0 {
		t.Fatalf("after the take-over: bills %s, published %v, claims %v; want one bill, published again, no claim", got, pub.Bills(), s.Claims)
	}
}

// A schedule entry whose subscription never came to exist (its create died
// between the two writes) is kept for a while, then dropped.
func TestScheduleDropsOrphans(t *testing.T) {
	svc, clk, _, mem := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	sched := store.NewSchedule(mem, storeName)
	ghost := id.New(id.Subscription)
	if err := sched.Set(context.Background(), []domain.Wakeup{{ID: ghost, At: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		after time.Duration
		kept  bool
	}{{time.Minute, true}, {9 * time.Minute, true}, {11 * time.Minute, false}} {
		clk.Set(mustTime("2026-12-01T10:00:00Z").Add(st.after))
		tick(t, svc)
		due, err := sched.Due(context.Background(), clk.Now(), 10)
		if err != nil || (len(due) == 1) != st.kept {
			t.Fatalf("%s on: due %v, %v; want kept %v", st.after, due, err, st.kept)
		}
	}
}

// Only the sidecar's own binding runs the scheduler.
func TestScheduleOnlyFromTheSidecar(t *testing.T) {
	svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	for _, c := range []auth.Caller{admin(), owner(id.New(id.User)), {App: "gateway"}, {App: "payment"}} {
		if _, err := svc.RunSchedule(context.Background(), c); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("RunSchedule as %+v = %v, want ErrForbidden", c, err)
		}
	}
}

// Subscriptions are made by admins, once per Idempotency-Key, and listed
// newest first for their user.
func TestCreateAndListSubscriptions(t *testing.T) {
	svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	req := domain.NewSubscriptionRequest{UserID: user, Amount: money.Amount(1000), Description: "Gym", Interval: "WEEKLY", IdempotencyToken: "tok"}
	first, err := svc.CreateSubscription(ctx, admin(), req)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := svc.CreateSubscription(ctx, admin(), req); err != nil || again.ID != first.ID {
		t.Fatalf("the same key again = %s, %v; want %s", again.ID, err, first.ID)
	}
	other := req
	other.Amount = 2000
	if _, err := svc.CreateSubscription(ctx, admin(), other); !errors.Is(err, domain.ErrKeyReused) {
		t.Fatalf("the same key, another amount = %v, want ErrKeyReused", err)
	}
	req.IdempotencyToken = ""
	if _, err := svc.CreateSubscription(ctx, owner(user), req); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("CreateSubscription by the user = %v, want ErrForbidden (admins only)", err)
	}
	second := subscribe(t, svc, user, "DAILY", "", false)
	third := subscribe(t, svc, user, "MONTHLY", "", true)
	want := []string{third.ID, second.ID, first.ID}
	var got []string
	cursor := ""
	for {
		p, err := svc.ListSubscriptions(ctx, owner(user), domain.Listing{UserID: user, Limit: "2", Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Items {
			got = append(got, s.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if _, err := svc.ListSubscriptions(ctx, owner(id.New(id.User)), domain.Listing{UserID: user}); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("another user's list = %v, want ErrForbidden", err)
	}
	if _, err := svc.GetSubscription(ctx, owner(id.New(id.User)), first.ID); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("another user's subscription = %v, want ErrForbidden", err)
	}
	if _, err := svc.ListSubscriptions(ctx, admin(), domain.Listing{UserID: user, Cursor: "Yjoz"}); err == nil {
		t.Fatal("a bills cursor was taken for the subscriptions list")
	}
}

// A keyed create refused because its key made another subscription
// (ErrKeyReused) leaves that subscription's schedule as it was: its first
// bill still comes at its own start, not at the refused request's.
func TestRefusedKeyedCreateKeepsTheSchedule(t *testing.T) {
	svc, clk, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
	ctx := context.Background()
	user := id.New(id.User)
	req := domain.NewSubscriptionRequest{UserID: user, Amount: money.Amount(1000), Description: "Gym", Interval: "MONTHLY", IdempotencyToken: "tok"}
	first, err := svc.CreateSubscription(ctx, admin(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, late := range []string{"2027-09-01T10:00:00Z", "2026-12-01T10:04:00Z"} {
		other := req
		other.Amount = 2000
		other.StartAt = &late
		if _, err := svc.CreateSubscription(ctx, admin(), other); !errors.Is(err, domain.ErrKeyReused) {
			t.Fatalf("the same key, another amount starting %s = %v, want ErrKeyReused", late, err)
		}
	}
	clk.Set(mustTime("2026-12-01T10:00:01Z"))
	if r := tick(t, svc); r.Bills != 1 {
		t.Fatalf("the tick at the subscription's start made %d bills, want 1", r.Bills)
	}
	if got := fmt.Sprint(subscriptionBills(t, svc, user, first.ID)); got != "[2026-12]" {
		t.Fatalf("bills = %s, want [2026-12]", got)
	}
}

// Every period that has begun by a cancel is billed, whether or not the
// scheduler ticked in between: a subscription cancelled the moment it
// starts has its first bill, and one cancelled after the scheduler was
// down for months has one bill per period that began (with autopay, each
// published), all made before the cancel answers; none after it.
func TestCancelBillsThePeriodsThatBegan(t *testing.T) {
	ctx := context.Background()
	t.Run("at once", func(t *testing.T) {
		svc, _, _, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
		user := id.New(id.User)
		sub := subscribe(t, svc, user, "DAILY", "", false)
		got, err := svc.CancelSubscription(ctx, owner(user), sub.ID)
		if err != nil || got.Billed != 1 || len(got.Claims) != 0 {
			t.Fatalf("CancelSubscription = %+v, %v; want 1 period billed, no claim left", got, err)
		}
		if bills := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); bills != "[2026-12-01]" {
			t.Fatalf("bills = %s, want [2026-12-01]", bills)
		}
	})
	t.Run("after months without a tick", func(t *testing.T) {
		svc, clk, pub, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
		user := id.New(id.User)
		sub := subscribe(t, svc, user, "MONTHLY", "2026-12-01T10:00:00Z", true)
		clk.Set(mustTime("2027-03-01T10:00:00Z")) // the fourth period begins
		if _, err := svc.CancelSubscription(ctx, owner(user), sub.ID); err != nil {
			t.Fatal(err)
		}
		want := "[2026-12 2027-01 2027-02 2027-03]"
		if bills := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); bills != want {
			t.Fatalf("bills = %s, want %s", bills, want)
		}
		if sent := pub.Bills(); len(sent) != 4 {
			t.Fatalf("autopay published %v, want the 4 bills", sent)
		}
		clk.Set(mustTime("2027-06-01T10:00:00Z"))
		tick(t, svc)
		if bills := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); bills != want {
			t.Fatalf("bills after later ticks = %s, want %s", bills, want)
		}
	})
}

// A cancel whose last bills are made but whose autopay requests cannot be
// published (the broker down) has taken effect and every bill exists: it
// answers the cancelled subscription, not an error that a retry would meet
// with 409 already cancelled. The requests keep their claims and are
// published once the claims are taken for dead, once each; a tick whose
// publish fails likewise makes the bill and publishes it later.
func TestAutopayNotSentIsSentLater(t *testing.T) {
	ctx := context.Background()
	t.Run("cancel", func(t *testing.T) {
		svc, clk, pub, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
		user := id.New(id.User)
		sub := subscribe(t, svc, user, "MONTHLY", "2026-12-01T10:00:00Z", true)
		clk.Set(mustTime("2027-01-01T10:00:00Z")) // the second period begins, no tick yet
		pub.setDown(true)
		got, err := svc.CancelSubscription(ctx, owner(user), sub.ID)
		if err != nil || got.Status != domain.Cancelled {
			t.Fatalf("CancelSubscription = %+v, %v; want it cancelled", got, err)
		}
		want := "[2026-12 2027-01]"
		if bills := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); bills != want || len(pub.Bills()) != 0 {
			t.Fatalf("bills %s, published %v; want %s, nothing published", bills, pub.Bills(), want)
		}
		if _, err := svc.CancelSubscription(ctx, owner(user), sub.ID); !errors.Is(err, domain.ErrSubscriptionCancelled) {
			t.Fatalf("a second cancel = %v, want ErrSubscriptionCancelled", err)
		}
		pub.setDown(false)
		tick(t, svc)
		if sent := pub.Bills(); len(sent) != 0 {
			t.Fatalf("published %v before the claims were taken for dead (the cancel may still be at work)", sent)
		}
		clk.Set(clk.Now().Add(domain.ClaimTimeout))
		tick(t, svc)
		clk.Set(clk.Now().Add(time.Hour))
		tick(t, svc)
		s, _ := svc.GetSubscription(ctx, admin(), sub.ID)
		sent := pub.Bills()
		if len(sent) != 2 || sent[domain.BillIDFor(sub.ID, "2026-12")] != 1 || sent[domain.BillIDFor(sub.ID, "2027-01")] != 1 || len(s.Claims) != 0 {
			t.Fatalf("published %v, claims %v; want each bill's request once, no claim left", sent, s.Claims)
		}
		if bills := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); bills != want {
			t.Fatalf("bills %s, want %s", bills, want)
		}
	})
	t.Run("tick", func(t *testing.T) {
		svc, clk, pub, _ := newInstance(t, mustTime("2026-12-01T10:00:00Z"))
		user := id.New(id.User)
		sub := subscribe(t, svc, user, "MONTHLY", "", true)
		pub.setDown(true)
		if _, err := svc.RunSchedule(ctx, sidecarCron); err == nil {
			t.Fatal("a tick whose autopay publish failed reported no error")
		}
		if bills := fmt.Sprint(subscriptionBills(t, svc, user, sub.ID)); bills != "[2026-12]" {
			t.Fatalf("bills %s, want [2026-12] (made though its request was not sent)", bills)
		}
		pub.setDown(false)
		clk.Set(clk.Now().Add(domain.ClaimTimeout))
		tick(t, svc)
		s, _ := svc.GetSubscription(ctx, admin(), sub.ID)
		if sent := pub.Bills(); sent[domain.BillIDFor(sub.ID, "2026-12")] != 1 || len(sent) != 1 || len(s.Claims) != 0 {
			t.Fatalf("published %v, claims %v; want the request once, no claim", sent, s.Claims)
		}
	})
}
