// Package store keeps bills in the billing service's own Dapr state store,
// one key per bill (bill/<id>). Every change is a compare-and-swap on that
// key's ETag, so a bill moves to PAID exactly once even when payments race.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/billing/domain"
)

// State is what the store needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// Store is the Dapr-backed domain.Store.
type Store struct {
	state State
	name  string
}

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store { return &Store{state: state, name: name} }

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
}

func toRecord(b domain.Bill) record { return record(b) }
func (r record) bill() domain.Bill  { return domain.Bill(r) }

func key(id string) string { return "bill/" + id }

// Create implements domain.Store.
func (s *Store) Create(ctx context.Context, b domain.Bill) error {
	raw, err := json.Marshal(toRecord(b))
	if err != nil {
		return err
	}
	err = s.state.Insert(ctx, s.name, key(b.ID), raw, 0)
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
	var r record
	if err := json.Unmarshal(it.Value, &r); err != nil {
		return domain.Bill{}, "", fmt.Errorf("decoding bill %s: %w", id, err)
	}
	return r.bill(), it.ETag, nil
}

// Get implements domain.Store.
func (s *Store) Get(ctx context.Context, id string) (domain.Bill, error) {
	b, _, err := s.load(ctx, id)
	return b, err
}

// Update implements domain.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*domain.Bill) (bool, error)) (domain.Bill, error) {
	r, err := sidecar.Update(ctx, s.state, s.name, key(id), func(r *record, found bool) error {
		if !found {
			return domain.ErrBillNotFound
		}
		b := r.bill()
		changed, err := fn(&b)
		if err != nil {
			return err
		}
		if !changed {
			return sidecar.ErrNoChange
		}
		*r = toRecord(b)
		return nil
	})
	if err != nil {
		return domain.Bill{}, err
	}
	return r.bill(), nil
}
