package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/gateway/domain"
)

// Token parsing never panics, and nothing but a token signed with the key
// verifies: a mutated token is refused as UNAUTHENTICATED.
func FuzzVerifyToken(f *testing.F) {
	tokens, err := domain.NewTokens(domain.TokenConfig{DevKey: devKey})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := tokens.DevToken(id.New(id.User), "user", time.Hour, time.Now())
	f.Add("Bearer " + good)
	f.Add("Bearer " + good + "x")
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("Bearer ...")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		ident, err := tokens.Verify(header, time.Now())
		if err != nil {
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("Verify error %v, want UNAUTHENTICATED", err)
			}
			return
		}
		if header != "Bearer "+good {
			// A different string that still verifies must at least carry a
			// valid identity (base64 padding variants can).
			if auth.ValidIdentity(ident.Sub, ident.Role) != nil {
				t.Fatalf("Verify accepted %q with identity %+v", header, ident)
			}
		}
	})
}
