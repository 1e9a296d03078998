package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	sentryv1pb "github.com/dapr/dapr/pkg/proto/sentry/v1"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/finflow/finflow/tools/launcher/topology"
)

// The run's Sentry signs a certificate for an app id only for that app's
// own sidecar: a caller must send a token for that app id signed by the
// run's key. Without one, with another app's token, or with a token signed
// by another key, a process that asks for the payment service's
// certificate (and with it could call the wallet's internal API as
// "payment") is refused. The sidecars of the run got theirs with their
// tokens: every other test of the suite calls through them.
func TestSentrySignsOnlyForTheAppsOwnSidecar(t *testing.T) {
	t.Parallel()
	s, ok := env.Topology.Sentry()
	if !ok {
		t.Fatal("the suite runs without Sentry")
	}
	read := func(app string) string {
		b, err := os.ReadFile(env.Topology.App(app).SentryTokenFile)
		if err != nil {
			t.Fatalf("reading %s's Sentry token: %v", app, err)
		}
		return string(b)
	}
	// A token as the launcher's, for the payment app, signed by a key the
	// run's Sentry does not know, with the kid of the run's key.
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	own, _, err := jwt.NewParser().ParseUnverified(read("payment"), jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{
		Audience:  jwt.ClaimStrings{topology.SentryAudience()},
		Subject:   topology.AppSPIFFEID("payment"),
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	})
	forged.Header["kid"] = own.Header["kid"]
	forgedToken, err := forged.SignedString(otherKey)
	if err != nil {
		t.Fatal(err)
	}

	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the caller's trust in Sentry is not what is tested
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ca := sentryv1pb.NewCAClient(conn)
	csr := newCSR(t)

	refused := []struct {
		name      string
		validator sentryv1pb.SignCertificateRequest_TokenValidator
		token     string
	}{
		{"no token, no validator (Sentry's default)", sentryv1pb.SignCertificateRequest_UNKNOWN, ""},
		{"no token, insecure validator", sentryv1pb.SignCertificateRequest_INSECURE, ""},
		{"no token, jwks validator", sentryv1pb.SignCertificateRequest_JWKS, ""},
		{"a garbage token", sentryv1pb.SignCertificateRequest_JWKS, "not-a-jwt"},
		{"the wallet sidecar's token", sentryv1pb.SignCertificateRequest_JWKS, read("wallet")},
		{"a token signed by another key", sentryv1pb.SignCertificateRequest_JWKS, forgedToken},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := sign(ca, csr, "payment", tc.validator, tc.token)
			if err == nil {
				t.Fatalf("Sentry signed a certificate for payment (%s) to a caller with %s", certID(t, resp), tc.name)
			}
			t.Logf("refused: %v", err)
		})
	}
	// The payment sidecar's own token gets the payment identity: the
	// requests above are refused for their tokens, not for their form.
	t.Run("the payment sidecar's token", func(t *testing.T) {
		resp, err := sign(ca, csr, "payment", sentryv1pb.SignCertificateRequest_JWKS, read("payment"))
		if err != nil {
			t.Fatalf("Sentry refused the payment sidecar's own token: %v", err)
		}
		if got, want := certID(t, resp), topology.AppSPIFFEID("payment"); got != want {
			t.Fatalf("certificate for %s, want %s", got, want)
		}
	})
}

// sign asks Sentry for a certificate for appID in the run's namespace, as
// daprd does (pkg/security/sentry.go in Dapr 1.14).
func sign(ca sentryv1pb.CAClient, csr []byte, appID string, v sentryv1pb.SignCertificateRequest_TokenValidator, token string) (*sentryv1pb.SignCertificateResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ca.SignCertificate(ctx, &sentryv1pb.SignCertificateRequest{
		CertificateSigningRequest: csr,
		Id:                        appID,
		Namespace:                 "default",
		Token:                     token,
		TokenValidator:            v,
	})
}

// newCSR is a PEM certificate request for a fresh P-256 key.
func newCSR(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// certID is the SPIFFE ID of the leaf certificate Sentry answered.
func certID(t *testing.T, resp *sentryv1pb.SignCertificateResponse) string {
	t.Helper()
	b, _ := pem.Decode(resp.GetWorkloadCertificate())
	if b == nil {
		t.Fatal("no certificate in Sentry's answer")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URIs) == 0 {
		return "(no URI)"
	}
	return c.URIs[0].String()
}
