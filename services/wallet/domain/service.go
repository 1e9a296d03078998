package domain

import (
	"context"
	"time"
)

// Service is what the wallet API does, on top of a Store.
type Service struct {
	Store Store
	Users Users
	Now   func() time.Time
}

// Create opens an empty wallet for an existing user. Returns
// ErrUserNotFound, ErrWalletExists.
func (s *Service) Create(ctx context.Context, userID string) (Wallet, error) {
	ok, err := s.Users.Exists(ctx, userID)
	if err != nil {
		return Wallet{}, err
	}
	if !ok {
		return Wallet{}, ErrUserNotFound
	}
	w := NewWallet(userID, s.Now())
	if err := s.Store.Create(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// ReversalPrefix marks the credit that gives a debit back.
const ReversalPrefix = "reversal:"

// Reverse gives back the debit made with reference ref, once: it credits
// the debited amount with reference "reversal:<ref>". It reports false when
// no such debit exists (nothing to give back). Returns ErrWalletNotFound.
func (s *Service) Reverse(ctx context.Context, userID, ref string) (Result, bool, error) {
	debit, found, err := s.Store.FindReference(ctx, userID, ref)
	if err != nil || !found || debit.Type != Debit {
		return Result{}, false, err
	}
	res, err := s.Store.Apply(ctx, userID, Operation{Type: Credit, Amount: debit.Amount, Reference: ReversalPrefix + ref})
	if err != nil {
		return Result{}, false, err
	}
	return res, true, nil
}
