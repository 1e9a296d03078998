package domain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/peers"
	"github.com/finflow/finflow/platform/settings"
)

// Runtime settings of the wallet service.
const (
	SettingTxDefaultLimit = "wallet.transactions.default_limit"
	SettingTxMaxLimit     = "wallet.transactions.max_limit"
)

// Settings declares the wallet service's runtime settings.
var Settings = []settings.Int{
	{Key: SettingTxDefaultLimit, Default: 20, Min: 1, Max: 1000},
	{Key: SettingTxMaxLimit, Default: 200, Min: 1, Max: 1000},
}

// Service is the wallet service's use cases, on top of a Store.
type Service struct {
	Store Store
	Users Users
	Log   *slog.Logger
	Now   func() time.Time
	// Setting reads a runtime setting (Settings).
	Setting func(key string) int64
}

// Create opens an empty wallet for an existing user, on behalf of that user
// or an admin. A keyed request (idempotencyToken, the gateway's token of an
// Idempotency-Key, or "") binds its key to this user's wallet: its retry
// gets the wallet it opened again, and the key used for anything else is
// ErrKeyReused, even when the gateway kept no record of it. Returns
// ErrUserNotFound (a malformed id included), ErrWalletExists,
// ErrKeyReused, auth errors.
func (s *Service) Create(ctx context.Context, caller auth.Caller, userID, idempotencyToken string) (Wallet, error) {
	if !id.Valid(id.User, userID) {
		return Wallet{}, ErrUserNotFound
	}
	if err := caller.Owner(userID); err != nil {
		return Wallet{}, err
	}
	if err := peers.RequireUser(ctx, s.Users, userID); err != nil {
		return Wallet{}, err
	}
	w := NewWallet(userID, s.Now())
	if idempotencyToken != "" {
		w.OpenedBy = KeyID(idempotencyToken)
		if err := s.bindKey(ctx, w.OpenedBy, KeyUse{Action: "create", UserID: userID}); err != nil {
			return Wallet{}, err
		}
	}
	err := s.Store.Create(ctx, w)
	if errors.Is(err, ErrWalletExists) && w.OpenedBy != "" {
		// Opened by an earlier attempt of this request, or before it.
		prev, gerr := s.Store.Get(ctx, userID)
		if gerr != nil {
			return Wallet{}, gerr
		}
		if prev.OpenedBy == w.OpenedBy {
			return prev, nil
		}
	}
	if err != nil {
		return Wallet{}, err
	}
	s.Log.InfoContext(ctx, "wallet created", "user_id", userID)
	return w, nil
}

// bindKey binds the key keyID to the request use, or returns ErrKeyReused
// when it is bound to another one.
func (s *Service) bindKey(ctx context.Context, keyID string, use KeyUse) error {
	first, err := s.Store.BindKey(ctx, keyID, use)
	if err != nil {
		return err
	}
	if first != use {
		return ErrKeyReused.With("this Idempotency-Key was used for a different request: "+first.describe(), nil)
	}
	return nil
}

// describe says what request a key was used for, in the words of the
// routes, without echoing another wallet's user id.
func (u KeyUse) describe() string {
	if u.Action == "create" {
		return "opening a wallet"
	}
	return fmt.Sprintf("a top-up of %d", u.Amount)
}

// Balance returns a wallet to its owner, an admin, or the payment service
// (which checks a wallet exists before a top-up). Returns
// ErrWalletNotFound (a malformed id included), auth errors.
func (s *Service) Balance(ctx context.Context, caller auth.Caller, userID string) (Wallet, error) {
	if !id.Valid(id.User, userID) {
		return Wallet{}, ErrWalletNotFound
	}
	if err := caller.OwnerOrApp(userID, contract.AppPayment); err != nil {
		return Wallet{}, err
	}
	return s.Store.Get(ctx, userID)
}

