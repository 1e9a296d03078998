// Package store is the gateway's own state (its Dapr state store,
// gateway-store): idempotency records, kept 24 hours. A key has two
// entries: idem/<token> says the request is running (written once,
// atomically, by the first request) and idem/<token>/answer holds its
// answer (written once, blindly, when it has one). Splitting them makes the
// common path one insert and one blind write, with no read in between.
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
	BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error)
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

func key(token string) string       { return "idem/" + token }
func answerKey(token string) string { return "idem/" + token + "/answer" }

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

// Get returns what is known of token in one round trip: the answer if
// there is one (Done), otherwise the running record and its ETag; found is
// false when there is neither.
func (s *Idempotency) Get(ctx context.Context, token string) (rec domain.Record, etag string, found bool, err error) {
	items, err := s.state.BulkGet(ctx, s.name, []string{answerKey(token), key(token)})
	if err != nil {
		return domain.Record{}, "", false, err
	}
	for _, it := range items {
		if !it.Found() {
			continue
		}
		if err := json.Unmarshal(it.Value, &rec); err != nil {
			return domain.Record{}, "", false, fmt.Errorf("decoding idempotency record %s: %w", it.Key, err)
		}
		return rec, it.ETag, true, nil
	}
	return domain.Record{}, "", false, nil
}

// TakeOver replaces a running record read with etag, only if it is
// unchanged (sidecar.ErrETagMismatch otherwise): of two retries that find
// the same dead request, one runs it.
func (s *Idempotency) TakeOver(ctx context.Context, token string, rec domain.Record, etag string) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.state.SaveTTL(ctx, s.name, key(token), raw, etag, s.ttlSeconds)
}

// Finish keeps the answer of the request identified by token.
func (s *Idempotency) Finish(ctx context.Context, token string, rec domain.Record) error {
	rec.Done = true
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.state.SaveTTL(ctx, s.name, answerKey(token), raw, "", s.ttlSeconds)
}

// Abandon removes the record of a request whose outcome is unknown, so a
// retry runs it again (the services de-duplicate it by its token).
func (s *Idempotency) Abandon(ctx context.Context, token string) error {
	return s.state.Delete(ctx, s.name, key(token), "")
}
