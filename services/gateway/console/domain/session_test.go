package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/services/gateway/console/domain"
)

func TestNewSession(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	admin := auth.Identity{Sub: "ops-1", Role: auth.RoleAdmin}
	cases := []struct {
		name        string
		tokenExpiry time.Time
		wantExpires time.Time
		wantTTL     int
		wantErr     bool
	}{
		{"a long token gives the full hour", now.Add(24 * time.Hour), now.Add(time.Hour), 3600, false},
		{"a token of exactly an hour", now.Add(time.Hour), now.Add(time.Hour), 3600, false},
		{"a shorter token ends the session with it", now.Add(10*time.Minute + 500*time.Millisecond), now.Add(10*time.Minute + 500*time.Millisecond), 601, false},
		{"a minute left is enough", now.Add(time.Minute), now.Add(time.Minute), 60, false},
		{"less than a minute left is refused", now.Add(59 * time.Second), time.Time{}, 0, true},
		{"an expired token is refused", now.Add(-time.Second), time.Time{}, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, id, err := domain.NewSession(admin, tc.tokenExpiry, now)
			if tc.wantErr {
				if !errors.Is(err, auth.ErrUnauthenticated) || id != "" {
					t.Fatalf("= %q, %v; want no session and ErrUnauthenticated", id, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.Expires.Equal(tc.wantExpires) || s.Sub != admin.Sub || s.Role != admin.Role {
				t.Errorf("session %+v, want %s expiring %s", s, admin.Sub, tc.wantExpires)
			}
			if got := s.TTL(now); got != tc.wantTTL {
				t.Errorf("TTL = %d, want %d", got, tc.wantTTL)
			}
			if !domain.ValidSessionID(id) {
				t.Errorf("id %q is not of the session id shape", id)
			}
		})
	}
}

func TestSessionIDsAreDistinct(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	for range 1000 {
		_, id, err := domain.NewSession(auth.Identity{Sub: "ops-1", Role: auth.RoleAdmin}, now.Add(time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
	}
}

func TestSessionIdentity(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		s       domain.Session
		at      time.Time
		wantErr bool
	}{
		{"valid", domain.Session{Sub: "ops-1", Role: "admin", Expires: now.Add(time.Minute)}, now, false},
		{"at its expiry", domain.Session{Sub: "ops-1", Role: "admin", Expires: now}, now, true},
		{"after its expiry", domain.Session{Sub: "ops-1", Role: "admin", Expires: now}, now.Add(time.Second), true},
		{"no subject", domain.Session{Role: "admin", Expires: now.Add(time.Minute)}, now, true},
		{"unknown role", domain.Session{Sub: "ops-1", Role: "root", Expires: now.Add(time.Minute)}, now, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ident, err := tc.s.Identity(tc.at)
			if tc.wantErr {
				if !errors.Is(err, auth.ErrUnauthenticated) {
					t.Fatalf("= %+v, %v; want ErrUnauthenticated", ident, err)
				}
				return
			}
			if err != nil || ident.Sub != tc.s.Sub || ident.Role != tc.s.Role {
				t.Fatalf("= %+v, %v", ident, err)
			}
		})
	}
	if ttl := (domain.Session{Expires: now}).TTL(now.Add(time.Second)); ttl != 0 {
		t.Errorf("TTL of an expired session = %d, want 0", ttl)
	}
}

func TestValidSessionID(t *testing.T) {
	cases := []struct {
		id   string
		want bool
	}{
		{strings.Repeat("A", 43), true},
		{"", false},
		{strings.Repeat("A", 42), false},
		{strings.Repeat("A", 44), false},
		{strings.Repeat("A", 42) + "=", false},
		{strings.Repeat("A", 42) + "/", false},
		{strings.Repeat("A", 42) + "B", false},                    // another spelling of the same bytes (strict decoding)
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMtMSJ9.c2ln", false}, // a bearer token
	}
	for _, tc := range cases {
		if got := domain.ValidSessionID(tc.id); got != tc.want {
			t.Errorf("ValidSessionID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
