package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// Interval is how often a subscription bills.
type Interval string

// Subscription intervals.
const (
	Daily   Interval = "DAILY"
	Weekly  Interval = "WEEKLY"
	Monthly Interval = "MONTHLY"
)

// SubscriptionStatus is a subscription's state.
type SubscriptionStatus string

// Subscription states: ACTIVE until cancelled, then CANCELLED for good.
const (
	Active    SubscriptionStatus = "ACTIVE"
	Cancelled SubscriptionStatus = "CANCELLED"
)

// Subscription is a bill that comes by itself every period: period k (from
// 0) begins k intervals after StartAt, anchored to StartAt's day and time of
// day (a monthly subscription started on 31 January bills on 28 or 29
// February, then on 31 March), and gets exactly one bill, made when the
// period begins (or, after downtime, as soon as the scheduler runs again).
type Subscription struct {
	ID          string
	UserID      string
	Amount      int64
	Currency    string
	Description string
	Interval    Interval
	Autopay     bool
	Status      SubscriptionStatus
	StartAt     time.Time
	// Billed counts the periods claimed so far (0 to Billed-1): each
	// period is claimed once, by one compare-and-swap of the subscription,
	// and only while it is ACTIVE.
	Billed int64
	// Claims are the claimed periods whose bill may not be made yet (a
	// claimer that is working, or one that died).
	Claims      []Claim
	CreatedAt   time.Time
	CancelledAt time.Time // zero while ACTIVE
	// CancelledBy is the key id (CancelKeyID) of the Idempotency-Key of
	// the request that cancelled it, "" when it had none.
	CancelledBy string
	// Seq is the subscription's place in its user's list; the store sets it.
	Seq int64
}

// Claim is a period claimed at At, whose bill is being made.
type Claim struct {
	Period int64
	At     time.Time
}

// Limits of a new subscription.
const (
	// StartSlack is how far in the past start_at may be (a client's clock a
	// little behind the server's): such a subscription starts at once.
	StartSlack = 5 * time.Minute
	// MaxStartAhead is how far in the future start_at may be.
	MaxStartAhead = 366 * 24 * time.Hour
	// ClaimTimeout is how long a claim stays its claimer's: after it, the
	// claimer is taken for dead and any scheduler makes the bill (the bill
	// id is derived from the period, so that never makes two).
	ClaimTimeout = 2 * time.Minute
)

// KeyUse is the request an Idempotency-Key is bound to in the billing
// service (Subscriptions.BindKey).
type KeyUse struct {
	Action         string
	SubscriptionID string
}

// KeyCancel is the KeyUse.Action of a subscription's cancel.
const KeyCancel = "cancel_subscription"

// CancelKeyID is the id a subscription's cancel keeps of the gateway's
// token of its Idempotency-Key (a hash: the token is never stored).
func CancelKeyID(token string) string {
	sum := sha256.Sum256([]byte("billing-key:" + token))
	return hex.EncodeToString(sum[:16])
}

// Subscription errors.
var (
	ErrSubscriptionNotFound = contract.ErrSubscriptionNotFound
	// ErrSubscriptionCancelled is a cancel of a subscription that is
	// already CANCELLED: it changes nothing.
	ErrSubscriptionCancelled = apperr.New(apperr.KindConflict, "SUBSCRIPTION_ALREADY_CANCELLED", "this subscription is already cancelled")
	// ErrSubscriptionExists is returned by Subscriptions.Create for an id
	// already taken (a retried keyed create derives the same id).
	ErrSubscriptionExists = apperr.New(apperr.KindConflict, "SUBSCRIPTION_EXISTS", "a subscription with this id already exists")
)

// NewSubscriptionRequest asks for a subscription: Amount in paise; Currency
// nil or "INR"; StartAt nil for now, or an RFC 3339 time from StartSlack ago
// to MaxStartAhead ahead. IdempotencyToken, when the request carried an
// Idempotency-Key, is the gateway's token of it.
type NewSubscriptionRequest struct {
	UserID           string
	Amount           money.Amount
	Currency         *string
	Description      string
	Interval         string
	StartAt          *string
	Autopay          bool
	IdempotencyToken string
}

