package store

import (
	"context"

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

// BindKey implements domain.Store (sidecar.Bind).
func (s *Store) BindKey(ctx context.Context, keyID string, use domain.KeyUse) (domain.KeyUse, error) {
	held, err := sidecar.Bind(ctx, s.state, s.name, keyKey(keyID), keyUse(use))
	return domain.KeyUse(held), err
}
