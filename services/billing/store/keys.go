package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/billing/domain"
)

// keyUse is the request an Idempotency-Key is bound to, as stored
// (key/<key id>).
type keyUse struct {
	Action         string `json:"action"`
	SubscriptionID string `json:"subscription_id,omitempty"`
}

func keyKey(keyID string) string { return "key/" + keyID }

// BindKey implements domain.Subscriptions: one insert if absent, and a
// read only when the key was bound before.
func (s *Subscriptions) BindKey(ctx context.Context, keyID string, use domain.KeyUse) (domain.KeyUse, error) {
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
