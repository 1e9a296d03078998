package store

import (
	"fmt"
	"testing"
	"time"
)

// A refusal is answered again for refusalTTL, and the document keeps the
// keepRefusals latest younger than that.
func TestRefusalsKept(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var d walletDoc
	d.refuse(refusal{Reference: "pay_a", Amount: 100, At: t0})
	for _, tc := range []struct {
		name string
		ref  string
		at   time.Time
		want bool
	}{
		{"at once", "pay_a", t0, true},
		{"an hour later", "pay_a", t0.Add(time.Hour), true},
		{"just before a day", "pay_a", t0.Add(refusalTTL - time.Millisecond), true},
		{"a day later", "pay_a", t0.Add(refusalTTL), false},
		{"another reference", "pay_b", t0, false},
	} {
		if _, got := d.refused(tc.ref, tc.at); got != tc.want {
			t.Errorf("%s: refused(%s) = %v, want %v", tc.name, tc.ref, got, tc.want)
		}
	}

	// A refusal a day later drops the older one.
	d.refuse(refusal{Reference: "pay_c", Amount: 100, At: t0.Add(refusalTTL)})
	if len(d.Refused) != 1 || d.Refused[0].Reference != "pay_c" {
		t.Fatalf("after a refusal a day later: %+v, want pay_c alone", d.Refused)
	}
	// Beyond keepRefusals the oldest go.
	for i := 0; i < keepRefusals; i++ {
		d.refuse(refusal{Reference: fmt.Sprintf("pay_%d", i), Amount: 100, At: t0.Add(refusalTTL + time.Duration(i)*time.Second)})
	}
	if len(d.Refused) != keepRefusals || d.Refused[0].Reference != "pay_0" || d.Refused[keepRefusals-1].Reference != fmt.Sprintf("pay_%d", keepRefusals-1) {
		t.Fatalf("kept %d refusals from %s to %s, want the %d latest (pay_0 .. pay_%d)", len(d.Refused), d.Refused[0].Reference, d.Refused[len(d.Refused)-1].Reference, keepRefusals, keepRefusals-1)
	}
}
