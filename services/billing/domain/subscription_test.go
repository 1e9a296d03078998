package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/billing/domain"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPeriodStart(t *testing.T) {
	cases := []struct {
		name     string
		interval domain.Interval
		start    string
		k        int64
		want     string
	}{
		{"monthly, first period is the start", domain.Monthly, "2026-01-31T09:30:00Z", 0, "2026-01-31T09:30:00Z"},
		{"monthly, Jan 31 to Feb 28", domain.Monthly, "2026-01-31T09:30:00Z", 1, "2026-02-28T09:30:00Z"},
		{"monthly, Jan 31 to Feb 29 in a leap year", domain.Monthly, "2028-01-31T09:30:00Z", 1, "2028-02-29T09:30:00Z"},
		{"monthly, back to the 31st after February", domain.Monthly, "2026-01-31T09:30:00Z", 2, "2026-03-31T09:30:00Z"},
		{"monthly, Apr has 30 days", domain.Monthly, "2026-01-31T09:30:00Z", 3, "2026-04-30T09:30:00Z"},
		{"monthly, across the year", domain.Monthly, "2026-11-15T00:00:00Z", 3, "2027-02-15T00:00:00Z"},
		{"monthly, many years on", domain.Monthly, "2026-01-31T09:30:00Z", 25, "2028-02-29T09:30:00Z"},
		{"monthly, in UTC whatever the zone given", domain.Monthly, "2026-03-01T02:00:00+05:30", 1, "2026-03-28T20:30:00Z"},
		{"weekly", domain.Weekly, "2026-12-01T10:00:00Z", 2, "2026-12-15T10:00:00Z"},
		{"weekly, across the year", domain.Weekly, "2026-12-29T10:00:00Z", 1, "2027-01-05T10:00:00Z"},
		{"daily, across February", domain.Daily, "2028-02-28T23:59:59Z", 1, "2028-02-29T23:59:59Z"},
		{"daily, a year on", domain.Daily, "2026-12-01T00:00:00Z", 365, "2027-12-01T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.interval.PeriodStart(at(tc.start), tc.k); !got.Equal(at(tc.want)) || got.Location() != time.UTC {
				t.Fatalf("%s.PeriodStart(%s, %d) = %s, want %s UTC", tc.interval, tc.start, tc.k, got, tc.want)
			}
		})
	}
}

func TestPeriodLabel(t *testing.T) {
	cases := []struct {
		interval domain.Interval
		t, want  string
	}{
		{domain.Monthly, "2026-12-01T00:00:00Z", "2026-12"},
		{domain.Monthly, "2026-12-31T23:59:59Z", "2026-12"},
		{domain.Weekly, "2026-12-01T00:00:00Z", "2026-W49"},
		{domain.Weekly, "2027-01-01T00:00:00Z", "2026-W53"}, // ISO year, not calendar year
		{domain.Weekly, "2029-12-31T00:00:00Z", "2030-W01"},
		{domain.Weekly, "2026-01-01T00:00:00Z", "2026-W01"},
		{domain.Daily, "2026-12-01T23:00:00Z", "2026-12-01"},
		{domain.Daily, "2026-12-01T23:00:00-02:00", "2026-12-02"}, // UTC
	}
	for _, tc := range cases {
		t.Run(string(tc.interval)+" "+tc.t, func(t *testing.T) {
			if got := tc.interval.PeriodLabel(at(tc.t)); got != tc.want {
				t.Fatalf("%s.PeriodLabel(%s) = %q, want %q", tc.interval, tc.t, got, tc.want)
			}
		})
	}
}

// Two periods of one subscription never share a label (the bill id is
// derived from it), whatever the start.
func TestPeriodLabelsAreDistinct(t *testing.T) {
	starts := []string{"2026-01-31T23:59:59Z", "2026-12-28T00:00:00Z", "2027-01-03T12:00:00Z", "2028-02-29T06:00:00Z", "2026-03-31T00:00:00Z"}
	for _, iv := range []domain.Interval{domain.Daily, domain.Weekly, domain.Monthly} {
		for _, start := range starts {
			seen := map[string]int64{}
			for k := int64(0); k < 800; k++ {
				label := iv.PeriodLabel(iv.PeriodStart(at(start), k))
				if prev, dup := seen[label]; dup {
					t.Fatalf("%s from %s: periods %d and %d are both %s", iv, start, prev, k, label)
				}
				seen[label] = k
			}
		}
	}
}

func monthly(start string) domain.Subscription {
	return domain.Subscription{ID: id.New(id.Subscription), UserID: id.New(id.User), Amount: 49900, Currency: "INR",
		Description: "Broadband", Interval: domain.Monthly, Status: domain.Active, StartAt: at(start)}
}

