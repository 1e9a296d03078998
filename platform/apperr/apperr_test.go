package apperr_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
)

var errThingMissing = apperr.New(apperr.KindNotFound, "THING_NOT_FOUND", "thing not found")

func TestHTTP(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"sentinel", errThingMissing, http.StatusNotFound, "THING_NOT_FOUND", "thing not found"},
		{"wrapped sentinel", fmt.Errorf("loading thing: %w", errThingMissing), http.StatusNotFound, "THING_NOT_FOUND", "thing not found"},
		{"validation", apperr.Invalid("email", "email is required"), http.StatusBadRequest, "VALIDATION_FAILED", "email is required"},
		{"plain error is internal and generic", errors.New("redis: connection refused"), http.StatusInternalServerError, "INTERNAL", "internal error"},
		{"temporary dependency failure is 503", fmt.Errorf("reading: %w", tempErr{}), http.StatusServiceUnavailable, "UNAVAILABLE", "a service FinFlow depends on is not answering; try again shortly"},
		{"unavailable", apperr.Unavailable("wallet is not answering", errors.New("dial tcp")), http.StatusServiceUnavailable, "UNAVAILABLE", "wallet is not answering"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := apperr.HTTP(tc.err)
			if status != tc.wantStatus || body.Error.Code != tc.wantCode || body.Error.Message != tc.wantMsg {
				t.Fatalf("HTTP(%v) = %d %+v, want %d %s %q", tc.err, status, body.Error, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestIsMatchesKindAndCode(t *testing.T) {
	specific := errThingMissing.With("thing abc not found", map[string]any{"id": "abc"})
	if !errors.Is(fmt.Errorf("x: %w", specific), errThingMissing) {
		t.Fatalf("errors.Is(specific, sentinel) = false, want true")
	}
	other := apperr.New(apperr.KindNotFound, "OTHER_NOT_FOUND", "other")
	if errors.Is(other, errThingMissing) {
		t.Fatalf("errors.Is(other, sentinel) = true, want false")
	}
}

func TestKindForStatusRoundTrips(t *testing.T) {
	for _, k := range []apperr.Kind{apperr.KindInvalid, apperr.KindNotFound, apperr.KindConflict, apperr.KindUnprocessable, apperr.KindUnavailable, apperr.KindTooLarge} {
		if got := apperr.KindForStatus(k.Status()); got != k {
			t.Errorf("KindForStatus(%d) = %v, want %v", k.Status(), got, k)
		}
	}
	if got := apperr.KindForStatus(418); got != apperr.KindInternal {
		t.Errorf("KindForStatus(418) = %v, want KindInternal", got)
	}
}

type tempErr struct{}

func (tempErr) Error() string   { return "redis: connection refused" }
func (tempErr) Temporary() bool { return true }

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"text/plain", 100, "text/plain"},
		{"a\x00b\nc\x7fd", 100, `a\u0000b\u000ac\u007fd`},
		{"héllo", 100, `h\u00e9llo`},
		{"\u0430mount", 100, `\u0430mount`},
		{"a\u202eb", 100, `a\u202eb`},
		{"a\xffb", 100, `a\xffb`},
		{"😀", 100, `\U0001f600`},
		{"abcdef", 3, "abc"},
		{"ab\u00e9", 5, "ab"}, // an escape is never cut in half
		{"", 5, ""},
	} {
		if got := apperr.Printable(tc.in, tc.n); got != tc.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
