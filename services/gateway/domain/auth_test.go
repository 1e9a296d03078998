package domain_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/gateway/domain"
)

const devKey = "dev-key-for-unit-tests-0123456789abcdef"

func rsaPair(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestVerify(t *testing.T) {
	priv, pubPEM := rsaPair(t)
	other, _ := rsaPair(t)
	tokens, err := domain.NewTokens(domain.TokenConfig{DevKey: devKey, RS256PublicKeyPEM: pubPEM})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	user := id.New(id.User)
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	valid := jwt.MapClaims{"sub": user, "role": "user", "exp": now.Add(time.Hour).Unix()}
	dev, _ := tokens.DevToken(user, "user", time.Hour, now)
	// An attacker who knows the RS256 public key signs HS256 with it.
	confused := sign(jwt.SigningMethodHS256, []byte(pubPEM), valid)
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := []struct {
		name   string
		header string
		ok     bool
	}{
		{"dev token", "Bearer " + dev, true},
		{"RS256", sign(jwt.SigningMethodRS256, priv, valid), true},
		{"admin", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": "ops-1", "role": "admin", "exp": now.Add(time.Hour).Unix()}), true},
		{"missing", "", false},
		{"not bearer", "Basic abc", false},
		{"garbage", "Bearer not.a.jwt", false},
		{"expired", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user", "exp": now.Add(-time.Hour).Unix()}), false},
		{"no exp", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user"}), false},
		{"other RSA key", sign(jwt.SigningMethodRS256, other, valid), false},
		{"wrong HMAC key", sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), valid), false},
		{"alg confusion: HS256 keyed with the RSA public key", confused, false},
		{"alg none", "Bearer " + unsigned, false},
		{"HS512 with the dev key", sign(jwt.SigningMethodHS512, []byte(devKey), valid), false},
		{"tampered payload", "Bearer " + tamper(dev), false},
		{"unknown role", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "root", "exp": now.Add(time.Hour).Unix()}), false},
		{"user sub not a user id", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": "bob", "role": "user", "exp": now.Add(time.Hour).Unix()}), false},
		{"issued in the future", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user", "iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()}), false},
		// RFC 7519: a NumericDate is a JSON number, not a string of one.
		{"exp a string", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user", "exp": fmt.Sprint(now.Add(time.Hour).Unix())}), false},
		{"iat a string", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user", "iat": fmt.Sprint(now.Unix()), "exp": now.Add(time.Hour).Unix()}), false},
		{"nbf a string", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user", "nbf": fmt.Sprint(now.Unix()), "exp": now.Add(time.Hour).Unix()}), false},
		{"exp a bool", sign(jwt.SigningMethodRS256, priv, jwt.MapClaims{"sub": user, "role": "user", "exp": true}), false},
		// RFC 7515 section 4.1.11: critical extensions FinFlow does not
		// understand (it understands none) refuse the token.
		{"crit header", signHeader(t, priv, map[string]any{"crit": []string{"x"}, "x": 1}, valid), false},
		{"crit empty", signHeader(t, priv, map[string]any{"crit": []string{}}, valid), false},
		{"other header fields", signHeader(t, priv, map[string]any{"kid": "k1"}, valid), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ident, err := tokens.Verify(tc.header, now)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify = %+v, %v; want ok=%v", ident, err, tc.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("err = %v, want ErrUnauthenticated", err)
			}
		})
	}
}

