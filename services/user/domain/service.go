package domain

import (
	"context"
	"log/slog"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/settings"
)

// Runtime settings of the user service (configuration store keys).
const (
	SettingListDefaultLimit = "users.list.default_limit"
	SettingListMaxLimit     = "users.list.max_limit"
)

// Settings declares the user service's runtime settings and their defaults.
var Settings = []settings.Int{
	{Key: SettingListDefaultLimit, Default: 50, Min: 1, Max: 1000},
	{Key: SettingListMaxLimit, Default: 200, Min: 1, Max: 1000},
}

// Service is the user service's use cases, on top of a Store.
type Service struct {
	Store Store
	// Keys remembers what each keyed sign-up first asked for.
	Keys SignUpKeys
	Log  *slog.Logger
	Now  func() time.Time
	// Setting reads a runtime setting (Settings).
	Setting func(key string) int64
}

// ErrKeyReused is a keyed sign-up whose key (its derived user id) was first
// used with another name, email or phone: not a retry of that sign-up.
var ErrKeyReused = apperr.New(apperr.KindUnprocessable, contract.CodeIdempotencyKeyReused,
	"this Idempotency-Key was used for a different sign-up")

// SignUpKeys keeps, for each keyed sign-up, the user it first asked for.
type SignUpKeys interface {
	// Reserve returns the user first asked for under u.ID: the stored user
	// with that id if there is one, else the user reserved under it by an
	// earlier attempt, else u, reserved now (atomically: of two attempts
	// racing, one reserves and both get its user).
	Reserve(ctx context.Context, u User) (User, error)
}

// SameSignUp reports whether u and other were asked for by the same
// sign-up request (a retry), whatever their ids and times.
func (u User) SameSignUp(other User) bool {
	return u.Name == other.Name && u.Email == other.Email && u.Phone == other.Phone
}

// SignUp creates a user (anyone may). A keyed sign-up (the gateway's
// token of an Idempotency-Key, or "") always proposes the same id, so its
// retry finds its own user instead of EMAIL_TAKEN; the id is bound to the
// first request before any email is claimed, so the same key with another
// name, email or phone is ErrKeyReused, even when the gateway kept no
// record of the key. Returns VALIDATION_FAILED, ErrEmailTaken,
// ErrKeyReused.
func (s *Service) SignUp(ctx context.Context, name, email, phone, idempotencyToken string) (User, error) {
	u, err := NewUser(name, email, phone, s.Now())
	if err != nil {
		return User{}, err
	}
	if idempotencyToken != "" {
		u.ID = id.Derive(id.User, idempotencyToken)
		first, err := s.Keys.Reserve(ctx, u)
		if err != nil {
			return User{}, err
		}
		if !first.SameSignUp(u) {
			return User{}, ErrKeyReused
		}
		u = first // the first attempt's creation time
	}
	u, err = s.Store.Create(ctx, u)
	if err != nil {
		return User{}, err
	}
	s.Log.InfoContext(ctx, "user created", "user_id", u.ID)
	return u, nil
}

// Get returns a user to that user, an admin, or the wallet, billing and
// payment services (which look users up for their own checks; payment for
// a customer's empty list of payments or top-ups). Returns
// ErrUserNotFound (a malformed id included), auth errors.
func (s *Service) Get(ctx context.Context, caller auth.Caller, userID string) (User, error) {
	if !id.Valid(id.User, userID) {
		return User{}, ErrUserNotFound
	}
	if err := caller.OwnerOrApp(userID, contract.AppWallet, contract.AppBilling, contract.AppPayment); err != nil {
		return User{}, err
	}
	return s.Store.Get(ctx, userID)
}

// List returns a page of users, oldest first, to an admin. limit is the
// query's ("" for the default setting). Returns VALIDATION_FAILED,
// ErrInvalidCursor, auth errors.
func (s *Service) List(ctx context.Context, caller auth.Caller, cursor, limit string) (Page, error) {
	if err := caller.Admin(); err != nil {
		return Page{}, err
	}
	n, err := page.Limit(limit, s.Setting(SettingListDefaultLimit), s.Setting(SettingListMaxLimit))
	if err != nil {
		return Page{}, err
	}
	return s.Store.List(ctx, cursor, n)
}
