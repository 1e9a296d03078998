// Package page is FinFlow's cursor pagination: the ?limit= parameter and
// opaque cursors that stand for a position (a number) in a list.
package page

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/finflow/finflow/platform/apperr"
)

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
// that is not such a cursor with a position of at least least.
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
	if err != nil || pos < least {
		return 0, false
	}
	return pos, true
}
