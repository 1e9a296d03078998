package money_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/finflow/finflow/platform/money"
)

// Whatever the JSON amount, parsing never panics, an accepted amount is
// exactly the integer written, and validation keeps it in 1..10^12.
func FuzzAmount(f *testing.F) {
	for _, seed := range []string{"1", "0", "-1", "12.5", "1e3", `"5"`, "1000000000000", "1000000000001", "99999999999999999999", "null", "true", "-0", "00012"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var a money.Amount
		if err := json.Unmarshal([]byte(`{"a":`+raw+`}`), &struct {
			A *money.Amount `json:"a"`
		}{&a}); err != nil {
			return
		}
		if want, err := strconv.ParseInt(raw, 10, 64); err == nil && a.Paise() != want {
			t.Fatalf("amount %q parsed as %d, want %d", raw, a.Paise(), want)
		}
		if err := a.Validate(); err == nil && (a.Paise() < 1 || a.Paise() > money.MaxAmount) {
			t.Fatalf("amount %d passed validation", a.Paise())
		}
	})
}
