// Package store keeps the billing service's state in its own Dapr state
// store:
//
//   - bills, one key per bill (bill/<id>); every change is a compare-and-swap
//     on that key's ETag, so a bill moves to PAID exactly once even when
//     payments race;
//   - each user's list of bills (bills-of/<user>, package listindex);
//   - subscriptions (subscription/<id>), each user's list of them
//     (subscriptions-of/<user>) and the scheduler's index (schedule/<n>);
//
// and publishes autopay requests on the pub/sub component.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/billing/domain"
)

// State is what the store needs from the Dapr sidecar (sidecar.Client, or
// sidecartest.MemState in tests).
type State interface {
	listindex.State
}

// Store is the Dapr-backed domain.Store.
type Store struct {
	state State
	// versioned is state, or a sidecar.Cache in front of it (WithCache):
	// the compare-and-swap of a bill starts from the copy this process
	// last read or wrote, so the payment service's read of a bill and its
	// PAID mark that follows cost one round trip each.
	versioned sidecar.Versioned
	name      string
}

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store { return &Store{state: state, versioned: state, name: name} }

// WithCache makes the store's compare-and-swaps of bills start from v (a
// sidecar.Cache over the same state) instead of a read.
func (s *Store) WithCache(v sidecar.Versioned) *Store {
	s.versioned = v
	return s
}

// observer is a cache that can be told about a document read from the
// store (sidecar.Cache).
type observer interface{ Observe(sidecar.Item) }

type record struct {
	ID          string        `json:"id"`
	UserID      string        `json:"user_id"`
	Amount      int64         `json:"amount"`
	Currency    string        `json:"currency"`
	Description string        `json:"description"`
	DueDate     string        `json:"due_date,omitempty"`
	Status      domain.Status `json:"status"`
	PaymentID   string        `json:"payment_id,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	PaidAt      time.Time     `json:"paid_at,omitzero"`
	RefundedAt  time.Time     `json:"refunded_at,omitzero"`
	// A subscription's bill names it and its period.
	SubscriptionID string `json:"subscription_id,omitempty"`
	Period         string `json:"period,omitempty"`
	// Seq is the bill's place in its user's list (bills-of/<user>).
	Seq int64 `json:"seq,omitempty"`
}

func toRecord(b domain.Bill) record { return record(b) }
func (r record) bill() domain.Bill  { return domain.Bill(r) }

func key(id string) string { return "bill/" + id }

// bills is the users' lists of bills.
func (s *Store) bills() listindex.Index {
	return listindex.Index{State: s.state, Store: s.name, Prefix: "bills-of"}
}

// Create implements domain.Store: the bill's place in its user's list
// first, then the bill, carrying it.
func (s *Store) Create(ctx context.Context, b domain.Bill) error {
	seq, err := s.bills().Append(ctx, b.UserID, b.ID)
	if err != nil {
		return fmt.Errorf("listing bill: %w", err)
	}
	b.Seq = seq
	raw, err := json.Marshal(toRecord(b))
	if err != nil {
		return err
	}
	err = s.versioned.Insert(ctx, s.name, key(b.ID), raw, 0)
	if errors.Is(err, sidecar.ErrExists) {
		return domain.ErrBillExists
	}
	if err != nil {
		return fmt.Errorf("creating bill: %w", err)
	}
	return nil
}

func (s *Store) load(ctx context.Context, id string) (domain.Bill, string, error) {
	it, err := s.state.Get(ctx, s.name, key(id))
	if err != nil {
		return domain.Bill{}, "", fmt.Errorf("reading bill: %w", err)
	}
	if !it.Found() {
		return domain.Bill{}, "", domain.ErrBillNotFound
	}
	if o, ok := s.versioned.(observer); ok {
		o.Observe(it)
	}
	b, err := decodeBill(it.Value, id)
	return b, it.ETag, err
}

func decodeBill(raw []byte, id string) (domain.Bill, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return domain.Bill{}, fmt.Errorf("decoding bill %s: %w", id, err)
	}
	return r.bill(), nil
}

// Get implements domain.Store.
func (s *Store) Get(ctx context.Context, id string) (domain.Bill, error) {
	b, _, err := s.load(ctx, id)
	return b, err
}

// Update implements domain.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*domain.Bill) (bool, error)) (domain.Bill, error) {
	return update(ctx, s.versioned, s.name, key(id), domain.ErrBillNotFound, record.bill, toRecord, fn)
}

// update is the compare-and-swap of one stored document (sidecar.Update)
// seen as the domain's T through its record R: notFound when there is none,
// nothing written when fn changes nothing.
func update[R, T any](ctx context.Context, st sidecar.Versioned, store, key string, notFound error,
	toDomain func(R) T, toRecord func(T) R, fn func(*T) (bool, error)) (T, error) {
	r, err := sidecar.Update(ctx, st, store, key, func(r *R, found bool) error {
		if !found {
			return notFound
		}
		x := toDomain(*r)
		changed, err := fn(&x)
		if err != nil {
			return err
		}
		if !changed {
			return sidecar.ErrNoChange
		}
		*r = toRecord(x)
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return toDomain(r), nil
}

// List implements domain.Store.
func (s *Store) List(ctx context.Context, userID string, before int64, n int) (domain.Listed[domain.Bill], error) {
	return listed(ctx, s.state, s.name, s.bills(), userID, before, n, key, func(raw []byte, id string) (domain.Bill, int64, string, error) {
		b, err := decodeBill(raw, id)
		return b, b.Seq, b.UserID, err
	})
}

// listed reads up to n entries of owner's list in x below before and the
// items they name (under itemKey, decoded by decode), in two round trips
// and a third when the entries reach the list's archived pages. An entry is
// kept only when its item carries the entry's number: an item listed twice
// (a create retried, or two schedulers making one bill) appears once, at
// the place it was created with, and a listed item that was never created
// (a create that died in between) not at all. It must also belong to
// owner: a keyed create refused because its id was another user's item
// (the key reused for another user) has appended that id to this owner's
// list, perhaps at the very number the item carries in its own owner's. A before that is not within
// the list (from 2 to its newest position) is a cursor never issued for it:
// listindex says so from the head it reads anyway, and listed returns
// domain.ErrInvalidCursor (wrapped) without reading any item.
func listed[T any](ctx context.Context, st State, store string, x listindex.Index, owner string, before int64, n int,
	itemKey func(string) string, decode func(raw []byte, id string) (item T, seq int64, owner string, err error)) (domain.Listed[T], error) {
	entries, err := x.Before(ctx, owner, before, n)
	if err != nil {
		return domain.Listed[T]{}, err
	}
	out := domain.Listed[T]{Items: []T{}}
	if len(entries) == 0 {
		return out, nil
	}
	if last := entries[len(entries)-1].Seq; len(entries) == n && last > 1 {
		out.Next = last
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = itemKey(e.ID)
	}
	items, err := st.BulkGet(ctx, store, keys)
	if err != nil {
		return domain.Listed[T]{}, fmt.Errorf("reading the listed items of %s: %w", owner, err)
	}
	found := make(map[string][]byte, len(items))
	for _, it := range items {
		if it.Found() {
			found[it.Key] = it.Value
		}
	}
	for _, e := range entries {
		raw, ok := found[itemKey(e.ID)]
		if !ok {
			continue
		}
		item, seq, itemOwner, err := decode(raw, e.ID)
		if err != nil {
			return domain.Listed[T]{}, err
		}
		if seq == e.Seq && itemOwner == owner {
			out.Items = append(out.Items, item)
		}
	}
	return out, nil
}
