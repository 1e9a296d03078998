package page_test

import (
	"encoding/base64"
	"math"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
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

// b64 is a cursor written by hand: the base64 of raw, as a forger would.
func b64(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

// Decode takes a cursor of its kind exactly as Cursor writes it, with a
// position of at least 2, and refuses anything else with ErrInvalidCursor.
func TestDecode(t *testing.T) {
	cases := []struct {
		name   string
		cursor string
		want   int64
		ok     bool
	}{
		{"issued", page.Cursor("p", 42), 42, true},
		{"the lowest issued", page.Cursor("p", 2), 2, true},
		{"a large position (Within judges it)", "cDo5MjIzMzcyMDM2ODU0Nzc1ODA3", math.MaxInt64, true},
		{"empty", "", 0, false},
		{"not base64", "!!", 0, false},
		{"base64 of no cursor", "bm9wZQ", 0, false},
		{"padded base64", b64("p:42") + "=", 0, false},
		{"standard base64 alphabet", "cDo+Pz8", 0, false},
		{"another kind", page.Cursor("b", 42), 0, false},
		{"a kind with this one as prefix", b64("pp:42"), 0, false},
		{"no kind", b64(":42"), 0, false},
		{"no position", b64("p:"), 0, false},
		{"position 1", page.Cursor("p", 1), 0, false},
		{"position 0", page.Cursor("p", 0), 0, false},
		{"negative", page.Cursor("p", -5), 0, false},
		{"past int64", b64("p:9223372036854775808"), 0, false},
		{"leading zero", b64("p:042"), 0, false},
		{"plus sign", b64("p:+42"), 0, false},
		{"trailing space", b64("p:42 "), 0, false},
		{"not a number", b64("p:4x"), 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := page.Decode("p", tc.cursor)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Fatalf("Decode(%q) = %d, %v; want %d", tc.cursor, got, err, tc.want)
				}
				return
			}
			if err != page.ErrInvalidCursor {
				t.Fatalf("Decode(%q) = %d, %v; want ErrInvalidCursor", tc.cursor, got, err)
			}
		})
	}
}

// Within takes the positions a list of last entries could have issued,
// 2 to last, and nothing past its newest entry.
func TestWithin(t *testing.T) {
	cases := []struct {
		pos, last int64
		ok        bool
	}{
		{2, 2, true}, {2, 20, true}, {20, 20, true}, {11, 20, true},
		{21, 20, false}, {1000, 20, false}, {math.MaxInt64, 20, false},
		{1, 20, false}, {0, 20, false}, {-1, 20, false}, {math.MinInt64, 20, false},
		{2, 1, false}, {2, 0, false}, {1, 1, false},
	}
	for _, tc := range cases {
		err := page.Within(tc.pos, tc.last)
		if (err == nil) != tc.ok || (err != nil && err != page.ErrInvalidCursor) {
			t.Errorf("Within(%d, %d) = %v, want ok=%v", tc.pos, tc.last, err, tc.ok)
		}
	}
}

// Below issues a cursor only for positions something lies below, and
// Decode takes back what it issues.
func TestBelow(t *testing.T) {
	for _, before := range []int64{math.MinInt64, -1, 0, 1} {
		if c := page.Below("b", before); c != "" {
			t.Errorf("Below(%d) = %q, want none", before, c)
		}
	}
	for _, before := range []int64{2, 3, 1000, math.MaxInt64} {
		if got, err := page.Decode("b", page.Below("b", before)); err != nil || got != before {
			t.Errorf("Decode(Below(%d)) = %d, %v", before, got, err)
		}
	}
}

// ErrInvalidCursor is the contract's 400 on the cursor field.
func TestErrInvalidCursor(t *testing.T) {
	status, body := apperr.HTTP(page.ErrInvalidCursor)
	if status != 400 || body.Error.Code != "VALIDATION_FAILED" || body.Error.Details["field"] != "cursor" || body.Error.Message != "cursor is not one this server issued" {
		t.Fatalf("HTTP(ErrInvalidCursor) = %d %+v", status, body)
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
