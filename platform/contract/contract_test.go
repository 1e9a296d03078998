package contract

import (
	"slices"
	"testing"
	"time"
)

// TestStamp: every public timestamp has one length, reads back as the same
// instant, and sorts as a string in time order, where time.RFC3339Nano's
// trimmed zeros sort ".1Z" after ".12Z".
func TestStamp(t *testing.T) {
	base := time.Date(2026, 12, 4, 1, 2, 3, 0, time.UTC)
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, tc := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"whole second", base, "2026-12-04T01:02:03.000000000Z"},
		{"tenths", base.Add(100 * time.Millisecond), "2026-12-04T01:02:03.100000000Z"},
		{"hundredths", base.Add(120 * time.Millisecond), "2026-12-04T01:02:03.120000000Z"},
		{"nanoseconds", base.Add(123456789), "2026-12-04T01:02:03.123456789Z"},
		{"another zone is written in UTC", base.In(ist), "2026-12-04T01:02:03.000000000Z"},
		{"now, to the nanosecond", time.Now().Round(0), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Stamp(tc.at)
			if tc.want != "" && got != tc.want {
				t.Fatalf("Stamp = %s, want %s", got, tc.want)
			}
			if len(got) != len("2026-12-04T01:02:03.000000000Z") {
				t.Fatalf("Stamp = %s: length %d", got, len(got))
			}
			back, err := time.Parse(time.RFC3339, got)
			if err != nil || !back.Equal(tc.at) {
				t.Fatalf("Stamp = %s reads back as %v, %v; want %v", got, back, err, tc.at)
			}
		})
	}

	var ats []time.Time
	var stamps []string
	for _, ns := range []int{0, 1, 9, 10, 100000000, 120000000, 999999999, 1000000000, 1100000000} {
		ats = append(ats, base.Add(time.Duration(ns)))
		stamps = append(stamps, Stamp(ats[len(ats)-1]))
	}
	if !slices.IsSorted(stamps) {
		t.Fatalf("stamps in time order do not sort as strings: %q", stamps)
	}
}
