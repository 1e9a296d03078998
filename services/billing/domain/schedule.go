package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/peers"
)

// Subscriptions keeps subscriptions, and each user's list of them.
type Subscriptions interface {
	// Create puts the subscription in its user's list, then stores it
	// carrying its place there (Seq). Returns ErrSubscriptionExists.
	Create(ctx context.Context, s Subscription) error
	// Get returns a subscription. Returns ErrSubscriptionNotFound.
	Get(ctx context.Context, id string) (Subscription, error)
	// Update reads the subscription, applies fn and writes it back by
	// compare-and-swap, starting over when another writer came first; fn
	// reports whether it changed anything (nothing is written otherwise).
	// Returns ErrSubscriptionNotFound and fn's errors.
	Update(ctx context.Context, id string, fn func(*Subscription) (bool, error)) (Subscription, error)
	// List is Store.List for a user's subscriptions.
	List(ctx context.Context, userID string, before int64, n int) (Listed[Subscription], error)
	// BindKey binds the Idempotency-Key keyID to the request use when it
	// is bound to none (insert if absent; bindings are never removed) and
	// returns the request it is bound to: use, or the first one.
	BindKey(ctx context.Context, keyID string, use KeyUse) (KeyUse, error)
}

// Wakeup is when a scheduler must next look at one subscription; a zero At
// means never (Schedule.Set removes it).
type Wakeup struct {
	ID string
	At time.Time
}

// Schedule is the index the scheduler reads on each tick: when each
// subscription next needs it. It is a hint, never the truth: the scheduler
// decides from the subscription itself, so an entry that is early costs one
// read, and a subscription is never missed because its entry is written
// before the subscription (and before each change that needs it sooner).
type Schedule interface {
	// Due returns up to max subscriptions whose time is at or before now,
	// soonest first.
	Due(ctx context.Context, now time.Time, max int) ([]Wakeup, error)
	// Set records the wakeups (removing those with a zero At).
	Set(ctx context.Context, wakeups []Wakeup) error
}

// Autopay asks for bills to be paid from the wallet.
type Autopay interface {
	// Publish sends the event (contract.TopicAutopayBills); delivery is
	// at least once, and the consumer de-duplicates on its EventID.
	Publish(ctx context.Context, ev contract.AutopayBill) error
}

// Bounds of one scheduler tick.
const (
	// TickSubscriptions is how many due subscriptions one tick looks at;
	// the rest wait for the next tick.
	TickSubscriptions = 200
	// claimBatch is how many periods one compare-and-swap claims (catching
	// up after a long downtime takes several).
	claimBatch = 32
	// orphanAfter is how long a schedule entry may name a subscription that
	// does not exist (its create died between the two writes) before it is
	// dropped.
	orphanAfter = 10 * time.Minute
)

// CreateSubscription makes an ACTIVE subscription for an existing user (an
// admin only). A keyed request always proposes the same id, so a retry
// whose first answer was lost finds its subscription (and the same key for
// other details is ErrKeyReused). Returns VALIDATION_FAILED, auth errors,
// ErrUserNotFound, ErrKeyReused.
func (s *Service) CreateSubscription(ctx context.Context, caller auth.Caller, req NewSubscriptionRequest) (Subscription, error) {
	if err := caller.Admin(); err != nil {
		return Subscription{}, err
	}
	sub, err := NewSubscription(req, s.Now())
	if err != nil {
		return Subscription{}, err
	}
	if err := peers.RequireUser(ctx, s.Users, req.UserID); err != nil {
		return Subscription{}, err
	}
	if req.IdempotencyToken != "" {
		sub.ID = id.Derive(id.Subscription, req.IdempotencyToken)
		// A retry, or the key used again: answered from the subscription
		// that exists, whose schedule entry is never moved by it.
		prev, err := s.Subscriptions.Get(ctx, sub.ID)
		if err == nil {
			return s.keyedAgain(ctx, prev, sub)
		} else if !errors.Is(err, ErrSubscriptionNotFound) {
			return Subscription{}, err
		}
	}
	// The schedule first: a subscription that exists is always on it.
	if err := s.wake(ctx, sub); err != nil {
		return Subscription{}, err
	}
	if err := s.Subscriptions.Create(ctx, sub); errors.Is(err, ErrSubscriptionExists) {
		// A keyed request racing another with the same key: the other made
		// it, and this one's wake may have moved its schedule entry.
		prev, gerr := s.Subscriptions.Get(ctx, sub.ID)
		if gerr != nil {
			return Subscription{}, gerr
		}
		return s.keyedAgain(ctx, prev, sub)
	} else if err != nil {
		return Subscription{}, err
	}
	next, _ := sub.NextBillAt()
	s.Log.InfoContext(ctx, "subscription created", "subscription_id", sub.ID, "user_id", sub.UserID, "amount", sub.Amount,
		"interval", sub.Interval, "autopay", sub.Autopay, "next_bill_at", next)
	return sub, nil
}

