// Package text holds FinFlow's rule for the free text it stores and shows
// to people: names, bill and subscription descriptions, refund reasons.
//
// Such text is shown in the customer web app, the ops console, and any
// client's pages, beside amounts. Characters that are not seen but change
// how the text around them is shown are refused: the bidirectional
// controls (U+202E RIGHT-TO-LEFT OVERRIDE turns "₹9.99 every month" after
// a description into "htnom yreve 99.9₹"), zero-width spaces, the byte
// order mark, line and paragraph separators, and every other control or
// format character, except the zero-width joiner and non-joiner (U+200D,
// U+200C) that Indian scripts and emoji sequences need. Text must also
// have something to see: a letter, digit, punctuation mark or symbol.
// (Unicode Technical Report #36, "Unicode Security Considerations", 3.4:
// bidirectional text spoofing.)
package text

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Problem returns why s cannot be stored as free text shown to people, in
// words for an error message ("" when it can): not valid UTF-8, a control
// or format character (named by its code point), or nothing visible.
// Length limits are the caller's.
func Problem(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8 text"
	}
	visible := false
	for _, r := range s {
		switch {
		case r == '\u200c' || r == '\u200d':
			// Joiners: part of how Indian scripts and emoji are written.
		case unicode.IsControl(r):
			return "must not contain control characters"
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs):
			return fmt.Sprintf("must not contain the invisible character U+%04X, which can change how the text around it is shown", r)
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S):
			visible = true
		}
	}
	if !visible {
		return "must have a letter, digit or symbol to show"
	}
	return ""
}
