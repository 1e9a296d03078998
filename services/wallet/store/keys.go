package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/wallet/domain"
)

// keyUse is a key's request as stored (key/<key id>).
type keyUse struct {
	Action    string `json:"action"`
	UserID    string `json:"user_id"`
	Amount    int64  `json:"amount,omitempty"`
	Reference string `json:"reference,omitempty"`
}

func keyKey(keyID string) string { return "key/" + keyID }

// BindKey implements domain.Store: one insert if absent, and a read only
// when the key was bound before.
func (s *Store) BindKey(ctx context.Context, keyID string, use domain.KeyUse) (domain.KeyUse, error) {
	raw, err := json.Marshal(keyUse(use))
	if err != nil {
		return domain.KeyUse{}, fmt.Errorf("encoding key use: %w", err)
	}
	err = s.state.Insert(ctx, s.name, keyKey(keyID), raw, 0)
	if err == nil {
		return use, nil
	}
	if !errors.Is(err, sidecar.ErrExists) {
		return domain.KeyUse{}, fmt.Errorf("binding idempotency key: %w", err)
	}
	it, err := s.state.Get(ctx, s.name, keyKey(keyID))
	if err != nil {
		return domain.KeyUse{}, fmt.Errorf("reading idempotency key: %w", err)
	}
	if !it.Found() {
		// Bound keys are never deleted.
		return domain.KeyUse{}, fmt.Errorf("idempotency key %s vanished after a conflict", keyID)
	}
	var first keyUse
	if err := json.Unmarshal(it.Value, &first); err != nil {
		return domain.KeyUse{}, fmt.Errorf("decoding idempotency key %s: %w", keyID, err)
	}
	return domain.KeyUse(first), nil
}