// NewSubscription validates a request and returns the ACTIVE subscription,
// its first period beginning at its start. Returns VALIDATION_FAILED.
func NewSubscription(req NewSubscriptionRequest, now time.Time) (Subscription, error) {
	if !id.Valid(id.User, req.UserID) {
		return Subscription{}, apperr.Invalid("user_id", "user_id must be a user id (usr_...)")
	}
	if err := req.Amount.Validate(); err != nil {
		return Subscription{}, err
	}
	if err := money.CheckCurrency(req.Currency); err != nil {
		return Subscription{}, err
	}
	description, err := checkDescription(req.Description)
	if err != nil {
		return Subscription{}, err
	}
	iv := Interval(req.Interval)
	switch iv {
	case Daily, Weekly, Monthly:
	default:
		return Subscription{}, apperr.Invalid("interval", "interval must be DAILY, WEEKLY or MONTHLY")
	}
	now = now.UTC().Truncate(time.Millisecond)
	start := now
	if req.StartAt != nil {
		t, err := parseTime(*req.StartAt)
		switch {
		case errors.Is(err, errSubMillisecond):
			return Subscription{}, apperr.Invalid("start_at", "start_at must be to the millisecond at most (like 2026-12-01T09:00:00.123Z): times are kept to the millisecond")
		case err != nil:
			return Subscription{}, apperr.Invalid("start_at", "start_at must be an RFC 3339 time like 2026-12-01T09:00:00Z")
		case t.Before(now.Add(-StartSlack)):
			return Subscription{}, apperr.Invalid("start_at", "start_at must not be in the past")
		case t.After(now.Add(MaxStartAhead)):
			return Subscription{}, apperr.Invalid("start_at", "start_at must be within a year from now")
		}
		start = t.UTC()
	}
	return Subscription{
		ID:          id.New(id.Subscription),
		UserID:      req.UserID,
		Amount:      req.Amount.Paise(),
		Currency:    money.INR,
		Description: description,
		Interval:    iv,
		Autopay:     req.Autopay,
		Status:      Active,
		StartAt:     start,
		CreatedAt:   now,
	}, nil
}

// PeriodStart returns when period k (from 0) of a subscription started at
// start begins, in UTC: k days or k weeks later, or k calendar months later
// on start's day of the month (the month's last day when it is shorter).
func (iv Interval) PeriodStart(start time.Time, k int64) time.Time {
	start = start.UTC()
	switch iv {
	case Daily:
		return start.AddDate(0, 0, int(k))
	case Weekly:
		return start.AddDate(0, 0, 7*int(k))
	}
	y, m, d := start.Date()
	months := int64(m-1) + k
	y += int(months / 12)
	month := time.Month(months%12 + 1)
	last := time.Date(y, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, month, min(d, last), start.Hour(), start.Minute(), start.Second(), start.Nanosecond(), time.UTC)
}

// PeriodLabel names the period that begins at t (UTC): 2026-12 (MONTHLY),
// the ISO week 2026-W49 (WEEKLY), 2026-12-01 (DAILY). Two periods of one
// subscription never share a label.
func (iv Interval) PeriodLabel(t time.Time) string {
	t = t.UTC()
	switch iv {
	case Daily:
		return t.Format(time.DateOnly)
	case Weekly:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	}
	return t.Format("2006-01")
}

// Period returns when period k begins and its label.
func (s Subscription) Period(k int64) (time.Time, string) {
	start := s.Interval.PeriodStart(s.StartAt, k)
	return start, s.Interval.PeriodLabel(start)
}

// NextBillAt returns when the next unclaimed period begins, and false once
// the subscription is CANCELLED (no period is claimed after that).
func (s Subscription) NextBillAt() (time.Time, bool) {
	if s.Status != Active {
		return time.Time{}, false
	}
	at, _ := s.Period(s.Billed)
	return at, true
}

// Due returns the periods due at now and not claimed yet, oldest first, at
// most max of them: every period that has begun, while the subscription is
// ACTIVE. After downtime that is one period for each one missed.
func (s Subscription) Due(now time.Time, max int) []int64 {
	var due []int64
	for k := s.Billed; s.Status == Active && len(due) < max; k++ {
		if at, _ := s.Period(k); at.After(now) {
			break
		}
		due = append(due, k)
	}
	return due
}

// Claim claims the periods due at now (at most max), for the caller to make
// their bills, and returns them.
func (s *Subscription) Claim(now time.Time, max int) []int64 {
	due := s.Due(now, max)
	for _, k := range due {
		s.Claims = append(s.Claims, Claim{Period: k, At: now.UTC().Truncate(time.Millisecond)})
	}
	s.Billed += int64(len(due))
	return due
}

// ToMake returns the claimed periods whose bills the caller should make:
// its own claims (mine), and those whose claimer is taken for dead (older
// than ClaimTimeout); every claim when all (a cancel, which answers only
// once every claimed period has its bill).
func (s Subscription) ToMake(mine []int64, now time.Time, all bool) []int64 {
	out := slices.Clone(mine)
	for _, c := range s.Claims {
		if !slices.Contains(out, c.Period) && (all || !now.Before(c.At.Add(ClaimTimeout))) {
			out = append(out, c.Period)
		}
	}
	slices.Sort(out)
	return out
}

