// Package page is FinFlow's cursor pagination: the ?limit= parameter and
// opaque cursors that stand for a position (a number) in a list.
//
// A cursor is refused (ErrInvalidCursor) unless it could have been issued
// for the list it is used on: it is of that list's kind (Position), in the
// one form Cursor writes, and its position lies within the list as it is
// (Within). Lists only grow, so a cursor issued for a list stays within it.
package page

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/finflow/finflow/platform/apperr"
)

// ErrInvalidCursor is a cursor this server did not issue for the list it is
// used on: not a cursor, of another list's kind, or a position that is not
// within the list.
var ErrInvalidCursor = apperr.Invalid("cursor", "cursor is not one this server issued")

// Limit parses ?limit=: a whole number from 1 to max; def when absent.
func Limit(raw string, def, max int64) (int, error) {
	if raw == "" {
		return int(min(def, max)), nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, apperr.Invalid("limit", "limit must be a whole number from 1 to %d", max)
	}
	return int(n), nil
}

// Cursor encodes position pos of a list of the given kind (a short tag that
// keeps one list's cursors from being used on another).
func Cursor(kind string, pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(pos, 10)))
}

// Position decodes a cursor of the given kind; ok is false for anything
// that is not such a cursor, exactly as Cursor writes it, with a position
// of at least least.
func Position(kind, cursor string, least int64) (pos int64, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, false
	}
	num, found := strings.CutPrefix(string(raw), kind+":")
	if !found {
		return 0, false
	}
	pos, err = strconv.ParseInt(num, 10, 64)
	if err != nil || pos < least || Cursor(kind, pos) != cursor {
		return 0, false // "+7", "007": the same number, but never issued
	}
	return pos, true
}

// First is the lowest position a cursor is issued with. Positions count a
// list's entries from 1, and a cursor names the entry its page starts at
// (or, for a list read newest first, the entry its page reads below): the
// first page starts at the list's end, so it needs no cursor, and a page
// is never needed below entry 1.
const First = 2

// Below returns the cursor of the positions below before in a list of the
// given kind read newest first, or "" when there are none (before is First
// or lower): the next page's cursor of such a listing.
func Below(kind string, before int64) string {
	if before < First {
		return ""
	}
	return Cursor(kind, before)
}

// Decode returns the position of a cursor of the given kind (at least
// First), or ErrInvalidCursor. Whether the position is within the list is
// Within's to say, once the list is read.
func Decode(kind, cursor string) (int64, error) {
	pos, ok := Position(kind, cursor, First)
	if !ok {
		return 0, ErrInvalidCursor
	}
	return pos, nil
}

// Within returns ErrInvalidCursor unless a cursor's position pos could have
// been issued for a list whose newest (highest) position is last: from
// First to last. A position past the newest entry was never issued, since
// the list only grows.
func Within(pos, last int64) error {
	if pos < First || pos > last {
		return ErrInvalidCursor
	}
	return nil
}
