package store

import (
	"fmt"
	"testing"
	"time"
)

// The document keeps the keepRefusals latest refusals; refuse hands back
// the older ones, oldest first, to be written to their reference keys, and
// counts them.
func TestRefusalsMoveOutBeyondTheLatest(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	ref := func(i int) string { return fmt.Sprintf("pay_%d", i) }
	for _, tc := range []struct {
		name      string
		refusals  int
		wantMoved []string // by the last refuse
		wantTotal int64
	}{
		{"one", 1, nil, 0},
		{"exactly the kept", keepRefusals, nil, 0},
		{"one more", keepRefusals + 1, []string{ref(0)}, 1},
		{"a day and more later, still kept", 3, nil, 0},
		{"many more", 3*keepRefusals + 5, []string{ref(2*keepRefusals + 4)}, 2*keepRefusals + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d walletDoc
			var moved []refusal
			for i := 0; i < tc.refusals; i++ {
				moved = d.refuse(refusal{Reference: ref(i), Amount: 100, At: t0.Add(time.Duration(i) * 25 * time.Hour)})
			}
			var got []string
			for _, m := range moved {
				got = append(got, m.Reference)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantMoved) || d.RefusalsMoved != tc.wantTotal {
				t.Fatalf("moved %v (%d in all), want %v (%d)", got, d.RefusalsMoved, tc.wantMoved, tc.wantTotal)
			}
			kept := min(tc.refusals, keepRefusals)
			if len(d.Refused) != kept || d.Refused[kept-1].Reference != ref(tc.refusals-1) {
				t.Fatalf("kept %d ending %s, want %d ending %s", len(d.Refused), d.Refused[len(d.Refused)-1].Reference, kept, ref(tc.refusals-1))
			}
			for i := tc.refusals - kept; i < tc.refusals; i++ {
				if _, ok := d.refused(ref(i)); !ok {
					t.Fatalf("refused(%s) = false for a kept refusal", ref(i))
				}
			}
		})
	}
}
