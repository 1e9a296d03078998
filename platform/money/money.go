// Package money is FinFlow's representation of money: an int64 number of
// paise and a currency, never floating point. It parses amounts from JSON
// strictly (integers only) and does checked arithmetic.
package money

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/finflow/finflow/platform/apperr"
)

// INR is the only currency FinFlow handles for now.
const INR = "INR"

// MaxAmount is the largest amount of one operation: 10^12 paise
// (10,000,000,000 rupees).
const MaxAmount int64 = 1_000_000_000_000

// ErrOverflow is returned when a sum would not fit in an int64.
var ErrOverflow = errors.New("money: amount overflows int64")

// Amount is an amount in paise as it arrives in a request. Its JSON form
// must be an integer literal: a string, a fraction or an exponent is
// rejected with a message that says amounts are integer paise.
type Amount int64

// UnmarshalJSON implements json.Unmarshaler.
func (a *Amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		return apperr.Invalid("amount", "amount is required: an integer number of paise")
	case b[0] == '"':
		return apperr.Invalid("amount", "amount must be a JSON number of paise, not a string (write 1250 for Rs 12.50)")
	case bytes.ContainsAny(b, ".eE"):
		return apperr.Invalid("amount", "amount must be an integer number of paise (write 1250 for Rs 12.50), not %s", b)
	}
	if b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return apperr.Invalid("amount", "amount must be an integer number of paise")
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return apperr.Invalid("amount", "amount must be an integer number of paise of at most %d", MaxAmount)
	}
	*a = Amount(n)
	return nil
}

// Validate checks the contract's range: more than 0 and at most MaxAmount.
// 0 is also what an absent amount decodes to, so its message says the
// amount is required rather than that 0 was sent.
func (a Amount) Validate() error {
	if a == 0 {
		return apperr.Invalid("amount", "amount is required: an integer number of paise, more than 0")
	}
	if a < 0 {
		return apperr.Invalid("amount", "amount must be more than 0 paise, not %d", int64(a))
	}
	if int64(a) > MaxAmount {
		return apperr.Invalid("amount", "amount must be at most %d paise, not %d", MaxAmount, int64(a))
	}
	return nil
}

// Paise returns the amount as an int64.
func (a Amount) Paise() int64 { return int64(a) }

// CheckCurrency accepts an absent currency or INR.
func CheckCurrency(c *string) error {
	if c == nil || *c == INR {
		return nil
	}
	return apperr.Invalid("currency", "currency must be %q, the only currency FinFlow handles", INR)
}

// Add returns a+b, or ErrOverflow.
func Add(a, b int64) (int64, error) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, fmt.Errorf("%w: %d + %d", ErrOverflow, a, b)
	}
	return a + b, nil
}

// Sub returns a-b, or ErrOverflow.
func Sub(a, b int64) (int64, error) {
	if b == math.MinInt64 {
		return 0, fmt.Errorf("%w: %d - %d", ErrOverflow, a, b)
	}
	return Add(a, -b)
}
