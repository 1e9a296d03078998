// Package store keeps the ops console's sign-ins in the gateway's Dapr
// state store (gateway-store), through the gateway's sidecar.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/console/domain"
)

// State is what the sessions need from the Dapr sidecar.
type State interface {
	BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error)
	SaveTTL(ctx context.Context, store, key string, value []byte, etag string, ttlSeconds int) error
	Delete(ctx context.Context, store, key, etag string) error
}

// Sessions keeps the ops console's sign-ins in the gateway's state
// store, each expiring with its session. A session is stored under the
// SHA-256 of its id, so what the store holds cannot be replayed as a
// cookie.
type Sessions struct {
	state State
	name  string
}

// NewSessions returns the sessions kept in the state store name.
func NewSessions(state State, name string) *Sessions {
	return &Sessions{state: state, name: name}
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "console/session/" + hex.EncodeToString(sum[:])
}

// Create stores sess under id for ttlSeconds. The id is 256 random
// bits, so the write is a plain one (no insert-if-absent): retrying it
// after a lost answer is harmless.
func (s *Sessions) Create(ctx context.Context, id string, sess domain.Session, ttlSeconds int) error {
	raw, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	if err := s.state.SaveTTL(ctx, s.name, sessionKey(id), raw, "", ttlSeconds); err != nil {
		return fmt.Errorf("storing the console session: %w", err)
	}
	return nil
}

// Get returns the session id names; found is false if there is none (never
// created, signed out, or expired). A record that does not decode gives
// domain.ErrSessionUnreadable.
func (s *Sessions) Get(ctx context.Context, id string) (sess domain.Session, found bool, err error) {
	items, err := s.state.BulkGet(ctx, s.name, []string{sessionKey(id)})
	if err != nil {
		return domain.Session{}, false, fmt.Errorf("reading the console session: %w", err)
	}
	if len(items) != 1 || !items[0].Found() {
		return domain.Session{}, false, nil
	}
	if err := json.Unmarshal(items[0].Value, &sess); err != nil {
		return domain.Session{}, false, fmt.Errorf("%w: %w", domain.ErrSessionUnreadable, err)
	}
	return sess, true, nil
}

// Delete ends the session id names; ending one that does not exist is not
// an error.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	if err := s.state.Delete(ctx, s.name, sessionKey(id), ""); err != nil {
		return fmt.Errorf("ending the console session: %w", err)
	}
	return nil
}
