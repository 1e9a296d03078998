package domain

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/peers"
)

// Service is the billing service's use cases, on top of its stores.
type Service struct {
	Store         Store
	Subscriptions Subscriptions
	Schedule      Schedule
	Autopay       Autopay
	Users         Users
	Log           *slog.Logger
	Now           func() time.Time

	// ticking lets one scheduler tick at a time run in this instance (the
	// cron binding does not wait for a slow tick before the next).
	ticking sync.Mutex
}

// NewBillRequest asks for a bill: Amount in paise; Currency nil or "INR";
// DueDate "" or YYYY-MM-DD. IdempotencyToken, when the request carried an
// Idempotency-Key, is the gateway's token of it.
type NewBillRequest struct {
	UserID           string
	Amount           money.Amount
	Currency         *string
	Description      string
	DueDate          string
	IdempotencyToken string
}

// Create makes an UNPAID bill for an existing user, on behalf of that user
// or an admin. A keyed request always proposes the same id, so a retry whose
// first answer was lost finds its bill instead of making another (and the
// same key for other details is ErrKeyReused). Returns VALIDATION_FAILED,
// auth errors, ErrUserNotFound, ErrKeyReused.
func (s *Service) Create(ctx context.Context, caller auth.Caller, req NewBillRequest) (Bill, error) {
	if !id.Valid(id.User, req.UserID) {
		return Bill{}, apperr.Invalid("user_id", "user_id must be a user id (usr_...)")
	}
	if err := caller.Owner(req.UserID); err != nil {
		return Bill{}, err
	}
	if err := money.CheckCurrency(req.Currency); err != nil {
		return Bill{}, err
	}
	b, err := NewBill(req.UserID, req.Amount, req.Description, req.DueDate, s.Now())
	if err != nil {
		return Bill{}, err
	}
	if err := peers.RequireUser(ctx, s.Users, req.UserID); err != nil {
		return Bill{}, err
	}
	if req.IdempotencyToken != "" {
		b.ID = id.Derive(id.Bill, req.IdempotencyToken)
	}
	if err := s.Store.Create(ctx, b); errors.Is(err, ErrBillExists) {
		prev, gerr := s.Store.Get(ctx, b.ID)
		if gerr != nil {
			return Bill{}, gerr
		}
		if !prev.SameRequest(b) {
			return Bill{}, ErrKeyReused
		}
		return prev, nil
	} else if err != nil {
		return Bill{}, err
	}
	s.Log.InfoContext(ctx, "bill created", "bill_id", b.ID, "user_id", b.UserID, "amount", b.Amount)
	return b, nil
}

// Get returns a bill to its owner, an admin, or the payment service.
// Returns ErrBillNotFound (a malformed id included) and auth errors.
func (s *Service) Get(ctx context.Context, caller auth.Caller, billID string) (Bill, error) {
	if !id.Valid(id.Bill, billID) {
		return Bill{}, ErrBillNotFound
	}
	b, err := s.Store.Get(ctx, billID)
	if err != nil {
		return Bill{}, err
	}
	if err := caller.OwnerOrApp(b.UserID, contract.AppPayment); err != nil {
		return Bill{}, err
	}
	return b, nil
}

// MarkPaid marks a bill PAID by one payment (the payment service's
// internal request: status must be "PAID"). Again by the same payment it
// changes nothing. Returns VALIDATION_FAILED, ErrBillNotFound,
// ErrBillAlreadyPaid.
func (s *Service) MarkPaid(ctx context.Context, req contract.MarkPaidRequest) (Bill, error) {
	if !id.Valid(id.Bill, req.BillID) {
		return Bill{}, apperr.Invalid("bill_id", "bill_id must be a bill id (bill_...)")
	}
	if req.Status != string(Paid) {
		return Bill{}, apperr.Invalid("status", "status can only be set to PAID")
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return Bill{}, apperr.Invalid("payment_id", "payment_id must be a payment id (pay_...)")
	}
	var changed bool
	b, err := s.Store.Update(ctx, req.BillID, func(b *Bill) (bool, error) {
		var err error
		changed, err = b.MarkPaid(req.PaymentID, s.Now())
		return changed, err
	})
	if err == nil && changed {
		s.Log.InfoContext(ctx, "bill paid", "bill_id", b.ID, "payment_id", b.PaymentID)
	}
	return b, err
}

// MarkRefunded marks a bill, PAID by the payment, REFUNDED (the payment
// service's internal request, once the payment's whole amount is given
// back). Again it changes nothing. Returns VALIDATION_FAILED,
// ErrBillNotFound, ErrBillAlreadyPaid (paid by another payment),
// ErrBillNotPaid.
func (s *Service) MarkRefunded(ctx context.Context, req contract.MarkRefundedRequest) (Bill, error) {
	if !id.Valid(id.Bill, req.BillID) {
		return Bill{}, apperr.Invalid("bill_id", "bill_id must be a bill id (bill_...)")
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return Bill{}, apperr.Invalid("payment_id", "payment_id must be a payment id (pay_...)")
	}
	var changed bool
	b, err := s.Store.Update(ctx, req.BillID, func(b *Bill) (bool, error) {
		var err error
		changed, err = b.MarkRefunded(req.PaymentID, s.Now())
		return changed, err
	})
	if err == nil && changed {
		s.Log.InfoContext(ctx, "bill refunded", "bill_id", b.ID, "payment_id", b.PaymentID)
	}
	return b, err
}
