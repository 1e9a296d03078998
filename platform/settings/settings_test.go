package settings_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/settings"
)

func TestApply(t *testing.T) {
	const key = "users.list.default_limit"
	cases := []struct {
		name string
		raw  string
		want int64
	}{
		{"valid", "25", 25},
		{"spaces trimmed", " 30 ", 30},
		{"below min ignored", "0", 50},
		{"above max ignored", "5000", 50},
		{"not a number ignored", "fifty", 50},
		{"fraction ignored", "2.5", 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := settings.New(slog.New(slog.NewTextHandler(io.Discard, nil)),
				settings.Int{Key: key, Default: 50, Min: 1, Max: 1000})
			s.Apply(map[string]string{key: tc.raw, "someone.else": "7"})
			if got := s.Get(key); got != tc.want {
				t.Fatalf("after Apply(%q) Get = %d, want %d", tc.raw, got, tc.want)
			}
		})
	}
}

func TestTextSettings(t *testing.T) {
	s := settings.New(slog.New(slog.NewTextHandler(io.Discard, nil))).WithStrings(
		settings.String{Key: "razorpay.api_base_url", Default: "http://127.0.0.1:8090", Valid: func(v string) bool { return strings.HasPrefix(v, "http") }})
	s.Apply(map[string]string{"razorpay.api_base_url": "ftp://nope"})
	if got := s.Text("razorpay.api_base_url"); got != "http://127.0.0.1:8090" {
		t.Fatalf("after an invalid value: %q, want the default kept", got)
	}
	s.Apply(map[string]string{"razorpay.api_base_url": " https://api.razorpay.com "})
	if got := s.Text("razorpay.api_base_url"); got != "https://api.razorpay.com" {
		t.Fatalf("Text = %q", got)
	}
}

// logged returns a logger and the text it wrote.
func logged(tb testing.TB) (*slog.Logger, *strings.Builder) {
	tb.Helper()
	var out strings.Builder
	return slog.New(slog.NewTextHandler(&out, nil)), &out
}

func newSettings(log *slog.Logger) *settings.Settings {
	return settings.New(log, settings.Int{Key: "users.list.default_limit", Default: 50, Min: 1, Max: 1000}).WithStrings(
		settings.String{Key: "razorpay.api_base_url", Default: "http://127.0.0.1:8090", Valid: func(v string) bool { return strings.HasPrefix(v, "http") }})
}

// A key the store no longer holds (deleted: "" in an update; absent from a
// full read, which the watch gives as "") returns to its declared default,
// for numbers and text alike, and says so.
func TestApplyMissingKeyGivesDefault(t *testing.T) {
	cases := []struct {
		name    string
		key     string
		set     []string // applied first, in order
		missing string   // the value that says the key is gone
		want    string
		wantLog string
	}{
		{"number deleted", "users.list.default_limit", []string{"5"}, "", "50", "back to its default"},
		{"number deleted, blank", "users.list.default_limit", []string{"5"}, "  ", "50", "back to its default"},
		{"number never set", "users.list.default_limit", nil, "", "50", ""},
		{"number deleted after an invalid value", "users.list.default_limit", []string{"5", "fifty"}, "", "50", "back to its default"},
		{"text deleted", "razorpay.api_base_url", []string{"https://api.razorpay.com"}, "", "http://127.0.0.1:8090", "back to its default"},
		{"text deleted after an invalid value", "razorpay.api_base_url", []string{"https://api.razorpay.com", "ftp://nope"}, "", "http://127.0.0.1:8090", "back to its default"},
		{"text never set", "razorpay.api_base_url", nil, "", "http://127.0.0.1:8090", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, out := logged(t)
			s := newSettings(log)
			for _, v := range tc.set {
				s.Apply(map[string]string{tc.key: v})
			}
			out.Reset()
			s.Apply(map[string]string{tc.key: tc.missing})
			if got := fmt.Sprint(s.Snapshot()[tc.key]); got != tc.want {
				t.Fatalf("after Apply(%q...) then Apply(%q): %s = %s, want the default %s", tc.set, tc.missing, tc.key, got, tc.want)
			}
			if strings.Contains(out.String(), "invalid") {
				t.Errorf("a missing key was taken as an invalid value: %s", out.String())
			}
			if tc.wantLog == "" && out.Len() > 0 {
				t.Errorf("logged %q for a key already at its default, want nothing", out.String())
			}
			if tc.wantLog != "" && !strings.Contains(out.String(), tc.wantLog) {
				t.Errorf("logged %q, want a line saying %q", out.String(), tc.wantLog)
			}
		})
	}
}

// The store is read again on every re-subscription and resync: a value
// already applied is not logged or warned about again.
func TestApplyTheSameValueAgainIsQuiet(t *testing.T) {
	cases := []struct {
		name string
		raw  string
	}{
		{"valid number", "25"},
		{"invalid number", "fifty"},
		{"missing", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, out := logged(t)
			s := newSettings(log)
			s.Apply(map[string]string{"users.list.default_limit": "7"})
			s.Apply(map[string]string{"users.list.default_limit": tc.raw})
			out.Reset()
			s.Apply(map[string]string{"users.list.default_limit": tc.raw})
			if out.Len() > 0 {
				t.Fatalf("Apply(%q) a second time logged %q, want nothing", tc.raw, out.String())
			}
		})
	}
}

// Changed is closed by an Apply that changes a value, and only then.
func TestChanged(t *testing.T) {
	cases := []struct {
		name   string
		before map[string]string
		apply  map[string]string
		want   bool
	}{
		{"new number", nil, map[string]string{"users.list.default_limit": "5"}, true},
		{"new text", nil, map[string]string{"razorpay.api_base_url": "https://api.razorpay.com"}, true},
		{"deleted key back to its default", map[string]string{"users.list.default_limit": "5"}, map[string]string{"users.list.default_limit": ""}, true},
		{"the same value", map[string]string{"users.list.default_limit": "5"}, map[string]string{"users.list.default_limit": " 5 "}, false},
		{"the default written", nil, map[string]string{"users.list.default_limit": "50"}, false},
		{"missing key already at its default", nil, map[string]string{"users.list.default_limit": ""}, false},
		{"invalid value", nil, map[string]string{"users.list.default_limit": "0"}, false},
		{"undeclared key", nil, map[string]string{"someone.else": "7"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSettings(slog.New(slog.NewTextHandler(io.Discard, nil)))
			s.Apply(tc.before)
			ch := s.Changed()
			s.Apply(tc.apply)
			got := isClosed(ch)
			if got != tc.want {
				t.Fatalf("after Apply(%v): Changed closed = %v, want %v", tc.apply, got, tc.want)
			}
			if got && isClosed(s.Changed()) {
				t.Fatalf("after a change, the next Changed() is closed already; want a fresh channel")
			}
		})
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A loop waiting on Changed wakes up when another goroutine applies a change
// (run with -race).
func TestChangedWakesAWaiter(t *testing.T) {
	s := newSettings(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ch := s.Changed()
	done := make(chan int64)
	go func() {
		<-ch
		done <- s.Get("users.list.default_limit")
	}()
	s.Apply(map[string]string{"users.list.default_limit": "9"})
	select {
	case got := <-done:
		if got != 9 {
			t.Fatalf("woken waiter read %d, want 9", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter on Changed was not woken by a change")
	}
}
