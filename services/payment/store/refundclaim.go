package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/payment/domain"
)

func refundClaimKey(refundID string) string { return "refund/" + refundID }

// ClaimRefund implements domain.RefundClaims: refund/<id> binds a keyed
// refund's id to its payment and request. It is inserted once, before the
// refund is recorded, and never changed: a second claim reads back the
// first.
func (s *Store) ClaimRefund(ctx context.Context, refundID string, c domain.RefundClaim) (domain.RefundClaim, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return domain.RefundClaim{}, err
	}
	err = s.state.Insert(ctx, s.name, refundClaimKey(refundID), raw, 0)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sidecar.ErrExists) {
		return domain.RefundClaim{}, fmt.Errorf("claiming refund id: %w", err)
	}
	it, err := s.state.Get(ctx, s.name, refundClaimKey(refundID))
	if err != nil {
		return domain.RefundClaim{}, fmt.Errorf("reading refund id claim: %w", err)
	}
	if !it.Found() {
		return domain.RefundClaim{}, fmt.Errorf("refund id claim %s exists and is not found", refundID)
	}
	var held domain.RefundClaim
	if err := json.Unmarshal(it.Value, &held); err != nil {
		return domain.RefundClaim{}, fmt.Errorf("decoding refund id claim: %w", err)
	}
	return held, nil
}
