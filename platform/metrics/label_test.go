package metrics

import (
	"testing"
	"unsafe"
)

func TestMethodLabel(t *testing.T) {
	cases := []struct{ in, want string }{
		{"GET", "GET"},
		{"POST", "POST"},
		{"BREW", "OTHER"},
		{"get", "OTHER"},
		{"", "OTHER"},
	}
	for _, tc := range cases {
		if got := methodLabel(tc.in); got != tc.want {
			t.Errorf("methodLabel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A method read from a request buffer that the next request overwrites
// (as Fiber's c.Method() is) must not change the label kept from it.
func TestMethodLabelOutlivesTheRequestBuffer(t *testing.T) {
	buf := []byte("POST")
	got := methodLabel(unsafe.String(&buf[0], len(buf)))
	copy(buf, "GETT")
	if got != "POST" {
		t.Fatalf("label changed with the request buffer: %q", got)
	}
}