// Transactions returns a page of a wallet's ledger, newest first, to its
// owner or an admin. limit is the query's ("" for the default setting).
// Returns ErrWalletNotFound, ErrInvalidCursor, VALIDATION_FAILED.
func (s *Service) Transactions(ctx context.Context, caller auth.Caller, userID, cursor, limit string) (TxPage, error) {
	if !id.Valid(id.User, userID) {
		return TxPage{}, ErrWalletNotFound
	}
	if err := caller.Owner(userID); err != nil {
		return TxPage{}, err
	}
	n, err := page.Limit(limit, s.Setting(SettingTxDefaultLimit), s.Setting(SettingTxMaxLimit))
	if err != nil {
		return TxPage{}, err
	}
	return s.Store.Transactions(ctx, userID, cursor, n)
}

// ChangeRequest is a top-up or a debit as asked: Amount in paise, Currency
// nil or INR, Reference optional for a top-up (then the Idempotency-Key's
// token, if any, stands in) and required for a debit.
type ChangeRequest struct {
	UserID           string
	Amount           money.Amount
	Currency         *string
	Reference        *string
	IdempotencyToken string
}

// operation validates a change request as an operation of type typ.
func (r ChangeRequest) operation(typ TxType) (Operation, error) {
	if r.UserID == "" {
		return Operation{}, apperr.Invalid("user_id", "user_id is required")
	}
	if !id.Valid(id.User, r.UserID) {
		return Operation{}, apperr.Invalid("user_id", "user_id %q is not a user id (usr_...)", r.UserID)
	}
	if err := money.CheckCurrency(r.Currency); err != nil {
		return Operation{}, err
	}
	op := Operation{Type: typ, Amount: r.Amount.Paise()}
	if r.Reference != nil {
		op.Reference = *r.Reference
		if op.Reference == "" {
			return Operation{}, apperr.Invalid("reference", "reference must not be empty")
		}
	} else if r.IdempotencyToken != "" && typ == Credit {
		// A keyed top-up without a reference uses the key's token as one, so
		// the wallet itself never applies it twice, even when the gateway
		// kept no record of the key (its answer was lost).
		op.Reference = keyPrefix + r.IdempotencyToken
	}
	return op, op.Validate()
}

// TopUp credits a wallet (an admin's request; users top up through
// Razorpay), at most once per reference. A keyed top-up binds its key to
// this request (wallet, amount, reference) before anything is applied, so
// the key used again for another wallet, amount or reference is
// ErrKeyReused, even when the gateway kept no record of it (a reference
// derived from the key is per wallet, and alone would let another wallet
// take the credit again). Returns VALIDATION_FAILED, auth errors,
// ErrWalletNotFound, ErrBalanceLimit, ErrReferenceReused (a client's
// reference), ErrKeyReused.
func (s *Service) TopUp(ctx context.Context, caller auth.Caller, req ChangeRequest) (Result, error) {
	if err := caller.Admin(); err != nil {
		return Result{}, err
	}
	if req.Reference != nil && ownReference(*req.Reference) {
		return Result{}, apperr.Invalid("reference", "reference %q is in FinFlow's own namespace (its ids and %q, %q): choose another", apperr.Printable(*req.Reference, 64), ReversalPrefix, keyPrefix)
	}
	if req.IdempotencyToken == "" {
		return s.apply(ctx, req, Credit)
	}
	op, err := req.operation(Credit)
	if err != nil {
		return Result{}, err
	}
	use := KeyUse{Action: "add", UserID: req.UserID, Amount: op.Amount}
	if req.Reference != nil {
		use.Reference = *req.Reference
	}
	if err := s.bindKey(ctx, KeyID(req.IdempotencyToken), use); err != nil {
		return Result{}, err
	}
	res, err := s.apply(ctx, req, Credit)
	if errors.Is(err, ErrReferenceReused) && req.Reference == nil {
		// The reference came from the key (an entry applied before keys
		// were bound): the key was used for another amount.
		return Result{}, ErrKeyReused.With("this Idempotency-Key was used for a different top-up", nil)
	}
	return res, err
}

