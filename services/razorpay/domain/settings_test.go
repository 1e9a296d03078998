package domain_test

import (
	"testing"

	"github.com/finflow/finflow/services/razorpay/domain"
)

// Razorpay's base URL is a scheme and a host only: razorpay-go adds the
// path itself, so any path (Razorpay's docs write the base as .../v1) would
// send every call to an address Razorpay does not serve.
func TestAPIBaseURLSetting(t *testing.T) {
	valid := domain.TextSettings[0].Valid
	cases := []struct {
		value string
		want  bool
	}{
		{"http://127.0.0.1:8090", true},
		{"https://api.razorpay.com", true},
		{"https://api.razorpay.com:443", true},
		{"http://[::1]:8090", true},
		{"http://127.0.0.1:8090/v1", false},
		{"https://api.razorpay.com/v1", false},
		{"https://api.razorpay.com/", false},
		{"https://api.razorpay.com?x=1", false},
		{"https://api.razorpay.com?", false},
		{"https://api.razorpay.com#v1", false},
		{"https://user:pass@api.razorpay.com", false},
		{"https://api.razorpay.com/%2F", false},
		{"ftp://api.razorpay.com", false},
		{"javascript:alert(1)", false},
		{"//api.razorpay.com", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := valid(tc.value); got != tc.want {
			t.Errorf("valid(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}
