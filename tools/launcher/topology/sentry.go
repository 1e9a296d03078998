package topology

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sentry is a local Dapr Sentry: the certificate authority of the run. It
// makes its own root and issuer certificates in a fresh folder, so every
// run has its own trust anchors. It signs a certificate for an app id only
// when the request carries a token for that app id signed by the run's own
// key (Sentry's jwks validator; its insecure validator, which signs for
// anyone, is off once another validator is configured).
type sentry struct {
	// addr is where sidecars ask for certificates; healthz is its health
	// URL; metrics its Prometheus address.
	addr, healthz, metrics string
	dir                    string
	args                   []string
	proc                   *proc
	// key signs the run's Sentry tokens. It is made for each run and kept
	// in the launcher's memory only: the run folder holds its public half
	// (the JWKS Sentry trusts), never the private key.
	key ed25519.PrivateKey
	// kid names key in the JWKS and in every token's header.
	kid string
}

// The identities in the run's certificates. daprd asks Sentry for an app's
// certificate in the namespace of its NAMESPACE variable (the launcher sets
// sentryNamespace) and, for an app, without a trust domain, which Sentry
// takes as "public" (pkg/sentry/server/validator/internal in Dapr 1.14):
// an app's identity is spiffe://public/ns/default/<app id>, as the access
// policies in config/secure expect. Sentry's own identity, the audience of
// every token, is spiffe://<sentryTrustDomain>/ns/<its NAMESPACE>/dapr-sentry.
const (
	sentryNamespace = "default"
	appTrustDomain  = "public"
)

// sentryTokenLifetime is how long a sidecar's Sentry token is valid. daprd
// reads its token file again for every certificate request, renewals
// included (workloadCertTTL below is 24h), so a token must outlive the run;
// it is not rewritten. The run's key, and so every token of the run, is
// worthless once the run ends: the next run's Sentry trusts only the next
// run's key.
const sentryTokenLifetime = 365 * 24 * time.Hour

const sentryConfig = `# The local Sentry's configuration (written by the launcher).
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprsystem
spec:
  mtls:
    enabled: true
    workloadCertTTL: "24h"
    allowedClockSkew: "15m"
    # A sidecar proves its app id with a token signed by the run's key
    # (the launcher writes one per sidecar). Configuring a validator turns
    # off Sentry's "insecure" one, which signed for any app id.
    tokenValidators:
      - name: jwks
        options:
          source: %q
`

// newSentry prepares the run's Sentry: its ports, its folder, the run's
// token key and the JWKS that holds the key's public half. Sentry serves
// certificate requests on listen only; its health and metrics on loopback.
func newSentry(runDir, listen string) (*sentry, error) {
	var ports [3]int
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	dir := filepath.Join(runDir, "sentry")
	for _, d := range []string{"issuer", "jwks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	s := &sentry{
		addr:    net.JoinHostPort(listen, strconv.Itoa(ports[0])),
		healthz: fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[1]),
		metrics: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])),
		dir:     dir,
		key:     key,
		kid:     randomToken()[:16],
	}
	// The JWKS has a folder of its own: Sentry watches the folder of its
	// source and reloads on every change there.
	jwks := filepath.Join(dir, "jwks", "jwks.json")
	if err := os.WriteFile(jwks, s.jwks(), 0o600); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(sentryConfig, jwks)), 0o600); err != nil {
		return nil, err
	}
	s.args = []string{
		"--config", cfg, "--issuer-credentials", filepath.Join(dir, "issuer"),
		"--trust-domain", sentryTrustDomain,
		"--port", strconv.Itoa(ports[0]), "--listen-address", listen,
		"--healthz-port", strconv.Itoa(ports[1]), "--healthz-listen-address", "127.0.0.1",
		"--metrics-port", strconv.Itoa(ports[2]), "--metrics-listen-address", "127.0.0.1",
	}
	return s, nil
}

// jwks is the JSON Web Key Set with the public half of the run's key
// (RFC 8037: an Ed25519 key is kty OKP, crv Ed25519, x the public key).
func (s *sentry) jwks() []byte {
	pub := s.key.Public().(ed25519.PublicKey)
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": s.kid,
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}}})
	return b
}

// SentryAudience is the audience every token for the run's Sentry names:
// Sentry's own SPIFFE ID.
func SentryAudience() string {
	return fmt.Sprintf("spiffe://%s/ns/%s/dapr-sentry", sentryTrustDomain, sentryNamespace)
}

// AppSPIFFEID is the identity the run's Sentry certifies for an app id, and
// the subject of that app's token.
func AppSPIFFEID(appID string) string {
	return fmt.Sprintf("spiffe://%s/ns/%s/%s", appTrustDomain, sentryNamespace, appID)
}

