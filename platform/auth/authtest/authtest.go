// Package authtest gives unit tests signed identities: a key pair made
// fresh for each test binary, a Verifier for the service under test, and
// the header a gateway would forward.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/finflow/finflow/platform/auth"
)

var (
	signer   *auth.Signer
	verifier *auth.Verifier
)

func init() {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, _ = auth.NewSigner(base64.StdEncoding.EncodeToString(priv.Seed()))
	verifier, _ = auth.NewVerifier(base64.StdEncoding.EncodeToString(pub))
}

// Verifier checks identities made by Identity.
func Verifier() *auth.Verifier { return verifier }

// Identity returns a signed identity header value for sub and role.
func Identity(sub, role string) string {
	tok, err := signer.Sign(auth.Identity{Sub: sub, Role: role}, time.Minute, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}
