package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/finflow/finflow/services/gateway/domain"
)

// ConsoleSessions keeps the ops console's sign-ins in the gateway's state
// store, each expiring with its session. A session is stored under the
// SHA-256 of its id, so what the store holds cannot be replayed as a
// cookie.
type ConsoleSessions struct {
	state State
	name  string
}

// NewConsoleSessions returns the sessions kept in the state store name.
func NewConsoleSessions(state State, name string) *ConsoleSessions {
	return &ConsoleSessions{state: state, name: name}
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "console/session/" + hex.EncodeToString(sum[:])
}

// Create stores session s under id for ttlSeconds. The id is 256 random
// bits, so the write is a plain one (no insert-if-absent): retrying it
// after a lost answer is harmless.
func (s *ConsoleSessions) Create(ctx context.Context, id string, sess domain.ConsoleSession, ttlSeconds int) error {
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
// domain.ErrConsoleSessionUnreadable.
func (s *ConsoleSessions) Get(ctx context.Context, id string) (sess domain.ConsoleSession, found bool, err error) {
	items, err := s.state.BulkGet(ctx, s.name, []string{sessionKey(id)})
	if err != nil {
		return domain.ConsoleSession{}, false, fmt.Errorf("reading the console session: %w", err)
	}
	if len(items) != 1 || !items[0].Found() {
		return domain.ConsoleSession{}, false, nil
	}
	if err := json.Unmarshal(items[0].Value, &sess); err != nil {
		return domain.ConsoleSession{}, false, fmt.Errorf("%w: %w", domain.ErrConsoleSessionUnreadable, err)
	}
	return sess, true, nil
}

// Delete ends the session id names; ending one that does not exist is not
// an error.
func (s *ConsoleSessions) Delete(ctx context.Context, id string) error {
	if err := s.state.Delete(ctx, s.name, sessionKey(id), ""); err != nil {
		return fmt.Errorf("ending the console session: %w", err)
	}
	return nil
}
