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
	"time"

	"github.com/golang-jwt/jwt/v5"

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

// ValidIdentity checks a role and subject: a user is a usr_ id; an admin
// may be any short printable subject.
func ValidIdentity(sub, role string) error {
	switch role {
	case RoleUser:
		if !id.Valid(id.User, sub) {
			return fmt.Errorf("sub %q is not a user id", sub)
		}
	case RoleAdmin:
		if sub == "" || len(sub) > 128 {
			return errors.New("admin sub must be 1 to 128 characters")
		}
	default:
		return fmt.Errorf("role %q is not user or admin", role)
	}
	return nil
}

type identityClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

const identityIssuer = "finflow-gateway"

// Signer makes identity tokens (the gateway's half).
type Signer struct{ key ed25519.PrivateKey }

// NewSigner reads an Ed25519 private key from its base64 seed.
func NewSigner(seedB64 string) (*Signer, error) {
	seed, err := base64.StdEncoding.DecodeString(seedB64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("identity signing key must be a base64 Ed25519 seed of 32 bytes")
	}
	return &Signer{key: ed25519.NewKeyFromSeed(seed)}, nil
}

// Sign returns a token for id valid for ttl.
func (s *Signer) Sign(ident Identity, ttl time.Duration, now time.Time) (string, error) {
	c := identityClaims{Role: ident.Role, RegisteredClaims: jwt.RegisteredClaims{
		Subject: ident.Sub, Issuer: identityIssuer,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(s.key)
}

// Verifier checks identity tokens (the services' half).
type Verifier struct{ key ed25519.PublicKey }

// NewVerifier reads an Ed25519 public key from base64.
func NewVerifier(pubB64 string) (*Verifier, error) {
	pub, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("identity public key must be a base64 Ed25519 public key of 32 bytes")
	}
	return &Verifier{key: ed25519.PublicKey(pub)}, nil
}

// Verify returns the identity in token, or ErrUnauthenticated.
func (v *Verifier) Verify(token string) (Identity, error) {
	var c identityClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithIssuer(identityIssuer), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return Identity{}, ErrUnauthenticated.Wrap(err)
	}
	if err := ValidIdentity(c.Subject, c.Role); err != nil {
		return Identity{}, ErrUnauthenticated.Wrap(err)
	}
	return Identity{Sub: c.Subject, Role: c.Role}, nil
}
