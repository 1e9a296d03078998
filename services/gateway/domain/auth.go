package domain

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/finflow/finflow/platform/auth"
)

// Tokens verifies clients' bearer tokens: HS256 with the configured shared
// keys, RS256 with the configured issuer's public key. Each algorithm is
// checked only with its own kind of key, so an RS256 public key can never
// be used as an HMAC secret, and "none" is refused. exp is required.
//
// A token that verified is remembered (auth.Verified) for the window its
// claims allow, so a client's next request with the same token costs a map
// lookup instead of a parse and a signature check (an RS256 check is tens
// of microseconds; the gateway did one per request).
type Tokens struct {
	hmacKeys [][]byte
	rsaKey   *rsa.PublicKey
	devKey   []byte // signs dev tokens; nil outside dev mode
	verified auth.Verified
	// issuer and audience, when set, are what every token's iss must equal
	// and its aud must hold (TokenConfig).
	issuer, audience string
}

// clientLeeway is the clock skew allowed on a client token's exp, iat and
// nbf.
const clientLeeway = 30 * time.Second

// TokenConfig is where the keys come from (the gateway's secret).
type TokenConfig struct {
	// HS256Keys are accepted HMAC keys (the production issuer's, and in dev
	// mode the dev key).
	HS256Keys []string
	// RS256PublicKeyPEM is the production issuer's RSA public key, or "".
	RS256PublicKeyPEM string
	// DevKey, in dev mode, signs POST /auth/dev-token tokens.
	DevKey string
	// Issuer and Audience, when set, are required of every token: its iss
	// must be Issuer and its aud must hold Audience (RFC 7519 sections
	// 4.1.1 and 4.1.3), so a token the same issuer made for another
	// service, or another issuer sharing a key, is refused. Dev tokens are
	// made with them. Empty: not checked (the claims are then ignored).
	Issuer, Audience string
}

// NewTokens builds a verifier. It needs at least one key.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	t := &Tokens{verified: auth.Verified{Leeway: clientLeeway}, issuer: cfg.Issuer, audience: cfg.Audience}
	for _, k := range cfg.HS256Keys {
		if k == "" {
			continue
		}
		if len(k) < 32 {
			return nil, errors.New("an HS256 key must be at least 32 characters")
		}
		t.hmacKeys = append(t.hmacKeys, []byte(k))
	}
	if cfg.DevKey != "" {
		if len(cfg.DevKey) < 32 {
			return nil, errors.New("the dev key must be at least 32 characters")
		}
		t.devKey = []byte(cfg.DevKey)
		t.hmacKeys = append(t.hmacKeys, t.devKey)
	}
	if pemKey := strings.TrimSpace(cfg.RS256PublicKeyPEM); pemKey != "" {
		k, err := jwt.ParseRSAPublicKeyFromPEM([]byte(pemKey))
		if err != nil {
			return nil, fmt.Errorf("RS256 public key: %w", err)
		}
		t.rsaKey = k
	}
	if len(t.hmacKeys) == 0 && t.rsaKey == nil {
		return nil, errors.New("no token key configured (HS256 key or RS256 public key)")
	}
	return t, nil
}

type clientClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Verify checks an Authorization header value ("Bearer <jwt>") and returns
// the caller. Every failure is auth.ErrUnauthenticated.
func (t *Tokens) Verify(header string, now time.Time) (auth.Identity, error) {
	ident, _, err := t.VerifyExpiry(header, now)
	return ident, err
}

