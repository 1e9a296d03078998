// Package domain holds FinFlow's wallet model and its rules: a balance in
// int64 paise that never goes negative, changed only by a ledger entry
// (CREDIT or DEBIT) applied at most once per reference.
package domain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// TxType is the direction of a ledger entry.
type TxType string

// The two ledger entry types.
const (
	Credit TxType = "CREDIT"
	Debit  TxType = "DEBIT"
)

// Wallet is a user's balance. UserID identifies it (one wallet per user).
type Wallet struct {
	UserID    string
	Currency  string
	Balance   int64
	CreatedAt time.Time
	// OpenedBy is KeyID of the Idempotency-Key token of the keyed request
	// that opened the wallet, "" if none: a retry of that request finds
	// its own wallet.
	OpenedBy string
}

// Transaction is one ledger entry. Seq numbers a wallet's entries 1, 2, 3,
// ... in the order they were applied.
type Transaction struct {
	ID           string
	Seq          int64
	Type         TxType
	Amount       int64
	BalanceAfter int64
	Reference    string
	CreatedAt    time.Time
}

// Errors returned by the wallet service.
var (
	ErrWalletNotFound    = contract.ErrWalletNotFound
	ErrWalletExists      = apperr.New(apperr.KindConflict, "WALLET_EXISTS", "this user already has a wallet")
	ErrUserNotFound      = contract.ErrUserNotFound
	ErrInsufficientFunds = contract.ErrInsufficientFunds
	// ErrReferenceReused is a reference that was already applied with a
	// different type or amount: not a retry, and not applied again.
	ErrReferenceReused = apperr.New(apperr.KindConflict, "DUPLICATE_REFERENCE", "this reference was already used for a different transaction")
	ErrInvalidCursor   = apperr.Invalid("cursor", "cursor is not one this server issued")
	// ErrBalanceLimit is a credit that would take the balance past the
	// largest int64 number of paise.
	ErrBalanceLimit = apperr.New(apperr.KindUnprocessable, "BALANCE_LIMIT", "this credit would overflow the wallet balance")
	// ErrKeyReused is a keyed request whose key was first used for another
	// request (another wallet, amount, reference or route).
	ErrKeyReused = apperr.New(apperr.KindUnprocessable, contract.CodeIdempotencyKeyReused, "this Idempotency-Key was used for a different request")
)

// KeyUse is the request an Idempotency-Key was first used for in the
// wallet service. The gateway scopes keys per caller, not per route or
// wallet, so one key names one request across all wallets and routes.
type KeyUse struct {
	// Action is "create" (POST /wallet/create) or "add" (POST /wallet/add).
	Action string
	UserID string
	Amount int64
	// Reference is the client's reference of an add, "" when it gave none.
	Reference string
}

// KeyID is the form under which the wallet service keeps an Idempotency-Key
// token: a hash, so that the token itself is never stored.
func KeyID(token string) string {
	sum := sha256.Sum256([]byte("wallet-key:" + token))
	return hex.EncodeToString(sum[:16])
}

// MaxReferenceLen bounds a reference's length.
const MaxReferenceLen = 128

// NewWallet returns an empty INR wallet for a user.
func NewWallet(userID string, now time.Time) Wallet {
	return Wallet{UserID: userID, Currency: money.INR, CreatedAt: now.UTC().Truncate(time.Millisecond)}
}

// Operation is a change asked of a wallet.
type Operation struct {
	Type      TxType
	Amount    int64
	Reference string // "" when the caller gave none (then it is never de-duplicated)
}

// Validate checks an operation before any store is touched.
func (op Operation) Validate() error {
	if op.Type != Credit && op.Type != Debit {
		return fmt.Errorf("unknown transaction type %q", op.Type)
	}
	if err := money.Amount(op.Amount).Validate(); err != nil {
		return err
	}
	return ValidateReference(op.Reference, op.Type == Debit)
}

// ValidateReference checks a reference: 1 to MaxReferenceLen printable
// ASCII characters; required when required is true.
func ValidateReference(ref string, required bool) error {
	if ref == "" {
		if required {
			return apperr.Invalid("reference", "reference is required (the payment id)")
		}
		return nil
	}
	if len(ref) > MaxReferenceLen {
		return apperr.Invalid("reference", "reference is longer than %d characters", MaxReferenceLen)
	}
	for i := 0; i < len(ref); i++ {
		if ref[i] < 0x21 || ref[i] > 0x7e {
			return apperr.Invalid("reference", "reference must be printable ASCII without spaces")
		}
	}
	return nil
}