// Settle drops the claims of periods whose bills are made, and reports
// whether any was there.
func (s *Subscription) Settle(made []int64) bool {
	n := len(s.Claims)
	s.Claims = slices.DeleteFunc(s.Claims, func(c Claim) bool { return slices.Contains(made, c.Period) })
	return len(s.Claims) != n
}

// Wake returns when a scheduler must next look at the subscription: when
// the oldest claim's claimer is taken for dead, or when the next period
// begins, whichever is sooner; false when never again (CANCELLED, no claim
// left).
func (s Subscription) Wake() (time.Time, bool) {
	at, ok := s.NextBillAt()
	for _, c := range s.Claims {
		if t := c.At.Add(ClaimTimeout); !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	return at, ok
}

// Cancel ends the subscription at now. Every period that has begun by now
// is billed, however late the scheduler is (a bill is owed from its
// period's start, not from the tick that happens to make it): those not
// claimed yet are claimed here, for the cancel to make their bills before
// it answers; no period is claimed after it. Cancelling again is
// ErrSubscriptionCancelled and changes nothing.
func (s *Subscription) Cancel(now time.Time) error {
	if s.Status == Cancelled {
		return ErrSubscriptionCancelled.With("subscription "+s.ID+" is already cancelled", map[string]any{"subscription_id": s.ID})
	}
	s.Claim(now, math.MaxInt)
	s.Status = Cancelled
	s.CancelledAt = now.UTC().Truncate(time.Millisecond)
	return nil
}

// BillFor returns the bill of period k, made at now. Its id is derived from
// the subscription and the period, so however many schedulers make it, and
// however often, there is one.
func (s Subscription) BillFor(k int64, now time.Time) Bill {
	_, label := s.Period(k)
	return Bill{
		ID:             BillIDFor(s.ID, label),
		UserID:         s.UserID,
		Amount:         s.Amount,
		Currency:       s.Currency,
		Description:    s.Description,
		Status:         Unpaid,
		CreatedAt:      now.UTC().Truncate(time.Millisecond),
		SubscriptionID: s.ID,
		Period:         label,
	}
}

// BillIDFor is the id of a subscription's bill for one period.
func BillIDFor(subscriptionID, period string) string {
	return id.Derive(id.Bill, "subscription:"+subscriptionID+":"+period)
}

// SameRequest reports whether s and other were created from the same
// request (a retry), whatever their ids and times.
func (s Subscription) SameRequest(other Subscription) bool {
	return s.UserID == other.UserID && s.Amount == other.Amount && s.Description == other.Description &&
		s.Interval == other.Interval && s.Autopay == other.Autopay
}

// errSubMillisecond is a time finer than FinFlow keeps: every time it
// stores and answers is to the millisecond.
var errSubMillisecond = errors.New("more precise than a millisecond")

// parseTime reads an RFC 3339 time as time.Parse does, and also:
//   - takes the lower-case t and z RFC 3339 allows (section 5.6: they are
//     case-insensitive), which time.Parse refuses;
//   - refuses the offsets time.Parse lets through though RFC 3339 (section
//     5.6) has hours 00-23 and minutes 00-59 in them: +24:00 and +23:60
//     would be read as a day-long offset, another instant than any the
//     client could mean;
//   - refuses a time finer than a millisecond (errSubMillisecond): it
//     would be kept as another instant than the one sent (trailing zeros
//     are fine);
//   - refuses a comma before the fraction of a second, which time.Parse
//     takes (ISO 8601 allows it) though RFC 3339's time-secfrac is a dot.
func parseTime(s string) (time.Time, error) {
	if strings.Contains(s, ",") {
		return time.Time{}, errors.New("a fraction of a second follows a dot in RFC 3339, not a comma")
	}
	if len(s) > len(time.DateOnly) && s[len(time.DateOnly)] == 't' {
		s = s[:len(time.DateOnly)] + "T" + s[len(time.DateOnly)+1:]
	}
	if n := len(s); n > 0 && s[n-1] == 'z' {
		s = s[:n-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if n := len(s); n >= 6 && (s[n-6] == '+' || s[n-6] == '-') {
		if hh, mm := s[n-5:n-3], s[n-2:]; hh > "23" || mm > "59" {
			return time.Time{}, fmt.Errorf("offset %s is out of range", s[n-6:])
		}
	}
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return time.Time{}, errSubMillisecond
	}
	return t, nil
}