// keyedAgain answers a keyed create whose subscription prev exists already:
// prev when asked is the same request (a retry; its start may differ, and
// the schedule follows prev), ErrKeyReused otherwise. Either way prev's
// schedule entry is set again from prev, in case the request's own wake
// moved it.
func (s *Service) keyedAgain(ctx context.Context, prev, asked Subscription) (Subscription, error) {
	if err := s.wake(ctx, prev); err != nil {
		return Subscription{}, err
	}
	if !prev.SameRequest(asked) {
		return Subscription{}, ErrKeyReused.With("this Idempotency-Key was used for a different subscription", nil)
	}
	return prev, nil
}

// GetSubscription returns a subscription to its owner or an admin. Returns
// ErrSubscriptionNotFound (a malformed id included) and auth errors.
func (s *Service) GetSubscription(ctx context.Context, caller auth.Caller, subID string) (Subscription, error) {
	if !id.Valid(id.Subscription, subID) {
		return Subscription{}, ErrSubscriptionNotFound
	}
	sub, err := s.Subscriptions.Get(ctx, subID)
	if err != nil {
		return Subscription{}, err
	}
	if err := caller.Owner(sub.UserID); err != nil {
		return Subscription{}, err
	}
	return sub, nil
}

// ListSubscriptions returns a page of a user's subscriptions, newest first,
// to the user or an admin (the paging and round trips of ListBills, without
// a filter). Returns VALIDATION_FAILED (a bad limit or cursor),
// ErrUserNotFound (a malformed user id, or a user with nothing listed whom
// the user service does not know), auth errors.
func (s *Service) ListSubscriptions(ctx context.Context, caller auth.Caller, q Listing) (Page[Subscription], error) {
	seq := func(x Subscription) int64 { return x.Seq }
	all := func(Subscription) bool { return true }
	return listPage(ctx, caller, s.Users, q, cursorSubscriptions, false, s.Subscriptions.List, seq, all)
}

// CancelSubscription cancels a subscription, for its owner or an admin:
// every period that has begun by the cancel is billed (Subscription.Cancel
// claims those the scheduler has not yet), no period is claimed after it,
// and it answers only once every claimed period has its bill, so no bill of
// the subscription appears after the answer, and whether a begun period is
// billed does not depend on when the scheduler ticked. Cancelling again is ErrSubscriptionCancelled and changes nothing.
// Returns ErrSubscriptionNotFound, ErrSubscriptionCancelled, auth errors.
func (s *Service) CancelSubscription(ctx context.Context, caller auth.Caller, subID string) (Subscription, error) {
	return s.CancelKeyedSubscription(ctx, caller, subID, "")
}

