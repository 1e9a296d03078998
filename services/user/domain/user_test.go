package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/user/domain"
)

func TestNewUser(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.FixedZone("IST", 19800))
	cases := []struct {
		name, in, email, phone string
		wantField              string // "" for a valid sign-up
		wantPhone              string
	}{
		{"valid", "Asha Rao", "asha@example.in", "", "", ""},
		{"trims", "  Asha  ", " asha@example.in ", "", "", ""},
		{"unicode name", "आशा राव", "asha@example.in", "", "", ""},
		{"phone normalised", "Asha", "asha@example.in", "+91 98765-43210", "", "+919876543210"},
		{"phone digits only", "Asha", "asha@example.in", "(080) 2345 6789", "", "08023456789"},
		{"empty name", "", "asha@example.in", "", "name", ""},
		{"blank name", "   ", "asha@example.in", "", "name", ""},
		{"long name", strings.Repeat("a", domain.MaxNameLen+1), "asha@example.in", "", "name", ""},
		{"control char in name", "Asha\x00", "asha@example.in", "", "name", ""},
		{"bidi override in name", "Asha \u202eoaR", "asha@example.in", "", "name", ""},
		{"zero-width space only name", "\u200b", "asha@example.in", "", "name", ""},
		{"name with a joiner", "\u0915\u094d\u200d\u0937", "asha@example.in", "", "", ""},
		{"bidi override in email", "Asha", "asha\u202e@example.in", "", "email", ""},
		{"empty email", "Asha", "", "", "email", ""},
		{"no at", "Asha", "asha.example.in", "", "email", ""},
		{"display name", "Asha", "Asha <asha@example.in>", "", "email", ""},
		{"no dot in domain", "Asha", "asha@localhost", "", "email", ""},
		{"two ats", "Asha", "a@b@example.in", "", "email", ""},
		{"long email", "Asha", strings.Repeat("a", 250) + "@x.in", "", "email", ""},
		{"phone letters", "Asha", "asha@example.in", "98765abc", "phone", ""},
		{"phone too short", "Asha", "asha@example.in", "12345", "phone", ""},
		{"phone too long", "Asha", "asha@example.in", "1234567890123456", "phone", ""},
		{"plus not first", "Asha", "asha@example.in", "91+9876543210", "phone", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := domain.NewUser(tc.in, tc.email, tc.phone, now)
			if tc.wantField != "" {
				var ae *apperr.Error
				if !errors.As(err, &ae) || ae.Details["field"] != tc.wantField {
					t.Fatalf("NewUser(%q, %q, %q) = %v, want VALIDATION_FAILED on %s", tc.in, tc.email, tc.phone, err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewUser(%q, %q, %q) = %v, want nil", tc.in, tc.email, tc.phone, err)
			}
			if !id.Valid(id.User, u.ID) {
				t.Errorf("ID = %q, want a usr_ id", u.ID)
			}
			if u.Name != strings.TrimSpace(tc.in) || u.Email != strings.TrimSpace(tc.email) || u.Phone != tc.wantPhone {
				t.Errorf("got %+v", u)
			}
			if u.CreatedAt.Location() != time.UTC || u.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
				t.Errorf("CreatedAt = %v, want UTC truncated to ms", u.CreatedAt)
			}
		})
	}
}

func TestEmailKeyIgnoresCase(t *testing.T) {
	if a, b := domain.EmailKey("Asha.Rao@Example.IN"), domain.EmailKey(" asha.rao@example.in"); a != b {
		t.Fatalf("EmailKey differs: %q vs %q", a, b)
	}
}
