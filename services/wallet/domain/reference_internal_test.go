package domain

import "testing"

// An admin's top-up may not take a reference FinFlow writes itself: under
// one, it took the place of a Razorpay top-up's credit (refused later as
// DUPLICATE_REFERENCE, the captured money refunded) or of a reversal.
func TestOwnReference(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"top_a73893t34mn8txjtxg6sb1h4hw", true},
		{"rfd_yc325aaaaaaaaaaaaaaaaaaaaa", true},
		{"pay_test2", true},
		{"reversal:pay_a7r", true},
		{"idem:0123abcd", true},
		{"usr_x", true},
		{"bill_1", true},
		{"sub_1", true},
		{"wtx_1", true},
		{"gift-usr_abc", false},
		{"op-7", false},
		{"payroll-2026-12", false},
		{"top-up by hand", false},
		{"topup_1", false},
		{"REVERSAL:x", false},
	} {
		if got := ownReference(tc.ref); got != tc.want {
			t.Errorf("ownReference(%q) = %v, want %v", tc.ref, got, tc.want)
		}
	}
}
