package store

import (
	"context"
	"errors"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/user/domain"
)

var _ domain.SignUpKeys = (*Store)(nil)

// reservedKey holds the user a keyed sign-up first asked for under id:
// written once, if absent, before the sign-up claims its email, so that a
// retry with another email cannot claim that one under the same id.
func (s *Store) reservedKey(id string) string { return s.prefix + "reserved/" + id }

// Reserve implements domain.SignUpKeys. The stored user is read first: it
// answers a retry of a finished sign-up, including one made before
// reservations were kept.
func (s *Store) Reserve(ctx context.Context, u domain.User) (domain.User, error) {
	existing, err := s.Get(ctx, u.ID)
	if err == nil {
		return existing, nil
	}
	if !errors.Is(err, domain.ErrUserNotFound) {
		return domain.User{}, err
	}
	r, err := sidecar.Bind(ctx, s.state, s.name, s.reservedKey(u.ID), toRecord(u))
	if err != nil {
		return domain.User{}, err
	}
	return r.user(), nil
}