// VerifyExpiry is Verify that also returns when the token expires, for
// what must not outlive it (a console session).
func (t *Tokens) VerifyExpiry(header string, now time.Time) (auth.Identity, time.Time, error) {
	raw, ok := BearerToken(header)
	if !ok {
		return auth.Identity{}, time.Time{}, auth.ErrUnauthenticated.With("send Authorization: Bearer <token>", nil)
	}
	if ident, exp, ok := t.verified.Lookup(raw, now); ok {
		return ident, exp, nil
	}
	if err := plainJWS(raw); err != nil {
		return auth.Identity{}, time.Time{}, auth.ErrUnauthenticated.With("the token is invalid or expired", nil).Wrap(err)
	}
	var c clientClaims
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256", "RS256"}),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(clientLeeway),
		jwt.WithTimeFunc(func() time.Time { return now })}
	if t.issuer != "" {
		opts = append(opts, jwt.WithIssuer(t.issuer))
	}
	if t.audience != "" {
		opts = append(opts, jwt.WithAudience(t.audience))
	}
	_, err := jwt.ParseWithClaims(raw, &c, t.key, opts...)
	if err != nil {
		return auth.Identity{}, time.Time{}, auth.ErrUnauthenticated.With("the token is invalid or expired", nil).Wrap(err)
	}
	if err := auth.ValidIdentity(c.Subject, c.Role); err != nil {
		return auth.Identity{}, time.Time{}, auth.ErrUnauthenticated.With("the token's sub and role are not a FinFlow identity", nil).Wrap(err)
	}
	ident := auth.Identity{Sub: c.Subject, Role: c.Role}
	t.verified.Remember(raw, ident, notBefore(c), c.ExpiresAt.Time)
	return ident, c.ExpiresAt.Time, nil
}

// plainJWS refuses what golang-jwt lets through and RFC 7515 and RFC 7519
// do not: a header with crit (extensions the token says must be understood;
// FinFlow understands none, so RFC 7515 section 4.1.11 requires the token
// be refused), and a time claim (exp, nbf, iat) that is not a JSON number
// (RFC 7519 section 2: a NumericDate is a JSON numeric value; golang-jwt
// also reads "9999999999" written as a string). The signature and the
// rest are checked after it.
func plainJWS(raw string) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return errors.New("a JWS has three parts")
	}
	var head, claims map[string]json.RawMessage
	for i, into := range []*map[string]json.RawMessage{&head, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, into) != nil {
			return errors.New("a part of the token is not base64url JSON")
		}
	}
	if _, ok := head["crit"]; ok {
		return errors.New("the token names critical extensions")
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := claims[k]; ok && (len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return fmt.Errorf("%s is not a number", k)
		}
	}
	return nil
}

// BearerToken returns the token of an Authorization header value of the
// Bearer scheme, as RFC 9110 (section 11.6.2) and RFC 6750 (section 2.1)
// write it: the scheme in any case (section 11.1: it is case-insensitive),
// one or more spaces, and one token68 (no space or tab in it). Whitespace
// around the whole value is not part of it (section 5.5). False for any
// other scheme, no token, or more than one.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.Trim(header, " \t"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// notBefore is the lower bound the parser checks a token's claims
// against: the later of its iat and nbf, zero when it has neither.
func notBefore(c clientClaims) time.Time {
	var from time.Time
	for _, d := range []*jwt.NumericDate{c.IssuedAt, c.NotBefore} {
		if d != nil && d.After(from) {
			from = d.Time
		}
	}
	return from
}

// key picks the verification key for the token's algorithm.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	switch tok.Method.Alg() {
	case "HS256":
		if len(t.hmacKeys) == 0 {
			return nil, errors.New("HS256 is not accepted here")
		}
		keys := make([]jwt.VerificationKey, len(t.hmacKeys))
		for i, k := range t.hmacKeys {
			keys[i] = k
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	case "RS256":
		if t.rsaKey == nil {
			return nil, errors.New("RS256 is not accepted here")
		}
		return t.rsaKey, nil
	}
	return nil, fmt.Errorf("algorithm %s is not accepted", tok.Method.Alg())
}

// DevMode reports whether dev tokens can be issued.
func (t *Tokens) DevMode() bool { return t.devKey != nil }

// DevToken signs a token for sub and role with the dev key, valid for ttl.
func (t *Tokens) DevToken(sub, role string, ttl time.Duration, now time.Time) (string, error) {
	if t.devKey == nil {
		return "", errors.New("not in dev mode")
	}
	if err := auth.ValidIdentity(sub, role); err != nil {
		return "", err
	}
	c := clientClaims{Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Subject: sub, Issuer: "finflow-dev", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if t.issuer != "" {
		c.Issuer = t.issuer
	}
	if t.audience != "" {
		c.Audience = jwt.ClaimStrings{t.audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.devKey)
}
