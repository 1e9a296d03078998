package settings_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"

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