// CancelKeyedSubscription is CancelSubscription for a request that may
// carry an Idempotency-Key (idempotencyToken, the gateway's token of it, or
// ""). A keyed cancel binds its key to the subscription before it changes
// anything, and the cancel records the key: the same key again on that
// subscription answers it as cancelled (the first answer), and on another
// one is ErrKeyReused and changes nothing, even when the gateway kept no
// record of the key. Returns ErrSubscriptionNotFound,
// ErrSubscriptionCancelled (cancelled before, by another request),
// ErrKeyReused, auth errors.
func (s *Service) CancelKeyedSubscription(ctx context.Context, caller auth.Caller, subID, idempotencyToken string) (Subscription, error) {
	if _, err := s.GetSubscription(ctx, caller, subID); err != nil {
		return Subscription{}, err
	}
	keyID := ""
	if idempotencyToken != "" {
		keyID = CancelKeyID(idempotencyToken)
		use := KeyUse{Action: KeyCancel, SubscriptionID: subID}
		first, err := s.Subscriptions.BindKey(ctx, keyID, use)
		if err != nil {
			return Subscription{}, err
		}
		if first != use {
			return Subscription{}, ErrKeyReused.With("this Idempotency-Key was used to cancel another subscription", nil)
		}
	}
	now := s.Now()
	replayed := false
	sub, err := s.Subscriptions.Update(ctx, subID, func(x *Subscription) (bool, error) {
		if replayed = keyID != "" && x.Status == Cancelled && x.CancelledBy == keyID; replayed {
			return false, nil
		}
		if err := x.Cancel(now); err != nil {
			return false, err
		}
		x.CancelledBy = keyID
		return true, nil
	})
	if err != nil {
		return Subscription{}, err
	}
	if !replayed {
		s.Log.InfoContext(ctx, "subscription cancelled", "subscription_id", sub.ID, "periods_billed", sub.Billed)
	}
	// A replay still makes the bills a first attempt that died left
	// claimed: the answer promises none comes after it.
	if len(sub.Claims) > 0 {
		billed, _, err := s.billSubscription(ctx, subID, now, true)
		if err != nil && !errors.Is(err, errAutopayUnsent) {
			return Subscription{}, fmt.Errorf("making the bills claimed before the cancel: %w", err)
		}
		if err != nil {
			// Every bill exists, so the answer's promise holds; the
			// autopay requests not sent keep their claims, and the
			// scheduler sends them once the claims are taken for dead.
			s.Log.WarnContext(ctx, "subscription cancelled; the autopay of its last bills is sent again later", "subscription_id", subID, "err", err.Error())
		}
		sub = billed
	}
	if err := s.wake(ctx, sub); err != nil {
		// The entry left behind costs the scheduler one read, which then
		// drops it.
		s.Log.WarnContext(ctx, "cancelled subscription left on the schedule", "subscription_id", sub.ID, "err", err.Error())
	}
	return sub, nil
}

// TickReport says what one scheduler tick did.
type TickReport struct {
	Due   int // subscriptions looked at
	Bills int // bills made (or found made) and, with autopay, published
}

// RunSchedule is one tick of the scheduler (the cron binding of the
// billing sidecar; every billing instance ticks): every subscription whose
// time has come gets one bill for each period that has begun and has none
// yet, oldest first. Only the sidecar's own binding may run it (a request
// from another app or carrying a user is ErrForbidden).
//
// Exactly one bill per period, however many instances tick at once and
// whatever crashes: a period is claimed by one compare-and-swap of the
// subscription (so once, and never after a cancel), its bill's id is
// derived from the subscription and the period and inserted only if absent,
// and a claim whose claimer died is taken over after ClaimTimeout. With
// autopay the bill is published after it exists and before its claim is
// dropped: at least once. A tick that comes while this instance's previous
// one still runs does nothing. Returns the failures (the rest of the tick
// went on; the next tick tries again).
func (s *Service) RunSchedule(ctx context.Context, caller auth.Caller) (TickReport, error) {
	if caller.Signed || caller.App != "" {
		return TickReport{}, auth.ErrForbidden.With("only the billing sidecar's schedule may run the scheduler", nil)
	}
	if !s.ticking.TryLock() {
		return TickReport{}, nil // the tick before is still at work
	}
	defer s.ticking.Unlock()
	now := s.Now()
	due, err := s.Schedule.Due(ctx, now, TickSubscriptions)
	if err != nil {
		return TickReport{}, err
	}
	var (
		report = TickReport{Due: len(due)}
		wake   []Wakeup
		errs   []error
	)
	for _, w := range due {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		sub, made, err := s.billSubscription(ctx, w.ID, now, false)
		report.Bills += made
		switch {
		case errors.Is(err, ErrSubscriptionNotFound):
			if now.Sub(w.At) > orphanAfter {
				wake = append(wake, Wakeup{ID: w.ID})
			}
		case errors.Is(err, errAutopayUnsent):
			// Its bills are made; it is looked at again when the
			// claims left for the unsent requests are taken for dead.
			errs = append(errs, fmt.Errorf("billing subscription %s: %w", w.ID, err))
			at, _ := sub.Wake()
			wake = append(wake, Wakeup{ID: sub.ID, At: at})
		case err != nil:
			errs = append(errs, fmt.Errorf("billing subscription %s: %w", w.ID, err))
		default:
			at, _ := sub.Wake()
			wake = append(wake, Wakeup{ID: sub.ID, At: at})
		}
	}
	if len(wake) > 0 {
		if err := s.Schedule.Set(ctx, wake); err != nil {
			errs = append(errs, fmt.Errorf("rescheduling: %w", err))
		}
	}
	return report, errors.Join(errs...)
}

