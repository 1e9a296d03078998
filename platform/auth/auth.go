// Package auth carries a caller's identity from the gateway to the services
// in a form a client cannot forge, and holds the authorisation rules every
// service applies the same way.
//
// The gateway authenticates clients (their JWTs) and forwards the result as
// a short-lived identity token in X-FinFlow-Identity, signed with an Ed25519
// key only the gateway holds; services verify it with the public half.
// Service-to-service calls carry no user identity: the callee's sidecar
// names the calling app in dapr-caller-app-id (authenticated by mTLS when
// Sentry runs), and internal routes admit only the apps that need them.
package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/id"
)

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// HeaderIdentity carries the signed identity from the gateway to a service.
const HeaderIdentity = "X-FinFlow-Identity"

// HeaderCallerApp is set by the callee's sidecar to the calling app's id.
const HeaderCallerApp = "dapr-caller-app-id"

// Identity is an authenticated caller.
type Identity struct {
	Sub  string
	Role string
}

// Admin reports whether the caller is an admin.
func (i Identity) Admin() bool { return i.Role == RoleAdmin }

// Errors of authentication and authorisation.
var (
	ErrUnauthenticated = apperr.New(apperr.KindUnauthenticated, apperr.CodeUnauthenticated, "a valid bearer token is required")
	ErrForbidden       = apperr.New(apperr.KindForbidden, apperr.CodeForbidden, "you may not act on this resource")
)

// Errors of ValidIdentity: which half of an identity is not one.
var (
	ErrInvalidRole = errors.New(`role must be "user" or "admin"`)
	ErrInvalidSub  = errors.New("invalid sub")
)

// maxAdminSub is the longest admin subject ValidIdentity accepts.
const maxAdminSub = 128

// ValidIdentity checks a role and subject. The role is "user" or "admin"
// (otherwise the error wraps ErrInvalidRole). A user's subject is a usr_
// id; an admin's is 1 to 128 printable ASCII characters other than space
// (0x21 to 0x7E): no control character (NUL included), no space, nothing
// outside ASCII, so a subject can be logged, used in a key and shown as
// it is (otherwise the error wraps ErrInvalidSub).
func ValidIdentity(sub, role string) error {
	switch role {
	case RoleUser:
		if !id.Valid(id.User, sub) {
			return fmt.Errorf("%w: a user's sub must be a user id (usr_...)", ErrInvalidSub)
		}
	case RoleAdmin:
		if !adminSub(sub) {
			return fmt.Errorf("%w: an admin's sub must be 1 to %d printable ASCII characters without spaces", ErrInvalidSub, maxAdminSub)
		}
	default:
		return ErrInvalidRole
	}
	return nil
}

// adminSub reports whether sub is 1 to maxAdminSub characters from '!'
// to '~'.
func adminSub(sub string) bool {
	if sub == "" || len(sub) > maxAdminSub {
		return false
	}
	for i := 0; i < len(sub); i++ {
		if sub[i] < '!' || sub[i] > '~' {
			return false
		}
	}
	return true
}

type identityClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

const identityIssuer = "finflow-gateway"

// identityLeeway is the clock skew a service allows on an identity token's
// expiry.
const identityLeeway = 5 * time.Second

// Signer makes identity tokens (the gateway's half).
type Signer struct {
	key   ed25519.PrivateKey
	cache tokenCache[signed, signedToken]
}

// signed is what a token was signed for: one identity, one lifetime.
type signed struct {
	ident Identity
	ttl   time.Duration
}

// NewSigner reads an Ed25519 private key from its base64 seed.
func NewSigner(seedB64 string) (*Signer, error) {
	seed, err := base64.StdEncoding.DecodeString(seedB64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("identity signing key must be a base64 Ed25519 seed of 32 bytes")
	}
	return &Signer{key: ed25519.NewKeyFromSeed(seed)}, nil
}

// Sign returns a token for ident valid for ttl. A token signed earlier for
// the same identity and ttl is returned again while at least half of its
// lifetime is left (it is no longer valid than any other), so a busy
// caller costs one Ed25519 signature per ttl/2, not one per request, and
// the services' Verifier answers it from its cache.
func (s *Signer) Sign(ident Identity, ttl time.Duration, now time.Time) (string, error) {
	key := signed{ident, ttl}
	if c, ok := s.cache.get(key); ok && !now.Before(c.issued) && c.exp.Sub(now) >= ttl/2 {
		return c.token, nil
	}
	iat, exp := jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(ttl))
	c := identityClaims{Role: ident.Role, RegisteredClaims: jwt.RegisteredClaims{
		Subject: ident.Sub, Issuer: identityIssuer, IssuedAt: iat, ExpiresAt: exp,
	}}
	token, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(s.key)
	if err != nil {
		return "", err
	}
	s.cache.put(key, signedToken{token: token, issued: iat.Time, exp: exp.Time})
	return token, nil
}

