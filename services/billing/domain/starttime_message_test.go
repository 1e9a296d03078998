package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// A start_at finer than a millisecond is refused naming start_at and
// saying why, instead of being kept as another instant; lower-case t and
// z are taken.
func TestNewSubscriptionStartAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, startAt string
		want          string // the start kept, RFC 3339; "" for refused
		wantMessage   string
	}{
		{"lower case", "2026-12-02t13:40:00z", "2026-12-02T13:40:00Z", ""},
		{"milliseconds", "2026-12-02T13:40:00.123Z", "2026-12-02T13:40:00.123Z", ""},
		{"nanoseconds", "2026-12-02T13:40:00.123456789Z", "", "times are kept to the millisecond"},
		{"not a time", "2026-12-02", "", "RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := NewSubscriptionRequest{UserID: id.New(id.User), Amount: money.Amount(100), Description: "Broadband", Interval: "DAILY", StartAt: &tc.startAt}
			sub, err := NewSubscription(req, now)
			if tc.want != "" {
				if got := sub.StartAt.Format(time.RFC3339Nano); err != nil || got != tc.want {
					t.Fatalf("NewSubscription(start_at %s) = %s, %v; want %s", tc.startAt, got, err, tc.want)
				}
				return
			}
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.CodeValidationFailed || e.Details["field"] != "start_at" || !strings.Contains(e.Message, tc.wantMessage) {
				t.Fatalf("NewSubscription(start_at %s) = %v, want VALIDATION_FAILED on start_at saying %q", tc.startAt, err, tc.wantMessage)
			}
		})
	}
}
