package domain

import (
	"testing"
	"time"
)

// parseTime takes RFC 3339 as written in section 5.6 of the RFC: the
// lower-case t and z it allows are taken, the offsets time.Parse lets
// through beyond it (+24:00, +23:60) are refused, and so is a time finer
// than the millisecond FinFlow keeps times to.
func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // UTC, RFC 3339; "" for refused
	}{
		{"2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"2027-01-01T05:30:00+05:30", "2027-01-01T00:00:00Z"},
		{"2027-01-01T00:00:00.250-00:00", "2027-01-01T00:00:00.25Z"},
		{"2027-01-01T23:00:00+23:59", "2026-12-31T23:01:00Z"},
		{"2027-01-01T00:00:00-23:00", "2027-01-01T23:00:00Z"},
		{"2027-01-01t00:00:00Z", "2027-01-01T00:00:00Z"},
		{"2027-01-01T00:00:00z", "2027-01-01T00:00:00Z"},
		{"2027-01-01t13:40:00z", "2027-01-01T13:40:00Z"},
		{"2027-01-01t13:40:00.5+05:30", "2027-01-01T08:10:00.5Z"},
		{"2027-01-01T00:00:00.123Z", "2027-01-01T00:00:00.123Z"},
		{"2027-01-01T00:00:00.123000000Z", "2027-01-01T00:00:00.123Z"},
		{"2027-01-01T00:00:00.1234Z", ""},
		{"2027-01-01T00:00:00.123456789Z", ""},
		{"2027-01-01T00:00:00.000001+01:00", ""},
		{"2027-01-01x00:00:00Z", ""},
		{"2027-01-01T00:00:00Zz", ""},
		{"2027-01-01T00:00:00y", ""},
		{"2027-01-01T00:00:00+24:00", ""},
		{"2027-01-01T00:00:00-24:00", ""},
		{"2027-01-01T00:00:00+23:60", ""},
		{"2027-01-01T00:00:00+99:99", ""},
		{"2027-01-01T24:00:00Z", ""},
		{"2027-01-01T23:59:60Z", ""},
		{"2027-02-29T00:00:00Z", ""},
		{"2027-01-01 00:00:00Z", ""},
		{"2027-01-01T00:00:00", ""},
		{"2027-01-01T10:00:00,5Z", ""},
		{"2027-01-01T10:00:00,500+05:30", ""},
		{"", ""},
	} {
		got, err := parseTime(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseTime(%q) = %v, want refused", tc.in, got)
		case tc.want != "" && err != nil:
			t.Errorf("parseTime(%q): %v, want %s", tc.in, err, tc.want)
		case tc.want != "" && got.UTC().Format(time.RFC3339Nano) != tc.want:
			t.Errorf("parseTime(%q) = %s, want %s", tc.in, got.UTC().Format(time.RFC3339Nano), tc.want)
		}
	}
}