// Verifier checks identity tokens (the services' half).
type Verifier struct {
	key      ed25519.PublicKey
	verified Verified
	now      func() time.Time // time.Now; tests set it
}

// NewVerifier reads an Ed25519 public key from base64.
func NewVerifier(pubB64 string) (*Verifier, error) {
	pub, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("identity public key must be a base64 Ed25519 public key of 32 bytes")
	}
	return &Verifier{key: ed25519.PublicKey(pub), verified: Verified{Leeway: identityLeeway}, now: time.Now}, nil
}

// Verify returns the identity in token, or ErrUnauthenticated.
//
// A token that verified is remembered, byte for byte, until it expires:
// the same token again (the gateway reuses one per identity, see
// Signer.Sign) costs a map lookup instead of a signature check. Only
// tokens whose signature verified are remembered, so forged ones cannot
// fill the cache.
func (v *Verifier) Verify(token string) (Identity, error) {
	now := v.now()
	if ident, _, ok := v.verified.Lookup(token, now); ok {
		return ident, nil
	}
	var c identityClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithIssuer(identityIssuer), jwt.WithLeeway(identityLeeway), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return Identity{}, ErrUnauthenticated.Wrap(err)
	}
	if err := ValidIdentity(c.Subject, c.Role); err != nil {
		return Identity{}, ErrUnauthenticated.Wrap(err)
	}
	ident := Identity{Sub: c.Subject, Role: c.Role}
	v.verified.Remember(token, ident, time.Time{}, c.ExpiresAt.Time)
	return ident, nil
}

// Verified remembers tokens that were verified in full (signature,
// algorithm, claims), byte for byte, with the identity they carry and the
// window of time they are accepted in, so that the same token again costs
// a map lookup instead of a signature check and a parse. Only the verifier
// that checked a token may remember it: a token is never remembered
// because it was presented, so forged tokens cannot fill it. It holds up to
// 4096 tokens, dropping the one used least recently when full. It is safe
// for concurrent use.
type Verified struct {
	// Leeway is the clock skew the verifier allows on either side of a
	// token's window, as its full check does.
	Leeway time.Duration
	cache  tokenCache[string, verifiedToken]
}

// verifiedToken is what Verified keeps of a token: its identity, its
// expiry, and the window [from, until) it is accepted in.
type verifiedToken struct {
	ident            Identity
	exp, from, until time.Time
}

// Lookup returns the identity of token and its expiry when token was
// remembered and now lies in its window; ok is false otherwise (the token
// must then be verified in full).
func (v *Verified) Lookup(token string, now time.Time) (ident Identity, exp time.Time, ok bool) {
	c, found := v.cache.get(token)
	if !found || now.Before(c.from) || !now.Before(c.until) {
		return Identity{}, time.Time{}, false
	}
	return c.ident, c.exp, true
}

// Remember records that token, just verified in full, carries ident and
// expires at exp; it is accepted from notBefore less the leeway (zero: no
// lower bound) until exp plus the leeway, the window the full check
// allows. It keeps its own copy of token: the caller's may be a view of a
// request buffer that is reused afterwards (Fiber without Immutable).
func (v *Verified) Remember(token string, ident Identity, notBefore, exp time.Time) {
	c := verifiedToken{ident: ident, exp: exp, until: exp.Add(v.Leeway)}
	if !notBefore.IsZero() {
		c.from = notBefore.Add(-v.Leeway)
	}
	v.cache.put(strings.Clone(token), c)
}

// tokenCacheSize bounds each cache: when it is full, the token used least
// recently is dropped (identity tokens live a minute; a dropped one that
// comes again is checked in full once more).
const tokenCacheSize = 4096

// signedToken is a token the Signer made, and when it was issued and
// expires.
type signedToken struct {
	token       string
	issued, exp time.Time
}

// tokenCache is a map of up to tokenCacheSize tokens, safe for concurrent
// use; its zero value is ready (Signer and Verified are usable as declared).
type tokenCache[K comparable, V any] struct {
	once sync.Once
	m    *lru.Cache[K, V]
}

func (tc *tokenCache[K, V]) cache() *lru.Cache[K, V] {
	tc.once.Do(func() { tc.m, _ = lru.New[K, V](tokenCacheSize) }) // errs only for a size <= 0
	return tc.m
}

func (tc *tokenCache[K, V]) get(k K) (V, bool) { return tc.cache().Get(k) }

func (tc *tokenCache[K, V]) put(k K, c V) { tc.cache().Add(k, c) }
