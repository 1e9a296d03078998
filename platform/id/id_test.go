package id_test

import (
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/id"
)

func TestNewIsValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		v := id.New(id.User)
		if !id.Valid(id.User, v) {
			t.Fatalf("Valid(%q) = false for a fresh id", v)
		}
		if seen[v] {
			t.Fatalf("New returned %q twice", v)
		}
		seen[v] = true
	}
}

func TestValid(t *testing.T) {
	good := id.New(id.Bill)
	cases := []struct {
		name   string
		prefix string
		in     string
		want   bool
	}{
		{"fresh", id.Bill, good, true},
		{"wrong prefix", id.User, good, false},
		{"no prefix", id.Bill, strings.TrimPrefix(good, "bill_"), false},
		{"too short", id.Bill, good[:len(good)-1], false},
		{"too long", id.Bill, good + "0", false},
		{"upper case", id.Bill, strings.ToUpper(good), false},
		{"path traversal", id.Bill, "bill_../../wallet/deduct0000000", false},
		{"excluded letter", id.Bill, "bill_" + strings.Repeat("u", 26), false},
		{"empty", id.Bill, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := id.Valid(tc.prefix, tc.in); got != tc.want {
				t.Fatalf("Valid(%q, %q) = %v, want %v", tc.prefix, tc.in, got, tc.want)
			}
		})
	}
}

func TestDerive(t *testing.T) {
	a, b := id.Derive(id.Payment, "tok-1"), id.Derive(id.Payment, "tok-1")
	if a != b || !id.Valid(id.Payment, a) {
		t.Fatalf("Derive = %q, %q; want equal valid ids", a, b)
	}
	if id.Derive(id.Payment, "tok-2") == a || id.Derive(id.Bill, "tok-1") == "bill_"+strings.TrimPrefix(a, "pay_") {
		t.Fatalf("Derive must differ by token and by prefix")
	}
}

// Prefixes holds every prefix constant once.
func TestPrefixes(t *testing.T) {
	want := []string{id.User, id.Bill, id.Payment, id.Transaction, id.TopUp, id.Refund, id.Subscription}
	seen := map[string]bool{}
	for _, p := range id.Prefixes {
		seen[p] = true
	}
	if len(seen) != len(want) || len(id.Prefixes) != len(want) {
		t.Fatalf("Prefixes = %v, want each of %v once", id.Prefixes, want)
	}
	for _, p := range want {
		if !seen[p] {
			t.Fatalf("Prefixes lacks %q", p)
		}
	}
}
