package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/gateway/domain"
)

// The Authorization header is read as RFC 9110 writes credentials: the
// scheme case-insensitive (section 11.1), then one or more spaces and one
// token68 (section 11.6.2), whitespace around the value not part of it.
func TestBearerToken(t *testing.T) {
	tokens, err := domain.NewTokens(domain.TokenConfig{DevKey: devKey})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	dev, err := tokens.DevToken(id.New(id.User), "user", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header string
		ok     bool
	}{
		{"Bearer", "Bearer " + dev, true},
		{"bearer", "bearer " + dev, true},
		{"BEARER", "BEARER " + dev, true},
		{"bEaReR", "bEaReR " + dev, true},
		{"two spaces after the scheme", "Bearer  " + dev, true},
		{"whitespace around the value", " \tBearer " + dev + " \t", true},
		{"a tab after the scheme", "Bearer\t" + dev, false},
		{"a space then a tab", "Bearer \t" + dev, false},
		{"no token", "Bearer", false},
		{"no token after the space", "Bearer ", false},
		{"only spaces after the scheme", "Bearer   ", false},
		{"two tokens", "Bearer " + dev + " " + dev, false},
		{"a tab inside", "Bearer " + dev + "\tx", false},
		{"Basic", "Basic dXNlcjpwYXNz", false},
		{"Basic with the token", "Basic " + dev, false},
		{"the scheme glued to the token", "Bearer" + dev, false},
		{"a longer scheme", "Bearerx " + dev, false},
		{"the token alone", dev, false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := domain.BearerToken(tc.header)
			if ok != tc.ok || (ok && got != dev) {
				t.Fatalf("BearerToken(%q) = %q, %v; want ok=%v", tc.header, got, ok, tc.ok)
			}
			ident, err := tokens.Verify(tc.header, now)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify(%q) = %+v, %v; want ok=%v", tc.header, ident, err, tc.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("Verify(%q) = %v, want ErrUnauthenticated", tc.header, err)
			}
		})
	}
}
