package domain

import (
	"context"
	"errors"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// TopUp starts a wallet top-up through Razorpay, on behalf of the wallet's
// owner (or an admin): a PENDING top-up (id top_...) with a Razorpay order
// of its own for the client's checkout. It
// takes the very path of a Razorpay bill payment (the signed webhook
// through pub/sub, or reconciliation; late and duplicate captures) and, on
// a verified capture of its own order, credits the wallet exactly once for
// exactly the captured amount (ledger reference: the top-up's id); the
// wallet is never touched before. A keyed request derives the top-up's id,
// so a retry returns the same top-up.
//
// Returns VALIDATION_FAILED (user_id missing or not a user id, a bad
// amount, one below MinRazorpayAmount), auth errors, ErrWalletNotFound, ErrGatewayUnavailable (503: the order cannot be made now; asking again
// makes it), contract.ErrGatewayRefused (the top-up FAILED).
func (pr *Processor) TopUp(ctx context.Context, caller auth.Caller, userID string, amount money.Amount, idempotencyToken string) (Payment, error) {
	switch {
	case userID == "":
		return Payment{}, apperr.Invalid("user_id", "user_id is required: the user whose wallet to top up")
	case !id.Valid(id.User, userID):
		return Payment{}, apperr.Invalid("user_id", "user_id must be a user id (usr_...)")
	}
	if err := caller.Owner(userID); err != nil {
		return Payment{}, err
	}
	if err := amount.Validate(); err != nil {
		return Payment{}, err
	}
	if amount.Paise() < MinRazorpayAmount {
		return Payment{}, apperr.Invalid("amount", "a top-up goes through Razorpay, which takes %d paise (₹1.00) or more; %d asked", MinRazorpayAmount, amount.Paise())
	}
	topupID := id.New(id.TopUp)
	if idempotencyToken != "" {
		topupID = id.Derive(id.TopUp, idempotencyToken)
		if p, err := pr.Store.Get(ctx, topupID); err == nil {
			if p.UserID != userID || p.Amount != amount.Paise() {
				return Payment{}, ErrKeyReused.With("this Idempotency-Key was used for a different top-up", nil)
			}
			return pr.withOrder(ctx, p)
		} else if !errors.Is(err, ErrPaymentNotFound) {
			return Payment{}, err
		}
	}
	var exists bool
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		exists, err = pr.Wallets.Exists(ctx, userID)
		return err
	})
	if err != nil {
		return Payment{}, pr.unavailable("wallet", "asking whether "+userID+" has a wallet", err)
	}
	if !exists {
		return Payment{}, ErrWalletNotFound.With("user "+userID+" has no wallet to top up", map[string]any{"user_id": userID})
	}
	p := NewRazorpayPayment(topupID, Bill{UserID: userID, Amount: amount.Paise(), Currency: money.INR}, pr.Now())
	p.Purpose, p.TopUpID = PurposeTopUp, topupID
	p, err = pr.Store.Create(ctx, p)
	if errors.Is(err, ErrPaymentExists) {
		return pr.TopUp(ctx, caller, userID, amount, idempotencyToken)
	} else if err != nil {
		return Payment{}, err
	}
	pr.Log.InfoContext(ctx, "top-up started", "topup_id", topupID, "user_id", userID, "amount", p.Amount)
	return pr.withOrder(ctx, p)
}

// GetTopUp returns a top-up to its owner or an admin. Returns
// ErrTopUpNotFound (a malformed id included) and auth errors.
func (pr *Processor) GetTopUp(ctx context.Context, caller auth.Caller, topupID string) (Payment, error) {
	if !id.Valid(id.TopUp, topupID) {
		return Payment{}, ErrTopUpNotFound
	}
	p, err := pr.Store.Get(ctx, topupID)
	if errors.Is(err, ErrPaymentNotFound) || err == nil && p.Purpose != PurposeTopUp {
		return Payment{}, ErrTopUpNotFound
	}
	if err != nil {
		return Payment{}, err
	}
	if err := caller.Owner(p.UserID); err != nil {
		return Payment{}, err
	}
	return p, nil
}