// signHeader signs claims with RS256 under a header with extra fields.
func signHeader(t *testing.T, key *rsa.PrivateKey, extra map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	for k, v := range extra {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

func tamper(token string) string {
	parts := strings.Split(token, ".")
	// Flip one character of the payload.
	p := []byte(parts[1])
	if p[5] == 'A' {
		p[5] = 'B'
	} else {
		p[5] = 'A'
	}
	return parts[0] + "." + string(p) + "." + parts[2]
}

func TestDevTokensOnlyInDevMode(t *testing.T) {
	_, pubPEM := rsaPair(t)
	prod, err := domain.NewTokens(domain.TokenConfig{RS256PublicKeyPEM: pubPEM})
	if err != nil {
		t.Fatal(err)
	}
	if prod.DevMode() {
		t.Fatal("DevMode without a dev key")
	}
	if _, err := prod.DevToken(id.New(id.User), "user", time.Hour, time.Now()); err == nil {
		t.Fatal("DevToken outside dev mode succeeded")
	}
	if _, err := domain.NewTokens(domain.TokenConfig{}); err == nil {
		t.Fatal("NewTokens without keys succeeded")
	}
}

// A token that verified is answered from memory afterwards, and memory
// answers exactly as a full check would at every moment: accepted from its
// iat (or nbf) less the leeway until its exp plus the leeway, refused
// outside, with the same identity and expiry.
func TestVerifiedTokensAnswerAsAFullCheckWould(t *testing.T) {
	priv, pubPEM := rsaPair(t)
	cfg := domain.TokenConfig{DevKey: devKey, RS256PublicKeyPEM: pubPEM}
	warm, err := domain.NewTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	user := id.New(id.User)
	rs := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	dev, _ := warm.DevToken(user, "user", time.Hour, t0)
	tokens := map[string]string{
		"dev token (iat, exp)": "Bearer " + dev,
		"RS256 without iat":    rs(jwt.MapClaims{"sub": user, "role": "user", "exp": t0.Add(time.Hour).Unix()}),
		"RS256 with a later nbf": rs(jwt.MapClaims{"sub": "ops-1", "role": "admin", "iat": t0.Unix(),
			"nbf": t0.Add(10 * time.Minute).Unix(), "exp": t0.Add(time.Hour).Unix()}),
	}
	moments := []time.Duration{
		-31 * time.Second, -30 * time.Second, 0, 10*time.Minute - 31*time.Second, 10*time.Minute - 30*time.Second,
		30 * time.Minute, time.Hour + 29*time.Second, time.Hour + 30*time.Second, 2 * time.Hour,
	}
	for name, header := range tokens {
		t.Run(name, func(t *testing.T) {
			// Remembered at the first moment it verifies.
			for _, d := range moments {
				if _, err := warm.Verify(header, t0.Add(d)); err == nil {
					break
				}
			}
			for _, d := range moments {
				cold, _ := domain.NewTokens(cfg) // remembers nothing: a full check
				wantID, wantExp, wantErr := cold.VerifyExpiry(header, t0.Add(d))
				gotID, gotExp, gotErr := warm.VerifyExpiry(header, t0.Add(d))
				if (gotErr == nil) != (wantErr == nil) || gotID != wantID || !gotExp.Equal(wantExp) {
					t.Errorf("at t0%+v: remembered answer %v, %v, %v; full check %v, %v, %v", d, gotID, gotExp, gotErr, wantID, wantExp, wantErr)
				}
			}
		})
	}
}

// What a client token costs the gateway per request: a full check (parse,
// claims, signature) against a remembered one. `go test -run '^$' -bench
// Verify ./domain/`.
func BenchmarkVerify(b *testing.B) {
	priv, pubPEM := rsaPair(b)
	now := time.Now()
	user := id.New(id.User)
	rs256, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": user, "role": "user", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString(priv)
	cfg := domain.TokenConfig{DevKey: devKey, RS256PublicKeyPEM: pubPEM}
	probe, _ := domain.NewTokens(cfg)
	dev, _ := probe.DevToken(user, "user", time.Hour, now)
	for _, tok := range []struct{ name, header string }{{"HS256", "Bearer " + dev}, {"RS256", "Bearer " + rs256}} {
		b.Run(tok.name+"/full check", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				t, _ := domain.NewTokens(cfg) // remembers nothing
				b.StartTimer()
				if _, err := t.Verify(tok.header, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tok.name+"/remembered", func(b *testing.B) {
			t, _ := domain.NewTokens(cfg)
			for i := 0; i < b.N; i++ {
				if _, err := t.Verify(tok.header, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// With an issuer and an audience configured, a token must name both (RFC
// 7519 4.1.1, 4.1.3): a token the same key signed for another audience, by
// another issuer, or without either claim is refused; aud may be a string
// or an array holding it. Dev tokens are made with both. Without them
// configured, neither claim is looked at.
func TestIssuerAndAudience(t *testing.T) {
	priv, pubPEM := rsaPair(t)
	now := time.Now()
	user := id.New(id.User)
	token := func(claims jwt.MapClaims) string {
		c := jwt.MapClaims{"sub": user, "role": "user", "exp": now.Add(time.Hour).Unix()}
		for k, v := range claims {
			c[k] = v
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	strict, err := domain.NewTokens(domain.TokenConfig{DevKey: devKey, RS256PublicKeyPEM: pubPEM, Issuer: "https://login.example.in/", Audience: "finflow-api"})
	if err != nil {
		t.Fatal(err)
	}
	open, err := domain.NewTokens(domain.TokenConfig{RS256PublicKeyPEM: pubPEM})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		claims       jwt.MapClaims
		strict, open bool
	}{
		{"both", jwt.MapClaims{"iss": "https://login.example.in/", "aud": "finflow-api"}, true, true},
		{"aud as an array holding it", jwt.MapClaims{"iss": "https://login.example.in/", "aud": []string{"billing-ui", "finflow-api"}}, true, true},
		{"no iss", jwt.MapClaims{"aud": "finflow-api"}, false, true},
		{"no aud", jwt.MapClaims{"iss": "https://login.example.in/"}, false, true},
		{"neither", jwt.MapClaims{}, false, true},
		{"another issuer", jwt.MapClaims{"iss": "https://evil.example/", "aud": "finflow-api"}, false, true},
		{"an issuer that differs by a slash", jwt.MapClaims{"iss": "https://login.example.in", "aud": "finflow-api"}, false, true},
		{"another audience", jwt.MapClaims{"iss": "https://login.example.in/", "aud": "payroll-api"}, false, true},
		{"an array without it", jwt.MapClaims{"iss": "https://login.example.in/", "aud": []string{"payroll-api"}}, false, true},
		{"an empty aud", jwt.MapClaims{"iss": "https://login.example.in/", "aud": ""}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := token(tc.claims)
			for _, v := range []struct {
				name   string
				tokens *domain.Tokens
				ok     bool
			}{{"with both configured", strict, tc.strict}, {"with neither configured", open, tc.open}} {
				_, err := v.tokens.Verify(h, now)
				if (err == nil) != v.ok || (err != nil && !errors.Is(err, auth.ErrUnauthenticated)) {
					t.Fatalf("%s: Verify = %v, want ok %v", v.name, err, v.ok)
				}
			}
		})
	}
	dev, err := strict.DevToken(user, "user", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Verify("Bearer "+dev, now); err != nil {
		t.Fatalf("a dev token with an issuer and audience configured: %v", err)
	}
}
