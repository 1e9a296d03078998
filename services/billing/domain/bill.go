// Package domain holds FinFlow's bill model and its one rule that matters
// most: a bill is marked PAID at most once, by exactly one payment, and
// records which.
package domain

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// Status is a bill's state.
type Status string

// Bill states.
const (
	Unpaid Status = "UNPAID"
	Paid   Status = "PAID"
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
	ErrKeyReused = apperr.New(apperr.KindUnprocessable, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different bill")
)

// MaxDescriptionLen bounds a description.
const MaxDescriptionLen = 200

// NewBill validates a new bill and returns it UNPAID.
func NewBill(userID string, amount money.Amount, description, dueDate string, now time.Time) (Bill, error) {
	if err := amount.Validate(); err != nil {
		return Bill{}, err
	}
	description = strings.TrimSpace(description)
	if description == "" {
		return Bill{}, apperr.Invalid("description", "description is required")
	}
	if n := utf8.RuneCountInString(description); n > MaxDescriptionLen || !utf8.ValidString(description) {
		return Bill{}, apperr.Invalid("description", "description must be valid text of at most %d characters", MaxDescriptionLen)
	}
	for _, r := range description {
		if unicode.IsControl(r) {
			return Bill{}, apperr.Invalid("description", "description must not contain control characters")
		}
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

// MarkPaid marks the bill PAID by paymentID. Marking it again by the same
// payment changes nothing and is not an error (a retry); by another payment
// it is ErrBillAlreadyPaid. It reports whether the bill changed.
func (b *Bill) MarkPaid(paymentID string, now time.Time) (bool, error) {
	if b.Status == Paid {
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

// SameRequest reports whether b and other were created from the same
// request (a retry), whatever their ids and times.
func (b Bill) SameRequest(other Bill) bool {
	return b.UserID == other.UserID && b.Amount == other.Amount && b.Description == other.Description && b.DueDate == other.DueDate
}

// Store keeps bills.
type Store interface {
	// Create stores a new bill. Returns ErrBillExists.
	Create(ctx context.Context, b Bill) error
	// Get returns a bill. Returns ErrBillNotFound.
	Get(ctx context.Context, id string) (Bill, error)
	// Update reads the bill, applies fn and writes it back atomically
	// (retrying when another writer got there first). fn reports whether it
	// changed the bill; nothing is written when it did not. Returns
	// ErrBillNotFound and fn's errors.
	Update(ctx context.Context, id string, fn func(*Bill) (bool, error)) (Bill, error)
}

// Users tells whether a user exists.
type Users interface {
	Exists(ctx context.Context, userID string) (bool, error)
}
