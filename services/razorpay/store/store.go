// Package store records, in the razorpay service's own Dapr state store,
// every gateway transaction FinFlow made: orders (order/<id>, and
// order-for/<payment> so a payment gets at most one), webhook events that
// were handled (event/<id>, kept 30 days for de-duplication) and refunds
// (refund/<key>: a FinFlow refund id, or the payment id of a capture
// given back whole).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// State is what the store needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// eventTTL is how long published event ids are remembered: longer than
// Razorpay's 24 hours of retries.
const eventTTL = 30 * 24 * 60 * 60

// Store is the Dapr-backed domain.Store.
type Store struct {
	state State
	name  string
}

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store { return &Store{state: state, name: name} }

func (s *Store) get(ctx context.Context, key string, v any) (bool, error) {
	it, err := s.state.Get(ctx, s.name, key)
	if err != nil || !it.Found() {
		return false, err
	}
	if err := json.Unmarshal(it.Value, v); err != nil {
		return false, fmt.Errorf("decoding %s: %w", key, err)
	}
	return true, nil
}

// SaveOrder implements domain.Store: the order itself first, written if
// absent, then the payment's pointer to it, written if absent. An order id
// already recorded for another payment is never overwritten
// (domain.ErrOrderIDInUse): order/<id> is how a capture finds the payment
// it pays. A payment racing itself keeps the first order; the other stays
// unused at the gateway.
func (s *Store) SaveOrder(ctx context.Context, o domain.Order) (domain.Order, bool, error) {
	raw, _ := json.Marshal(o)
	err := s.state.Insert(ctx, s.name, "order/"+o.OrderID, raw, 0)
	if errors.Is(err, sidecar.ErrExists) {
		held, gerr := s.Order(ctx, o.OrderID)
		if gerr != nil {
			return domain.Order{}, false, fmt.Errorf("recording order: %w", gerr)
		}
		if held.PaymentID != o.PaymentID {
			return domain.Order{}, false, fmt.Errorf("recording order %s for %s: %w (%s)", o.OrderID, o.PaymentID, domain.ErrOrderIDInUse, held.PaymentID)
		}
		err = nil // the same payment's retry: its own order
	}
	if err != nil {
		return domain.Order{}, false, fmt.Errorf("recording order: %w", err)
	}
	err = s.state.Insert(ctx, s.name, "order-for/"+o.PaymentID, raw, 0)
	if errors.Is(err, sidecar.ErrExists) {
		kept, _, gerr := s.OrderForPayment(ctx, o.PaymentID)
		return kept, true, gerr
	}
	if err != nil {
		return domain.Order{}, false, fmt.Errorf("recording order: %w", err)
	}
	return o, false, nil
}

// OrderForPayment implements domain.Store.
func (s *Store) OrderForPayment(ctx context.Context, paymentID string) (domain.Order, bool, error) {
	var o domain.Order
	found, err := s.get(ctx, "order-for/"+paymentID, &o)
	return o, found, err
}

// Order implements domain.Store.
func (s *Store) Order(ctx context.Context, orderID string) (domain.Order, error) {
	var o domain.Order
	found, err := s.get(ctx, "order/"+orderID, &o)
	if err != nil {
		return domain.Order{}, err
	}
	if !found {
		return domain.Order{}, domain.ErrOrderNotFound
	}
	return o, nil
}

// EventSeen implements domain.Store.
func (s *Store) EventSeen(ctx context.Context, eventID string) (bool, error) {
	it, err := s.state.Get(ctx, s.name, "event/"+eventID)
	return it.Found(), err
}

// MarkEvent implements domain.Store: event/<id> is inserted if absent
// (remembered for eventTTL), so of deliveries of one event racing each
// other exactly one records it first.
func (s *Store) MarkEvent(ctx context.Context, eventID string, r domain.Result) (bool, error) {
	raw, _ := json.Marshal(r)
	err := s.state.Insert(ctx, s.name, "event/"+eventID, raw, eventTTL)
	if errors.Is(err, sidecar.ErrExists) {
		return false, nil
	}
	return err == nil, err
}

// SaveRefund implements domain.Store.
func (s *Store) SaveRefund(ctx context.Context, r contract.Refund) error {
	raw, _ := json.Marshal(r)
	return s.state.Save(ctx, s.name, "refund/"+r.Key, raw, "")
}

// RefundByKey implements domain.Store. Refunds recorded before keys
// existed are under their payment id, which is their key.
func (s *Store) RefundByKey(ctx context.Context, key string) (contract.Refund, bool, error) {
	var r contract.Refund
	found, err := s.get(ctx, "refund/"+key, &r)
	if found && r.Key == "" {
		r.Key = r.PaymentID
	}
	return r, found, err
}
