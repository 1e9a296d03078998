package topology

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The run's token key: the JWKS Sentry trusts holds its public half only,
// and each sidecar's token (a file only its owner reads) verifies with it
// for Sentry's audience and that app's SPIFFE ID, for longer than the
// certificates' renewals need. The real Sentry's check is in tests/e2e
// (TestSentrySignsOnlyForTheAppsOwnSidecar).
func TestSentryTokens(t *testing.T) {
	run := t.TempDir()
	s, err := newSentry(run, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(run, "sentry", "jwks", "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", raw, err)
	}
	k := set.Keys[0]
	if _, private := k["d"]; private {
		t.Fatal("the JWKS holds the private key")
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["kid"] != s.kid {
		t.Fatalf("JWKS key %v: %v", k, err)
	}
	cfg, _ := os.ReadFile(filepath.Join(run, "sentry", "config.yaml"))
	if !strings.Contains(string(cfg), "name: jwks") || !strings.Contains(string(cfg), filepath.Join(run, "sentry", "jwks", "jwks.json")) {
		t.Fatalf("Sentry's configuration does not name the JWKS:\n%s", cfg)
	}
	for _, app := range []string{"payment", "wallet"} {
		path, err := s.writeToken(run, app+"-2", app)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
		}
		tok, _ := os.ReadFile(path)
		var claims jwt.RegisteredClaims
		parsed, err := jwt.ParseWithClaims(string(tok), &claims, func(*jwt.Token) (any, error) { return ed25519.PublicKey(x), nil },
			jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("spiffe://localhost/ns/default/dapr-sentry"),
			jwt.WithSubject("spiffe://public/ns/default/"+app), jwt.WithExpirationRequired())
		if err != nil {
			t.Fatalf("%s's token: %v", app, err)
		}
		if parsed.Header["kid"] != s.kid {
			t.Errorf("%s's token has kid %v, want %s", app, parsed.Header["kid"], s.kid)
		}
		if left := time.Until(claims.ExpiresAt.Time); left < 30*24*time.Hour {
			t.Errorf("%s's token expires in %s", app, left)
		}
	}
}
