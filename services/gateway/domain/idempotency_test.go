package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/services/gateway/domain"
)

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "order-123_retry.1", strings.Repeat("k", 255), "with space ok"} {
		if err := domain.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range []string{"", strings.Repeat("k", 256), "tab\there", "é"} {
		if err := domain.ValidateKey(k); err == nil {
			t.Errorf("ValidateKey(%q) = nil, want an error", k)
		}
	}
}

func TestFingerprintComparesJSONByMeaning(t *testing.T) {
	a := domain.Fingerprint("POST", "/wallet/add", []byte(`{"user_id":"u","amount":100}`))
	b := domain.Fingerprint("POST", "/wallet/add", []byte("{ \"amount\": 100,\n \"user_id\": \"u\" }"))
	c := domain.Fingerprint("POST", "/wallet/add", []byte(`{"user_id":"u","amount":101}`))
	d := domain.Fingerprint("POST", "/billing/create", []byte(`{"user_id":"u","amount":100}`))
	if a != b {
		t.Errorf("same JSON, other spacing and order: fingerprints differ")
	}
	if a == c || a == d {
		t.Errorf("different amount or path: same fingerprint")
	}
}

func TestDecide(t *testing.T) {
	now := time.Now()
	running := domain.Record{Fingerprint: "x", StartedAt: now.Add(-time.Second), Deadline: now.Add(time.Second)}
	cases := []struct {
		name    string
		rec     domain.Record
		fp      string
		want    domain.Decision
		wantErr error
	}{
		{"done, same request", domain.Record{Fingerprint: "x", Done: true, StartedAt: now}, "x", domain.Replay, nil},
		{"done, other request", domain.Record{Fingerprint: "x", Done: true, StartedAt: now}, "y", 0, domain.ErrKeyReused},
		{"running, same request", running, "x", 0, domain.ErrKeyInUse},
		{"running, other request", running, "y", 0, domain.ErrKeyReused},
		{"running past its deadline", domain.Record{Fingerprint: "x", StartedAt: now.Add(-3 * time.Second), Deadline: now.Add(-time.Millisecond)}, "x", domain.TakeOver, nil},
		{"no deadline (older gateway), recent", domain.Record{Fingerprint: "x", StartedAt: now.Add(-time.Second)}, "x", 0, domain.ErrKeyInUse},
		{"no deadline (older gateway), old", domain.Record{Fingerprint: "x", StartedAt: now.Add(-2 * domain.LegacyStaleAfter)}, "x", domain.TakeOver, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.Decide(tc.rec, tc.fp, now)
			if got != tc.want || !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
				t.Fatalf("Decide = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// Kept: only an answer that is this request's own is replayed to its
// repeats.
func TestKept(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   bool
	}{
		{201, "", true},
		{200, "", true},
		{404, "BILL_NOT_FOUND", true},
		{409, "BILL_ALREADY_PAID", true},
		{422, "INSUFFICIENT_FUNDS", true},
		{400, "VALIDATION_FAILED", false},
		{500, "", false},
		{503, "UNAVAILABLE", false},
		{422, "IDEMPOTENCY_KEY_REUSED", false},
		{409, "IDEMPOTENCY_KEY_IN_USE", false},
	} {
		if got := domain.Kept(tc.status, tc.code); got != tc.want {
			t.Errorf("Kept(%d, %q) = %v, want %v", tc.status, tc.code, got, tc.want)
		}
	}
}