// Credit puts money into a wallet for the payment service (a top-up
// captured through Razorpay, a refund of a wallet payment), at most once per
// reference, which is required; a reference refused past the balance
// limit stays refused (Store.Apply). Returns VALIDATION_FAILED,
// ErrWalletNotFound, ErrBalanceLimit, ErrReferenceReused.
func (s *Service) Credit(ctx context.Context, req ChangeRequest) (Result, error) {
	if req.Reference == nil {
		return Result{}, apperr.Invalid("reference", "reference is required (the top-up's or refund's id)")
	}
	return s.apply(ctx, req, Credit)
}

// Debit takes money from a wallet for a payment (the payment service's
// internal request), at most once per reference; a reference refused for
// insufficient funds or for having no wallet stays refused (Store.Apply).
// Returns VALIDATION_FAILED, ErrWalletNotFound, ErrInsufficientFunds,
// ErrReferenceReused.
func (s *Service) Debit(ctx context.Context, req ChangeRequest) (Result, error) {
	return s.apply(ctx, req, Debit)
}

func (s *Service) apply(ctx context.Context, req ChangeRequest, typ TxType) (Result, error) {
	op, err := req.operation(typ)
	if err != nil {
		return Result{}, err
	}
	res, err := s.Store.Apply(ctx, req.UserID, op)
	if err != nil {
		return Result{}, err
	}
	s.Log.InfoContext(ctx, "wallet changed", "user_id", req.UserID, "type", op.Type, "amount", op.Amount,
		"reference", op.Reference, "replayed", res.Replayed, "balance", res.Wallet.Balance)
	return res, nil
}

// ReversalPrefix marks the credit that gives a debit back.
const ReversalPrefix = "reversal:"

// Reverse gives back the debit made with reference ref, once: it credits
// the debited amount with reference "reversal:<ref>". It reports false when
// no such debit exists (nothing to give back). Returns VALIDATION_FAILED,
// ErrWalletNotFound.
func (s *Service) Reverse(ctx context.Context, userID, ref string) (Result, bool, error) {
	if !id.Valid(id.User, userID) {
		return Result{}, false, apperr.Invalid("user_id", "user_id must be a user id (usr_...)")
	}
	if err := ValidateReference(ref, true); err != nil {
		return Result{}, false, err
	}
	debit, found, err := s.Store.FindReference(ctx, userID, ref)
	if err != nil || !found || debit.Type != Debit {
		return Result{}, false, err
	}
	res, err := s.Store.Apply(ctx, userID, Operation{Type: Credit, Amount: debit.Amount, Reference: ReversalPrefix + ref})
	if err != nil {
		return Result{}, false, err
	}
	s.Log.InfoContext(ctx, "debit reversed", "user_id", userID, "reference", ref, "amount", res.Tx.Amount, "replayed", res.Replayed)
	return res, true, nil
}

// keyPrefix marks the reference a keyed top-up without one is given.
const keyPrefix = "idem:"

// ownReference reports whether ref is in the namespace of the references
// FinFlow writes itself: a payment's debit (pay_...), a top-up's or a
// refund's credit (top_..., rfd_...), a reversal ("reversal:..."), a keyed
// top-up's ("idem:..."), or any other FinFlow id. An admin's top-up under
// one of them would take the place of FinFlow's own entry: a top-up
// captured later was refused as DUPLICATE_REFERENCE and its money refunded
// at Razorpay, and the console read a reversal with no debit.
func ownReference(ref string) bool {
	if strings.HasPrefix(ref, ReversalPrefix) || strings.HasPrefix(ref, keyPrefix) {
		return true
	}
	for _, prefix := range id.Prefixes {
		if strings.HasPrefix(ref, prefix+"_") {
			return true
		}
	}
	return false
}