// billSubscription claims the subscription's due periods and makes their
// bills, with the claims it should take over (all of them when all), in
// batches, until nothing is due; it returns the subscription as last
// written and how many bills it made. A bill whose autopay request could
// not be published keeps its claim (the request is published again when
// the claim is taken over): the error is then errAutopayUnsent, and every
// bill of that batch is made.
func (s *Service) billSubscription(ctx context.Context, subID string, now time.Time, all bool) (Subscription, int, error) {
	made := 0
	for {
		if err := ctx.Err(); err != nil {
			return Subscription{}, made, err
		}
		var mine []int64
		sub, err := s.Subscriptions.Update(ctx, subID, func(x *Subscription) (bool, error) {
			mine = x.Claim(now, claimBatch)
			return len(mine) > 0, nil
		})
		if err != nil {
			return Subscription{}, made, err
		}
		todo := sub.ToMake(mine, now, all)
		if len(todo) == 0 {
			return sub, made, nil
		}
		var unsent []error
		settle := make([]int64, 0, len(todo))
		for _, k := range todo {
			switch err := s.makeBill(ctx, sub, k, now); {
			case errors.Is(err, errAutopayUnsent):
				unsent = append(unsent, err) // the bill is made; its claim stays
			case err != nil:
				return sub, made, err
			default:
				settle = append(settle, k)
			}
			made++
		}
		sub, err = s.Subscriptions.Update(ctx, subID, func(x *Subscription) (bool, error) { return x.Settle(settle), nil })
		if err != nil {
			return Subscription{}, made, err
		}
		if len(unsent) > 0 {
			return sub, made, errors.Join(unsent...)
		}
		if len(mine) < claimBatch {
			return sub, made, nil
		}
	}
}

// errAutopayUnsent is makeBill's error when the bill was made (or found
// made) but its autopay request could not be published: the period's claim
// must stay, so that the request is published again (at least once).
var errAutopayUnsent = errors.New("bill made, its autopay request not published")

// makeBill makes the bill of period k (found made if another scheduler, or
// an earlier try, got there first) and, with autopay, publishes it.
func (s *Service) makeBill(ctx context.Context, sub Subscription, k int64, now time.Time) error {
	b := sub.BillFor(k, now)
	switch err := s.Store.Create(ctx, b); {
	case errors.Is(err, ErrBillExists):
	case err != nil:
		return fmt.Errorf("making the bill of period %s: %w", b.Period, err)
	default:
		s.Log.InfoContext(ctx, "subscription bill made", "bill_id", b.ID, "subscription_id", sub.ID, "period", b.Period, "amount", b.Amount)
	}
	if !sub.Autopay {
		return nil
	}
	ev := contract.AutopayBill{EventID: b.ID, BillID: b.ID, UserID: b.UserID, Amount: b.Amount, Currency: b.Currency,
		SubscriptionID: sub.ID, Period: b.Period}
	if err := s.Autopay.Publish(ctx, ev); err != nil {
		return fmt.Errorf("%w: %s: %w", errAutopayUnsent, b.ID, err)
	}
	return nil
}

// wake records when the scheduler must next look at sub.
func (s *Service) wake(ctx context.Context, sub Subscription) error {
	at, _ := sub.Wake()
	return s.Schedule.Set(ctx, []Wakeup{{ID: sub.ID, At: at}})
}