// Apply applies op to w as the entry number seq and returns the entry. A
// debit larger than the balance is refused with ErrInsufficientFunds and
// changes nothing; so is an overflow.
func (w *Wallet) Apply(op Operation, seq int64, now time.Time) (Transaction, error) {
	var next int64
	var err error
	switch op.Type {
	case Credit:
		next, err = money.Add(w.Balance, op.Amount)
	case Debit:
		if w.Balance < op.Amount {
			return Transaction{}, ErrInsufficientFunds.With(
				fmt.Sprintf("wallet balance %d is below %d", w.Balance, op.Amount),
				map[string]any{"balance": w.Balance, "amount": op.Amount})
		}
		next, err = money.Sub(w.Balance, op.Amount)
	default:
		return Transaction{}, fmt.Errorf("unknown transaction type %q", op.Type)
	}
	if err != nil {
		return Transaction{}, ErrBalanceLimit.With(fmt.Sprintf("a credit of %d would take the wallet balance %d past %d", op.Amount, w.Balance, int64(math.MaxInt64)),
			map[string]any{"balance": w.Balance, "amount": op.Amount})
	}
	w.Balance = next
	return Transaction{
		ID:           id.New(id.Transaction),
		Seq:          seq,
		Type:         op.Type,
		Amount:       op.Amount,
		BalanceAfter: next,
		Reference:    op.Reference,
		CreatedAt:    now.UTC().Truncate(time.Millisecond),
	}, nil
}

// Matches reports whether tx is what op would have produced: a retry of the
// same operation, not a different one under the same reference.
func (op Operation) Matches(tx Transaction) bool {
	return op.Type == tx.Type && op.Amount == tx.Amount
}

// Result is the outcome of applying an operation.
type Result struct {
	Wallet Wallet
	Tx     Transaction
	// Replayed is true when the reference had been applied before and Tx is
	// that earlier entry; nothing changed this time.
	Replayed bool
}

// TxPage is one page of a wallet's ledger, newest first.
type TxPage struct {
	Items []Transaction
	Next  string
}

// Store keeps wallets and their ledgers.
type Store interface {
	// Create stores an empty wallet (with its OpenedBy). Returns
	// ErrWalletExists.
	Create(ctx context.Context, w Wallet) error
	// Get returns a wallet. Returns ErrWalletNotFound.
	Get(ctx context.Context, userID string) (Wallet, error)
	// Apply changes the balance and appends the ledger entry as one atomic
	// step, at most once per non-empty reference (a repeat returns the
	// first entry with Replayed). An operation with a reference refused
	// for an answer that could change later (insufficient funds, no wallet
	// yet, a credit past the balance limit) is refused again under that
	// reference, the same way, whatever the balance then and whether or
	// not the wallet was opened since (for good): every driver of one
	// payment, refund or top-up gets the same answer. Returns
	// ErrWalletNotFound, ErrInsufficientFunds, ErrBalanceLimit,
	// ErrReferenceReused.
	Apply(ctx context.Context, userID string, op Operation) (Result, error)
	// BindKey records use as the request of the key keyID (KeyID), unless
	// the key has one already (atomically: of two requests racing, one is
	// recorded), and returns the key's request: use, or the one recorded
	// first. A key's request is kept for good.
	BindKey(ctx context.Context, keyID string, use KeyUse) (KeyUse, error)
	// FindReference returns the entry applied with ref, if any. Returns
	// ErrWalletNotFound.
	FindReference(ctx context.Context, userID, ref string) (Transaction, bool, error)
	// Transactions returns a page of the ledger, newest first. Returns
	// ErrWalletNotFound, ErrInvalidCursor.
	Transactions(ctx context.Context, userID, cursor string, limit int) (TxPage, error)
}

// Users tells whether a user exists (the user service).
type Users interface {
	// Exists returns false for an unknown user; an error only when it
	// cannot tell.
	Exists(ctx context.Context, userID string) (bool, error)
}