// Which periods are due, decided from the subscription and the clock.
func TestDue(t *testing.T) {
	cases := []struct {
		name   string
		start  string
		billed int64
		status domain.SubscriptionStatus
		now    string
		max    int
		want   []int64
	}{
		{"before the start", "2026-12-01T09:00:00Z", 0, domain.Active, "2026-12-01T08:59:59Z", 10, nil},
		{"at the start", "2026-12-01T09:00:00Z", 0, domain.Active, "2026-12-01T09:00:00Z", 10, []int64{0}},
		{"first period billed", "2026-12-01T09:00:00Z", 1, domain.Active, "2026-12-20T00:00:00Z", 10, nil},
		{"second period begins", "2026-12-01T09:00:00Z", 1, domain.Active, "2027-01-01T09:00:00Z", 10, []int64{1}},
		{"catch-up after downtime", "2026-12-01T09:00:00Z", 1, domain.Active, "2027-04-15T00:00:00Z", 10, []int64{1, 2, 3, 4}},
		{"catch-up in batches", "2026-12-01T09:00:00Z", 0, domain.Active, "2027-04-15T00:00:00Z", 2, []int64{0, 1}},
		{"month end: Feb 28 is due", "2026-01-31T09:00:00Z", 1, domain.Active, "2026-02-28T09:00:00Z", 10, []int64{1}},
		{"month end: not before Feb 28", "2026-01-31T09:00:00Z", 1, domain.Active, "2026-02-28T08:59:00Z", 10, nil},
		{"month end: Mar 31, not Mar 28", "2026-01-31T09:00:00Z", 2, domain.Active, "2026-03-30T00:00:00Z", 10, nil},
		{"cancelled: nothing more", "2026-12-01T09:00:00Z", 1, domain.Cancelled, "2027-04-15T00:00:00Z", 10, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := monthly(tc.start)
			s.Billed, s.Status = tc.billed, tc.status
			if got := s.Due(at(tc.now), tc.max); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Due(%s) = %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}

// Claiming, taking over a dead claimer, settling and waking up.
func TestClaims(t *testing.T) {
	s := monthly("2026-12-01T09:00:00Z")
	now := at("2027-02-10T00:00:00Z")
	mine := s.Claim(now, 10)
	if fmt.Sprint(mine) != "[0 1 2]" || s.Billed != 3 || len(s.Claims) != 3 {
		t.Fatalf("Claim = %v (billed %d, claims %v), want [0 1 2]", mine, s.Billed, s.Claims)
	}
	if again := s.Claim(now, 10); len(again) != 0 {
		t.Fatalf("Claim again = %v, want nothing: each period is claimed once", again)
	}
	cases := []struct {
		name string
		mine []int64
		now  time.Time
		all  bool
		want string
	}{
		{"the claimer makes its own", []int64{0, 1, 2}, now, false, "[0 1 2]"},
		{"another leaves a live claimer's claims", nil, now.Add(domain.ClaimTimeout - time.Second), false, "[]"},
		{"another takes over a dead claimer's claims", nil, now.Add(domain.ClaimTimeout), false, "[0 1 2]"},
		{"a cancel makes them all", nil, now, true, "[0 1 2]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(s.ToMake(tc.mine, tc.now, tc.all)); got != tc.want {
				t.Fatalf("ToMake(%v, all %v) = %s, want %s", tc.mine, tc.all, got, tc.want)
			}
		})
	}
	if w, ok := s.Wake(); !ok || !w.Equal(now.Add(domain.ClaimTimeout)) {
		t.Fatalf("Wake with claims = %s %v, want when they are taken over", w, ok)
	}
	if !s.Settle([]int64{0, 1, 2}) || len(s.Claims) != 0 || s.Settle([]int64{0}) {
		t.Fatalf("Settle left %v", s.Claims)
	}
	if w, ok := s.Wake(); !ok || !w.Equal(at("2027-03-01T09:00:00Z")) {
		t.Fatalf("Wake = %s %v, want the next period, 2027-03-01T09:00", w, ok)
	}
	if err := s.Cancel(now); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Wake(); ok {
		t.Fatal("a cancelled subscription without claims still wakes the scheduler")
	}
	if _, ok := s.NextBillAt(); ok {
		t.Fatal("a cancelled subscription has a next bill")
	}
	if got := s.Claim(now.AddDate(1, 0, 0), 10); len(got) != 0 {
		t.Fatalf("Claim after the cancel = %v", got)
	}
	before := s
	if err := s.Cancel(now.Add(time.Hour)); !errors.Is(err, domain.ErrSubscriptionCancelled) || s.CancelledAt != before.CancelledAt {
		t.Fatalf("Cancel again = %v (cancelled at %s, was %s), want ErrSubscriptionCancelled and no change", err, s.CancelledAt, before.CancelledAt)
	}
}

