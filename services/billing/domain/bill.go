// Package domain holds FinFlow's bill model and its rules: a bill is marked
// PAID at most once, by exactly one payment, and records which (and becomes
// REFUNDED when that payment is wholly given back); a user's bills are
// listed newest first; a subscription makes exactly one bill per period.
package domain

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/text"
)

// Status is a bill's state.
type Status string

// Bill states.
const (
	Unpaid   Status = "UNPAID"
	Paid     Status = "PAID"
	Refunded Status = "REFUNDED" // PAID, then its payment was wholly refunded
)

// Bill is an amount a user owes.
type Bill struct {
	ID          string
	UserID      string
	Amount      int64
	Currency    string
	Description string
	DueDate     string // YYYY-MM-DD, or ""
	Status      Status
	PaymentID   string // the payment that paid it, or ""
	CreatedAt   time.Time
	PaidAt      time.Time // zero until paid
	RefundedAt  time.Time // zero until refunded
	// SubscriptionID and Period name the subscription period the bill was
	// made for ("" for a bill made by hand).
	SubscriptionID string
	Period         string
	// Seq is the bill's place in its user's list (Store.List); the store
	// sets it when it creates the bill.
	Seq int64
}

// Errors returned by the billing service.
var (
	ErrBillNotFound    = contract.ErrBillNotFound
	ErrBillAlreadyPaid = contract.ErrBillAlreadyPaid
	ErrUserNotFound    = contract.ErrUserNotFound
	// ErrBillExists is returned by Store.Create for an id already taken
	// (a retried keyed create derives the same id).
	ErrBillExists = apperr.New(apperr.KindConflict, "BILL_EXISTS", "a bill with this id already exists")
	// ErrKeyReused is a keyed create whose id exists with other details.
	ErrKeyReused = apperr.New(apperr.KindUnprocessable, contract.CodeIdempotencyKeyReused, "this Idempotency-Key was used for a different bill")
	// ErrBillNotPaid is a refund mark for a bill no payment has paid.
	ErrBillNotPaid = contract.ErrBillNotPaid
)

// MaxDescriptionLen bounds a description.
const MaxDescriptionLen = 200

// NewBill validates a new bill and returns it UNPAID.
func NewBill(userID string, amount money.Amount, description, dueDate string, now time.Time) (Bill, error) {
	if err := amount.Validate(); err != nil {
		return Bill{}, err
	}
	description, err := checkDescription(description)
	if err != nil {
		return Bill{}, err
	}
	if dueDate != "" {
		if _, err := time.Parse(time.DateOnly, dueDate); err != nil {
			return Bill{}, apperr.Invalid("due_date", "due_date must be a date like 2026-12-31")
		}
	}
	return Bill{
		ID:          id.New(id.Bill),
		UserID:      userID,
		Amount:      amount.Paise(),
		Currency:    money.INR,
		Description: description,
		DueDate:     dueDate,
		Status:      Unpaid,
		CreatedAt:   now.UTC().Truncate(time.Millisecond),
	}, nil
}

// checkDescription trims a bill's (or a subscription's) description and
// checks it: required, at most MaxDescriptionLen characters of valid text,
// no control characters.
func checkDescription(description string) (string, error) {
	description = strings.TrimSpace(description)
	if description == "" {
		return "", apperr.Invalid("description", "description is required")
	}
	if n := utf8.RuneCountInString(description); n > MaxDescriptionLen || !utf8.ValidString(description) {
		return "", apperr.Invalid("description", "description must be valid text of at most %d characters", MaxDescriptionLen)
	}
	if problem := text.Problem(description); problem != "" {
		return "", apperr.Invalid("description", "description %s", problem)
	}
	return description, nil
}

// MarkPaid marks the bill PAID by paymentID. Marking it again by the same
// payment changes nothing and is not an error (a retry, even once the bill
// is REFUNDED); by another payment it is ErrBillAlreadyPaid. It reports
// whether the bill changed.
func (b *Bill) MarkPaid(paymentID string, now time.Time) (bool, error) {
	if b.Status != Unpaid {
		if b.PaymentID == paymentID {
			return false, nil
		}
		return false, ErrBillAlreadyPaid.With("bill "+b.ID+" is already paid by another payment", map[string]any{"bill_id": b.ID})
	}
	b.Status = Paid
	b.PaymentID = paymentID
	b.PaidAt = now.UTC().Truncate(time.Millisecond)
	return true, nil
}

// MarkRefunded marks the bill, PAID by paymentID, REFUNDED: that payment's
// whole amount was given back. Again by the same payment it changes nothing
// (a retry); a bill paid by another payment is ErrBillAlreadyPaid, an UNPAID
// one ErrBillNotPaid. It reports whether the bill changed.
func (b *Bill) MarkRefunded(paymentID string, now time.Time) (bool, error) {
	switch {
	case b.Status == Unpaid:
		return false, ErrBillNotPaid.With("bill "+b.ID+" is not paid: nothing to refund", map[string]any{"bill_id": b.ID})
	case b.PaymentID != paymentID:
		return false, ErrBillAlreadyPaid.With("bill "+b.ID+" is paid by another payment", map[string]any{"bill_id": b.ID})
	case b.Status == Refunded:
		return false, nil
	}
	b.Status = Refunded
	b.RefundedAt = now.UTC().Truncate(time.Millisecond)
	return true, nil
}

// SameRequest reports whether b and other were created from the same
// request (a retry), whatever their ids and times.
func (b Bill) SameRequest(other Bill) bool {
	return b.UserID == other.UserID && b.Amount == other.Amount && b.Description == other.Description && b.DueDate == other.DueDate
}

// Store keeps bills, and each user's list of them.
type Store interface {
	// Create puts the bill in its user's list, then stores it carrying its
	// place there (Seq), so a listed bill always exists and a bill created
	// while a client pages is listed once. Returns ErrBillExists (the bill
	// stays as it was, and the list gains an entry readers skip).
	Create(ctx context.Context, b Bill) error
	// Get returns a bill. Returns ErrBillNotFound.
	Get(ctx context.Context, id string) (Bill, error)
	// Update reads the bill, applies fn and writes it back atomically
	// (retrying when another writer got there first). fn reports whether it
	// changed the bill; nothing is written when it did not. Returns
	// ErrBillNotFound and fn's errors.
	Update(ctx context.Context, id string, fn func(*Bill) (bool, error)) (Bill, error)
	// List reads up to n (at most ListStretch) entries of the user's list
	// below position before (0: from the newest), newest first, and
	// returns the bills they name (skipping entries whose bill does not
	// carry their position).
	List(ctx context.Context, userID string, before int64, n int) (Listed[Bill], error)
}

// Users tells whether a user exists.
type Users interface {
	Exists(ctx context.Context, userID string) (bool, error)
}
