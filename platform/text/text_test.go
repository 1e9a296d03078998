package text

import (
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	cases := []struct {
		name, s string
		want    string // a part of the problem; "" for none
	}{
		{"plain", "Electricity, November", ""},
		{"Hindi with a virama and ZWJ", "बिजली का बिल \u0915\u094d\u200d\u0937", ""},
		{"Malayalam chillu with ZWJ", "\u0d28\u0d4d\u200d", ""},
		{"an emoji family (ZWJ sequence)", "Family plan 👨\u200d👩\u200d👧", ""},
		{"an emoji with a variation selector", "Gym ❤\ufe0f", ""},
		{"accents as combining marks", "Cafe\u0301 bill", ""},
		{"markup is text (escaped where shown)", "<svg onload=alert(1)>", ""},
		{"one digit", "7", ""},
		{"right-to-left override", "Electricity \u202e", "U+202E"},
		{"left-to-right override", "\u202dabc", "U+202D"},
		{"right-to-left isolate", "a\u2067b\u2069", "U+2067"},
		{"first strong isolate", "a\u2068b", "U+2068"},
		{"right-to-left mark", "a\u200fb", "U+200F"},
		{"arabic letter mark", "a\u061cb", "U+061C"},
		{"zero-width space", "Water\u200bbill", "U+200B"},
		{"byte order mark", "\ufeffWater", "U+FEFF"},
		{"soft hyphen", "Wa\u00adter", "U+00AD"},
		{"word joiner", "a\u2060b", "U+2060"},
		{"line separator", "a\u2028b", "U+2028"},
		{"paragraph separator", "a\u2029b", "U+2029"},
		{"private use", "a\ue000b", "U+E000"},
		{"tag character", "a\U000E0041b", "U+E0041"},
		{"newline", "a\nb", "control"},
		{"NUL", "a\x00b", "control"},
		{"DEL", "a\x7fb", "control"},
		{"C1 control", "a\u0085b", "control"},
		{"invalid UTF-8", "a\xffb", "UTF-8"},
		{"spaces only", "   ", "letter"},
		{"no-break and ideographic spaces only", "\u00a0\u3000", "letter"},
		{"joiners only", "\u200c\u200d", "letter"},
		{"combining marks only", "\u0301\u0301", "letter"},
		{"empty", "", "letter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Problem(tc.s)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("Problem(%q) = %q, want %q", tc.s, got, tc.want)
			}
		})
	}
}
