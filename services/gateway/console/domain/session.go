// Package domain is the ops console's rules: who is signed in to it (a
// Session, its id and how long it lasts) and whether a user's money adds up
// (CheckConservation, CheckUser, MoneyVerdict). It imports no Fiber, Dapr or
// Redis package: the console's store keeps the sessions, its http package
// reads the services and serves the page.
package domain

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/finflow/finflow/platform/auth"
)

// SessionMax is the longest an ops-console sign-in lasts.
const SessionMax = time.Hour

// sessionMin is the shortest session worth starting: a token that
// expires sooner is refused at sign-in rather than signing in for seconds.
const sessionMin = time.Minute

// ErrSessionUnreadable is a stored console session that does not
// decode; the console treats it as no session (sign in again).
var ErrSessionUnreadable = errors.New("console session record does not decode")

// Session is an admin signed in to the ops console. The browser
// holds only the session's random id (in a cookie); the admin's bearer
// token never leaves the sign-in request, and signing out deletes the
// session, so a copied cookie stops working at once.
type Session struct {
	Sub     string    `json:"sub"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
}

// NewSession starts a session for ident, whose token expires at
// tokenExpiry: it lasts SessionMax, or until the token expires if
// that is sooner. Returns the session and its id (32 random bytes,
// base64url). A token with less than a minute left is refused with
// auth.ErrUnauthenticated.
func NewSession(ident auth.Identity, tokenExpiry, now time.Time) (Session, string, error) {
	expires := now.Add(SessionMax)
	if tokenExpiry.Before(expires) {
		expires = tokenExpiry
	}
	if expires.Sub(now) < sessionMin {
		return Session{}, "", auth.ErrUnauthenticated.With("the token has expired or expires within a minute; get a fresh one", nil)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Session{}, "", fmt.Errorf("console session id: %w", err)
	}
	return Session{Sub: ident.Sub, Role: ident.Role, Expires: expires.UTC()}, sessionIDEncoding.EncodeToString(b[:]), nil
}

// TTL is how long the session has left at now, in whole seconds rounded up
// (what a state store's ttlInSeconds takes); 0 once it has expired.
func (s Session) TTL(now time.Time) int {
	left := s.Expires.Sub(now)
	if left <= 0 {
		return 0
	}
	return int((left + time.Second - 1) / time.Second)
}

// Identity returns who the session is for, or auth.ErrUnauthenticated if
// it has expired at now or does not name a FinFlow identity.
func (s Session) Identity(now time.Time) (auth.Identity, error) {
	if !now.Before(s.Expires) {
		return auth.Identity{}, auth.ErrUnauthenticated.With("the console session has expired; sign in again", nil)
	}
	if err := auth.ValidIdentity(s.Sub, s.Role); err != nil {
		return auth.Identity{}, auth.ErrUnauthenticated.With("the console session is not a FinFlow identity", nil).Wrap(err)
	}
	return auth.Identity{Sub: s.Sub, Role: s.Role}, nil
}

// sessionIDEncoding spells a session id one way only (strict: the unused
// bits of the last character must be zero).
var sessionIDEncoding = base64.RawURLEncoding.Strict()

// ValidSessionID reports whether id has the shape NewSession
// gives, so a cookie of any other shape is refused without a store read.
func ValidSessionID(id string) bool {
	if len(id) != 43 {
		return false
	}
	b, err := sessionIDEncoding.DecodeString(id)
	return err == nil && len(b) == 32
}
