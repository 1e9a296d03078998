package http

import "testing"

func TestFormatPaise(t *testing.T) {
	cases := []struct {
		paise int64
		want  string
	}{
		{0, "₹0.00"}, {5, "₹0.05"}, {25000, "₹250.00"}, {123456, "₹1234.56"}, {-150, "-₹1.50"},
	}
	for _, tc := range cases {
		if got := formatPaise(tc.paise); got != tc.want {
			t.Errorf("formatPaise(%d) = %q, want %q", tc.paise, got, tc.want)
		}
	}
}
