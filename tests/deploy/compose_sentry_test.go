package deploy

// Checks of the Compose Sentry (Dapr's certificate authority): it runs as
// the launcher runs it for `make run`, and the certificate authority it
// signs with is whole, valid now, and the one every sidecar trusts.

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// composeSentry returns the Compose Sentry service (the one service on
// composeSentryImage), or fails the test.
func (r *composeRepo) composeSentry(tb testing.TB) (string, composeService) {
	tb.Helper()
	var names []string
	for name, s := range r.compose.Services {
		if s.Image == composeSentryImage {
			names = append(names, name)
		}
	}
	if len(names) != 1 {
		tb.Fatalf("services on %s = %v, want exactly one (mTLS and the access policies need it)", composeSentryImage, names)
	}
	s := r.compose.Services[names[0]]
	if len(s.Command) == 0 || (s.Command[0] != "./sentry" && s.Command[0] != "/sentry") {
		tb.Fatalf("%s: command = %q, want ./sentry and its flags", names[0], s.Command)
	}
	return names[0], s
}

// composeSentryFile reads one file of the folder Sentry's
// --issuer-credentials is mounted from.
func (r *composeRepo) composeSentryFile(tb testing.TB, name string) []byte {
	tb.Helper()
	sn, s := r.composeSentry(tb)
	creds := composeFlag(composeFlags(s.Command[1:]), "issuer-credentials")
	host, ok := r.composeHostPath(s, creds)
	if !ok {
		tb.Fatalf("%s: --issuer-credentials %q is not in a bind-mounted folder", sn, creds)
	}
	raw, err := os.ReadFile(filepath.Join(host, name))
	if err != nil {
		tb.Fatalf("%s's %s: %v", sn, name, err)
	}
	return raw
}

// TestComposeSentry checks the Compose Sentry: the sidecars' Dapr release,
// a daprsystem Configuration with mTLS on (without it Sentry stops at
// start), the trust domain the launcher uses, and an issuer that belongs to
// the trust anchors, matches its key and is valid now.
func TestComposeSentry(t *testing.T) {
	r := composeLoad(t)
	name, s := r.composeSentry(t)
	flags := composeFlags(s.Command[1:])
	if got := composeOr(composeFlag(flags, "trust-domain"), "localhost"); got != "localhost" {
		t.Errorf("%s: --trust-domain = %q, want localhost (the launcher's)", name, got)
	}
	if s.Restart == "" || s.Restart == "no" {
		t.Errorf("%s: restart = %q: sidecars cannot renew certificates while it is down", name, s.Restart)
	}

	cfg := composeFlag(flags, "config")
	host, ok := r.composeHostPath(s, cfg)
	if !ok {
		t.Fatalf("%s: --config %q is not in a bind-mounted folder", name, cfg)
	}
	raw, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			MTLS struct {
				Enabled bool `yaml:"enabled"`
			} `yaml:"mtls"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v", r.composeRel(t, host), err)
	}
	if c.Kind != "Configuration" || c.Metadata.Name != "daprsystem" || !c.Spec.MTLS.Enabled {
		t.Errorf("%s: %s %q with mtls.enabled %v, want Configuration \"daprsystem\" with mTLS on", r.composeRel(t, host), c.Kind, c.Metadata.Name, c.Spec.MTLS.Enabled)
	}

	anchors := composeCertificates(t, r.composeSentryFile(t, "ca.crt"))
	issuer := composeCertificates(t, r.composeSentryFile(t, "issuer.crt"))
	roots := x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	now := time.Now()
	if _, err := issuer[0].Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("issuer.crt does not verify against ca.crt now: %v (tools/compose/test-mode-ca.sh writes a new set)", err)
	}
	if !issuer[0].IsCA || issuer[0].KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("issuer.crt is not a CA that may sign certificates")
	}
	block, _ := pem.Decode(r.composeSentryFile(t, "issuer.key"))
	if block == nil {
		t.Fatal("issuer.key holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("issuer.key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !composePublicKeysEqual(signer.Public(), issuer[0].PublicKey) {
		t.Error("issuer.key is not the key of issuer.crt")
	}
	if got := issuer[0].Subject.Organization; len(got) != 1 || !strings.HasPrefix(got[0], "spiffe://localhost/") {
		t.Errorf("issuer.crt organization = %q, want Sentry's identity in the trust domain localhost", got)
	}
}

// composeCertificates parses every certificate of a PEM file.
func composeCertificates(tb testing.TB, raw []byte) []*x509.Certificate {
	tb.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		tb.Fatal("no certificate in the file")
	}
	return out
}

// composePublicKeysEqual compares two public keys.
func composePublicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
