package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/billing/domain"
)

// Subscriptions is the Dapr-backed domain.Subscriptions: one key per
// subscription (subscription/<id>), changed only by compare-and-swap, and
// each user's list of them (subscriptions-of/<user>).
type Subscriptions struct {
	state State
	name  string
}

var _ domain.Subscriptions = (*Subscriptions)(nil)

// NewSubscriptions returns the subscriptions on the state store component
// named name.
func NewSubscriptions(state State, name string) *Subscriptions {
	return &Subscriptions{state: state, name: name}
}

type subscriptionRecord struct {
	ID          string                    `json:"id"`
	UserID      string                    `json:"user_id"`
	Amount      int64                     `json:"amount"`
	Currency    string                    `json:"currency"`
	Description string                    `json:"description"`
	Interval    domain.Interval           `json:"interval"`
	Autopay     bool                      `json:"autopay,omitempty"`
	Status      domain.SubscriptionStatus `json:"status"`
	StartAt     time.Time                 `json:"start_at"`
	Billed      int64                     `json:"billed"`
	Claims      []claimRecord             `json:"claims,omitempty"`
	CreatedAt   time.Time                 `json:"created_at"`
	CancelledAt time.Time                 `json:"cancelled_at,omitzero"`
	CancelledBy string                    `json:"cancelled_by,omitempty"`
	Seq         int64                     `json:"seq,omitempty"`
}

type claimRecord struct {
	Period int64     `json:"period"`
	At     time.Time `json:"at"`
}

func toSubscriptionRecord(sub domain.Subscription) subscriptionRecord {
	r := subscriptionRecord{ID: sub.ID, UserID: sub.UserID, Amount: sub.Amount, Currency: sub.Currency, Description: sub.Description,
		Interval: sub.Interval, Autopay: sub.Autopay, Status: sub.Status, StartAt: sub.StartAt, Billed: sub.Billed,
		CreatedAt: sub.CreatedAt, CancelledAt: sub.CancelledAt, CancelledBy: sub.CancelledBy, Seq: sub.Seq}
	for _, c := range sub.Claims {
		r.Claims = append(r.Claims, claimRecord(c))
	}
	return r
}

func (r subscriptionRecord) subscription() domain.Subscription {
	sub := domain.Subscription{ID: r.ID, UserID: r.UserID, Amount: r.Amount, Currency: r.Currency, Description: r.Description,
		Interval: r.Interval, Autopay: r.Autopay, Status: r.Status, StartAt: r.StartAt, Billed: r.Billed,
		CreatedAt: r.CreatedAt, CancelledAt: r.CancelledAt, CancelledBy: r.CancelledBy, Seq: r.Seq}
	for _, c := range r.Claims {
		sub.Claims = append(sub.Claims, domain.Claim(c))
	}
	return sub
}

func subscriptionKey(id string) string { return "subscription/" + id }

func (s *Subscriptions) lists() listindex.Index {
	return listindex.Index{State: s.state, Store: s.name, Prefix: "subscriptions-of"}
}

func decodeSubscription(raw []byte, id string) (domain.Subscription, error) {
	var r subscriptionRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return domain.Subscription{}, fmt.Errorf("decoding subscription %s: %w", id, err)
	}
	return r.subscription(), nil
}

// Create implements domain.Subscriptions: the subscription's place in its
// user's list first, then the subscription, carrying it.
func (s *Subscriptions) Create(ctx context.Context, sub domain.Subscription) error {
	seq, err := s.lists().Append(ctx, sub.UserID, sub.ID)
	if err != nil {
		return fmt.Errorf("listing subscription: %w", err)
	}
	sub.Seq = seq
	raw, err := json.Marshal(toSubscriptionRecord(sub))
	if err != nil {
		return err
	}
	err = s.state.Insert(ctx, s.name, subscriptionKey(sub.ID), raw, 0)
	if errors.Is(err, sidecar.ErrExists) {
		return domain.ErrSubscriptionExists
	}
	if err != nil {
		return fmt.Errorf("creating subscription: %w", err)
	}
	return nil
}

