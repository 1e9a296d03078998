package page_test

import (
	"testing"

	"github.com/finflow/finflow/platform/page"
)

func TestLimit(t *testing.T) {
	cases := []struct {
		raw  string
		want int
		ok   bool
	}{{"", 20, true}, {"1", 1, true}, {"100", 100, true}, {"0", 0, false}, {"101", 0, false}, {"-3", 0, false}, {"2.5", 0, false}, {"x", 0, false}}
	for _, tc := range cases {
		got, err := page.Limit(tc.raw, 20, 100)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Limit(%q) = %d, %v; want %d ok=%v", tc.raw, got, err, tc.want, tc.ok)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := page.Cursor("u1", 42)
	if pos, ok := page.Position("u1", c, 1); !ok || pos != 42 {
		t.Fatalf("Position(Cursor(42)) = %d, %v", pos, ok)
	}
	for _, bad := range []string{"", "!!", page.Cursor("w1", 42), page.Cursor("u1", 0)} {
		if _, ok := page.Position("u1", bad, 1); ok {
			t.Errorf("Position(%q) accepted", bad)
		}
	}
}
