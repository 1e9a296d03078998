package store

import (
	"context"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/payment/domain"
)

func refundClaimKey(refundID string) string { return "refund/" + refundID }

// ClaimRefund implements domain.RefundClaims: refund/<id> binds a keyed
// refund's id to its payment and request. It is inserted once, before the
// refund is recorded, and never changed: a second claim reads back the
// first.
func (s *Store) ClaimRefund(ctx context.Context, refundID string, c domain.RefundClaim) (domain.RefundClaim, error) {
	return sidecar.Bind(ctx, s.state, s.name, refundClaimKey(refundID), c)
}

func captureKey(gw string) string { return "capture/" + gw }

// BindCapture implements domain.Store: capture/<gateway payment id> binds a
// Razorpay capture to the order it was captured on. It is inserted once,
// before the capture is recorded on any payment, and never changed: a
// second binding reads back the first.
func (s *Store) BindCapture(ctx context.Context, gw, orderID string) (string, error) {
	return sidecar.Bind(ctx, s.state, s.name, captureKey(gw), orderID)
}