// Get implements domain.Subscriptions.
func (s *Subscriptions) Get(ctx context.Context, id string) (domain.Subscription, error) {
	it, err := s.state.Get(ctx, s.name, subscriptionKey(id))
	if err != nil {
		return domain.Subscription{}, fmt.Errorf("reading subscription: %w", err)
	}
	if !it.Found() {
		return domain.Subscription{}, domain.ErrSubscriptionNotFound
	}
	return decodeSubscription(it.Value, id)
}

// Update implements domain.Subscriptions.
func (s *Subscriptions) Update(ctx context.Context, id string, fn func(*domain.Subscription) (bool, error)) (domain.Subscription, error) {
	return update(ctx, s.state, s.name, subscriptionKey(id), domain.ErrSubscriptionNotFound, subscriptionRecord.subscription, toSubscriptionRecord, fn)
}

// List implements domain.Subscriptions.
func (s *Subscriptions) List(ctx context.Context, userID string, before int64, n int) (domain.Listed[domain.Subscription], error) {
	return listed(ctx, s.state, s.name, s.lists(), userID, before, n, subscriptionKey, func(raw []byte, id string) (domain.Subscription, int64, string, error) {
		sub, err := decodeSubscription(raw, id)
		return sub, sub.Seq, sub.UserID, err
	})
}

// ScheduleShards is how many documents the scheduler's index is spread
// over: a tick reads them all in one bulk read, and writers of different
// subscriptions mostly change different documents.
const ScheduleShards = 16

// Schedule is the Dapr-backed domain.Schedule: ScheduleShards documents
// schedule/<n>, each mapping the ids of its subscriptions to when the
// scheduler must next look at them, changed by compare-and-swap.
type Schedule struct {
	state State
	name  string
}

var _ domain.Schedule = (*Schedule)(nil)

// NewSchedule returns the scheduler's index on the state store component
// named name.
func NewSchedule(state State, name string) *Schedule { return &Schedule{state: state, name: name} }

type shard struct {
	Next map[string]time.Time `json:"next"`
}

func shardKey(n int) string { return "schedule/" + strconv.Itoa(n) }

func shardOf(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % ScheduleShards)
}

// Due implements domain.Schedule: one bulk read of every shard.
func (s *Schedule) Due(ctx context.Context, now time.Time, max int) ([]domain.Wakeup, error) {
	keys := make([]string, ScheduleShards)
	for n := range keys {
		keys[n] = shardKey(n)
	}
	items, err := s.state.BulkGet(ctx, s.name, keys)
	if err != nil {
		return nil, fmt.Errorf("reading the schedule: %w", err)
	}
	var due []domain.Wakeup
	for _, it := range items {
		if !it.Found() {
			continue
		}
		var sh shard
		if err := json.Unmarshal(it.Value, &sh); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", it.Key, err)
		}
		for id, at := range sh.Next {
			if !at.After(now) {
				due = append(due, domain.Wakeup{ID: id, At: at})
			}
		}
	}
	slices.SortFunc(due, func(a, b domain.Wakeup) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return due[:min(len(due), max)], nil
}

// Set implements domain.Schedule: one compare-and-swap per shard touched.
func (s *Schedule) Set(ctx context.Context, wakeups []domain.Wakeup) error {
	byShard := map[int][]domain.Wakeup{}
	for _, w := range wakeups {
		byShard[shardOf(w.ID)] = append(byShard[shardOf(w.ID)], w)
	}
	for n, ws := range byShard {
		_, err := sidecar.Update(ctx, s.state, s.name, shardKey(n), func(sh *shard, _ bool) error {
			changed := false
			if sh.Next == nil {
				sh.Next = map[string]time.Time{}
			}
			for _, w := range ws {
				old, had := sh.Next[w.ID]
				switch {
				case w.At.IsZero() && had:
					delete(sh.Next, w.ID)
					changed = true
				case !w.At.IsZero() && (!had || !old.Equal(w.At)):
					sh.Next[w.ID] = w.At.UTC()
					changed = true
				}
			}
			if !changed {
				return sidecar.ErrNoChange
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("updating %s: %w", shardKey(n), err)
		}
	}
	return nil
}
