package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	raw, err := json.Marshal(toRecord(u))
	if err != nil {
		return domain.User{}, fmt.Errorf("encoding reservation: %w", err)
	}
	err = s.state.Insert(ctx, s.name, s.reservedKey(u.ID), raw, 0)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, sidecar.ErrExists) {
		return domain.User{}, fmt.Errorf("reserving user id: %w", err)
	}
	it, err := s.state.Get(ctx, s.name, s.reservedKey(u.ID))
	if err != nil {
		return domain.User{}, fmt.Errorf("reading reservation: %w", err)
	}
	if !it.Found() {
		// Reservations are never deleted.
		return domain.User{}, fmt.Errorf("reservation of %s vanished after a conflict", u.ID)
	}
	var r record
	if err := json.Unmarshal(it.Value, &r); err != nil {
		return domain.User{}, fmt.Errorf("decoding reservation of %s: %w", u.ID, err)
	}
	return r.user(), nil
}