func TestBillForIsOnePerPeriod(t *testing.T) {
	s := monthly("2026-12-01T09:00:00Z")
	now := at("2027-01-05T00:00:00Z")
	b0, b0again, b1 := s.BillFor(0, now), s.BillFor(0, now.Add(time.Hour)), s.BillFor(1, now)
	if b0.ID != b0again.ID || b0.ID == b1.ID || !id.Valid(id.Bill, b0.ID) {
		t.Fatalf("bill ids %s, %s, %s: want one valid id per period", b0.ID, b0again.ID, b1.ID)
	}
	if b0.Period != "2026-12" || b1.Period != "2027-01" || b0.SubscriptionID != s.ID || b0.Status != domain.Unpaid || b0.Amount != s.Amount {
		t.Fatalf("bills %+v, %+v", b0, b1)
	}
	other := monthly("2026-12-01T09:00:00Z")
	if other.BillFor(0, now).ID == b0.ID {
		t.Fatal("two subscriptions' bills for one period share an id")
	}
}

func TestNewSubscription(t *testing.T) {
	now := at("2026-12-01T10:00:00Z")
	str := func(s string) *string { return &s }
	user := id.New(id.User)
	ok := domain.NewSubscriptionRequest{UserID: user, Amount: moneyAmount(49900), Description: "Broadband", Interval: "MONTHLY"}
	cases := []struct {
		name      string
		edit      func(*domain.NewSubscriptionRequest)
		wantField string
		wantStart string
	}{
		{"starts now", func(*domain.NewSubscriptionRequest) {}, "", "2026-12-01T10:00:00Z"},
		{"starts later", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("2026-12-31T00:00:00+05:30") }, "", "2026-12-30T18:30:00Z"},
		{"a clock a little behind", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("2026-12-01T09:56:00Z") }, "", "2026-12-01T09:56:00Z"},
		{"weekly", func(r *domain.NewSubscriptionRequest) { r.Interval = "WEEKLY" }, "", "2026-12-01T10:00:00Z"},
		{"daily with autopay", func(r *domain.NewSubscriptionRequest) { r.Interval, r.Autopay = "DAILY", true }, "", "2026-12-01T10:00:00Z"},
		{"INR", func(r *domain.NewSubscriptionRequest) { r.Currency = str("INR") }, "", "2026-12-01T10:00:00Z"},
		{"zero amount", func(r *domain.NewSubscriptionRequest) { r.Amount = 0 }, "amount", ""},
		{"negative amount", func(r *domain.NewSubscriptionRequest) { r.Amount = -5 }, "amount", ""},
		{"amount above 10^12", func(r *domain.NewSubscriptionRequest) { r.Amount = 1_000_000_000_001 }, "amount", ""},
		{"another currency", func(r *domain.NewSubscriptionRequest) { r.Currency = str("USD") }, "currency", ""},
		{"unknown interval", func(r *domain.NewSubscriptionRequest) { r.Interval = "YEARLY" }, "interval", ""},
		{"interval in lower case", func(r *domain.NewSubscriptionRequest) { r.Interval = "monthly" }, "interval", ""},
		{"no interval", func(r *domain.NewSubscriptionRequest) { r.Interval = "" }, "interval", ""},
		{"start_at a date only", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("2026-12-05") }, "start_at", ""},
		{"start_at empty", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("") }, "start_at", ""},
		{"start_at not a time", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("tomorrow") }, "start_at", ""},
		{"start_at month 13", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("2026-13-01T00:00:00Z") }, "start_at", ""},
		{"start_at in the past", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("2026-11-30T10:00:00Z") }, "start_at", ""},
		{"start_at over a year ahead", func(r *domain.NewSubscriptionRequest) { r.StartAt = str("2028-01-01T00:00:00Z") }, "start_at", ""},
		{"no description", func(r *domain.NewSubscriptionRequest) { r.Description = " " }, "description", ""},
		{"long description", func(r *domain.NewSubscriptionRequest) { r.Description = strings.Repeat("d", 201) }, "description", ""},
		{"not a user id", func(r *domain.NewSubscriptionRequest) { r.UserID = "bob" }, "user_id", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.edit(&req)
			s, err := domain.NewSubscription(req, now)
			if tc.wantField == "" {
				next, _ := s.NextBillAt()
				if err != nil || s.Status != domain.Active || !s.StartAt.Equal(at(tc.wantStart)) || !next.Equal(s.StartAt) ||
					!id.Valid(id.Subscription, s.ID) || s.Currency != "INR" || s.Autopay != req.Autopay {
					t.Fatalf("NewSubscription = %+v, %v; want ACTIVE from %s", s, err, tc.wantStart)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.CodeValidationFailed || ae.Details["field"] != tc.wantField {
				t.Fatalf("NewSubscription = %v, want VALIDATION_FAILED on %s", err, tc.wantField)
			}
		})
	}
}