// token is a JWT that lets its holder get certificates for appID from the
// run's Sentry: signed with the run's key (EdDSA), audience Sentry, subject
// the app's SPIFFE ID, valid for sentryTokenLifetime.
func (s *sentry) token(appID string) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{
		Audience:  jwt.ClaimStrings{SentryAudience()},
		Subject:   AppSPIFFEID(appID),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(sentryTokenLifetime)),
	})
	tok.Header["kid"] = s.kid
	return tok.SignedString(s.key)
}

// writeToken writes appID's token into <runDir>/sentry-tokens/<name>.jwt,
// readable by its owner only, and returns the file's path. daprd reads it
// (DAPR_SENTRY_TOKEN_FILE) for every certificate request.
func (s *sentry) writeToken(runDir, name, appID string) (string, error) {
	dir := filepath.Join(runDir, "sentry-tokens")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tok, err := s.token(appID)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".jwt")
	// No newline: daprd sends the file's bytes as they are.
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// startSentry runs Sentry, waits until it is healthy and has written its
// root certificate, and hands that certificate to every sidecar as its
// trust anchor.
func (t *Topology) startSentry(ctx context.Context) error {
	s := t.sentry
	if s == nil {
		return nil
	}
	logDir := t.opts.LogDir
	if logDir == "" {
		logDir = filepath.Join(filepath.Dir(t.opts.RunFile.Path), "var", "logs")
	}
	// Sentry's own identity (the tokens' audience) is in the namespace of
	// its NAMESPACE variable: the launcher's, not the caller's environment.
	env := slices.Clip(append(os.Environ(), "NAMESPACE="+sentryNamespace))
	s.proc = &proc{name: "sentry", argv: append([]string{t.opts.Sentry}, s.args...), dir: s.dir, env: env,
		logPath: filepath.Join(logDir, "sentry.log"), console: t.console, toFile: true, toCons: false}
	s.proc.onExit = func(p *proc, err error) {
		t.console.loud("sentry died unexpectedly: %v; sidecars cannot renew certificates. Log: %s", err, p.logPath)
	}
	if !finflowSentry(t.opts.Sentry) {
		t.console.loud("%s is not FinFlow's Sentry build (.bin/finflow-sentry from tools/daprd/sentry; `make daprd` builds it): Dapr's own 1.14 Sentry ignores its listen addresses and serves certificates, health and metrics on every interface", t.opts.Sentry)
	}
	if err := s.proc.start(); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	ca := filepath.Join(s.dir, "issuer", "ca.crt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !s.proc.running() {
			return t.exitError(ctx, s.proc)
		}
		if httpOK(ctx, client, s.healthz) && fileExists(ca) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sentry not ready after 30s; see %s", s.proc.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	anchors, err := os.ReadFile(ca)
	if err != nil {
		return err
	}
	for _, a := range t.apps {
		a.daprd.env = append(a.daprd.env, "DAPR_TRUST_ANCHORS="+string(anchors))
	}
	t.console.say("sentry is up (mTLS between sidecars; trust domain %s; a certificate for an app id only with that app's token)", sentryTrustDomain)
	return nil
}

// sentryBuild is what FinFlow's Sentry build (tools/daprd/sentry) says of
// itself in --help.
const sentryBuild = "FinFlow build of Dapr Sentry 1.14"

// finflowSentry reports whether bin is FinFlow's Sentry build, which
// listens only on the addresses it is given (Dapr's cmd/sentry 1.14 listens
// on every interface whatever its flags say).
func finflowSentry(bin string) bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput() // --help exits 2
	return strings.Contains(string(out), sentryBuild)
}

// SentryInfo is where the run's Sentry serves, for tests and diagnostics.
type SentryInfo struct {
	// Addr is the certificate service (gRPC, TLS with the run's root).
	Addr string
	// Healthz is its health URL; Metrics its Prometheus address.
	Healthz, Metrics string
	// TrustAnchors is the path of the run's root certificate (PEM).
	TrustAnchors string
}

// Sentry describes the run's Sentry; ok is false for a run without one.
func (t *Topology) Sentry() (info SentryInfo, ok bool) {
	if t.sentry == nil {
		return SentryInfo{}, false
	}
	s := t.sentry
	return SentryInfo{Addr: s.addr, Healthz: s.healthz, Metrics: s.metrics,
		TrustAnchors: filepath.Join(s.dir, "issuer", "ca.crt")}, true
}

// FindSentry returns the sentry binary ($DAPR_SENTRY; FinFlow's build,
// <root>/.bin/finflow-sentry, which `make daprd` makes; else Dapr's own,
// <root>/.bin/sentry or next to daprd, with a warning at start), or "".
func FindSentry(root, daprd string) string {
	cands := []string{os.Getenv("DAPR_SENTRY"), filepath.Join(root, ".bin", "finflow-sentry"), filepath.Join(root, ".bin", "sentry")}
	if daprd != "" {
		cands = append(cands, filepath.Join(filepath.Dir(daprd), "sentry"))
	}
	for _, c := range cands {
		if c != "" && fileExists(c) {
			return c
		}
	}
	return ""
}
