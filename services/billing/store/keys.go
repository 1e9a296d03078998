package store

import (
	"context"

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

// BindKey implements domain.Subscriptions (sidecar.Bind).
func (s *Subscriptions) BindKey(ctx context.Context, keyID string, use domain.KeyUse) (domain.KeyUse, error) {
	held, err := sidecar.Bind(ctx, s.state, s.name, keyKey(keyID), keyUse(use))
	return domain.KeyUse(held), err
}
