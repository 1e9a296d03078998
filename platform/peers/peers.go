// Package peers holds the small clients FinFlow services use to ask each
// other the same questions through Dapr service invocation, so each
// question is written once.
package peers

import (
	"context"
	"errors"
	"net/http"

	"github.com/finflow/finflow/platform/contract"
)

// Caller is what the clients need from the sidecar client.
type Caller interface {
	Call(ctx context.Context, app, method, path string, in, out any, header http.Header) (int, error)
	CallRead(ctx context.Context, app, path string, out any, header http.Header) (int, error)
}

// Users asks the user service about users.
type Users struct{ Dapr Caller }

// Exists reports whether the user exists. It returns an error only when it
// cannot tell (the user service or a sidecar is down).
func (u Users) Exists(ctx context.Context, userID string) (bool, error) {
	_, err := u.Dapr.CallRead(ctx, contract.AppUser, contract.PathUser(userID), nil, nil)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, contract.ErrUserNotFound) {
		return false, nil
	}
	return false, err
}

// UserDirectory is anything that tells whether a user exists: Users, or a
// test's stand-in for the user service.
type UserDirectory interface {
	Exists(ctx context.Context, userID string) (bool, error)
}

// RequireUser returns contract.ErrUserNotFound when users has no user
// userID, nil when it has, and users' error when it cannot tell (then the
// caller must not act as if the user did not exist).
func RequireUser(ctx context.Context, users UserDirectory, userID string) error {
	ok, err := users.Exists(ctx, userID)
	if err != nil {
		return err
	}
	if !ok {
		return contract.ErrUserNotFound
	}
	return nil
}
