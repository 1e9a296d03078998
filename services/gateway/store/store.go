// Package store is the gateway's own state (its Dapr state store,
// gateway-store): idempotency records, one key per caller and
// Idempotency-Key (idem/<token>), kept 24 hours.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/domain"
)

// State is what the store needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	SaveTTL(ctx context.Context, store, key string, value []byte, etag string, ttlSeconds int) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
	Delete(ctx context.Context, store, key, etag string) error
}

// Idempotency keeps idempotency records.
type Idempotency struct {
	state      State
	name       string
	ttlSeconds int
}

// New returns the store; records expire after ttlSeconds.
func New(state State, name string, ttlSeconds int) *Idempotency {
	return &Idempotency{state: state, name: name, ttlSeconds: ttlSeconds}
}

func key(token string) string { return "idem/" + token }

// Begin records that the request identified by token is running, if no
// record exists (atomically). Returns domain.ErrRecordExists otherwise.
func (s *Idempotency) Begin(ctx context.Context, token string, rec domain.Record) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = s.state.Insert(ctx, s.name, key(token), raw, s.ttlSeconds)
	if errors.Is(err, sidecar.ErrExists) {
		return domain.ErrRecordExists
	}
	if err != nil {
		return fmt.Errorf("recording idempotency key: %w", err)
	}
	return nil
}

// Get returns the record and its ETag; found is false when there is none.
func (s *Idempotency) Get(ctx context.Context, token string) (rec domain.Record, etag string, found bool, err error) {
	it, err := s.state.Get(ctx, s.name, key(token))
	if err != nil || !it.Found() {
		return domain.Record{}, "", false, err
	}
	if err := json.Unmarshal(it.Value, &rec); err != nil {
		return domain.Record{}, "", false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return rec, it.ETag, true, nil
}

// Put writes the record, only if it is unchanged since it was read with
// etag (sidecar.ErrETagMismatch otherwise). With an empty etag it reads the
// current one first: a record made by Begin can only be changed with its
// ETag (Dapr's Redis store marks insert-if-absent keys first-write).
func (s *Idempotency) Put(ctx context.Context, token string, rec domain.Record, etag string) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if etag == "" {
		it, err := s.state.Get(ctx, s.name, key(token))
		if err != nil {
			return err
		}
		etag = it.ETag
	}
	return s.state.SaveTTL(ctx, s.name, key(token), raw, etag, s.ttlSeconds)
}

// Abandon removes the record of a request whose outcome is unknown, so a
// retry runs it again (the services de-duplicate it by its token).
func (s *Idempotency) Abandon(ctx context.Context, token string) error {
	return s.state.Delete(ctx, s.name, key(token), "")
}
