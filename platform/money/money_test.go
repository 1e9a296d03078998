package money_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/money"
)

func TestAmountJSON(t *testing.T) {
	cases := []struct {
		in      string
		want    int64
		wantErr string // substring of the message; "" for success
	}{
		{`1250`, 1250, ""},
		{`1`, 1, ""},
		{`1000000000000`, money.MaxAmount, ""},
		{`0`, 0, ""},   // parses; Validate rejects
		{`-5`, -5, ""}, // parses; Validate rejects
		{`12.5`, 0, "integer number of paise"},
		{`12.0`, 0, "integer number of paise"},
		{`1e3`, 0, "integer number of paise"},
		{`"1250"`, 0, "not a string"},
		{`null`, 0, "required"},
		{`true`, 0, "integer number of paise"},
		{`99999999999999999999`, 0, "at most"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var v struct {
				Amount money.Amount `json:"amount"`
			}
			err := json.Unmarshal([]byte(`{"amount":`+tc.in+`}`), &v)
			if tc.wantErr == "" {
				if err != nil || v.Amount.Paise() != tc.want {
					t.Fatalf("Unmarshal(%s) = %d, %v; want %d", tc.in, v.Amount, err, tc.want)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Details["field"] != "amount" || !strings.Contains(ae.Message, tc.wantErr) {
				t.Fatalf("Unmarshal(%s) = %v, want VALIDATION_FAILED on amount mentioning %q", tc.in, err, tc.wantErr)
			}
		})
	}
}

// Validate refuses what is out of the contract's range, with words that fit
// what the client sent: 0 is also an absent amount (an omitted field
// decodes to it), so it says the amount is required, not "not 0".
func TestAmountValidate(t *testing.T) {
	cases := []struct {
		in    int64
		words string // "" when valid
	}{
		{1, ""},
		{money.MaxAmount, ""},
		{0, "amount is required"},
		{-1, "more than 0 paise, not -1"},
		{money.MaxAmount + 1, "at most 1000000000000 paise"},
	}
	for _, tc := range cases {
		err := money.Amount(tc.in).Validate()
		if (err == nil) != (tc.words == "") || (err != nil && !strings.Contains(err.Error(), tc.words)) {
			t.Errorf("Amount(%d).Validate() = %v, want %q", tc.in, err, tc.words)
		}
	}
}

func TestCheckedArithmetic(t *testing.T) {
	if got, err := money.Add(5, 7); got != 12 || err != nil {
		t.Fatalf("Add(5,7) = %d, %v", got, err)
	}
	if _, err := money.Add(math.MaxInt64, 1); !errors.Is(err, money.ErrOverflow) {
		t.Fatalf("Add(max,1) = %v, want ErrOverflow", err)
	}
	if got, err := money.Sub(5, 7); got != -2 || err != nil {
		t.Fatalf("Sub(5,7) = %d, %v", got, err)
	}
	if _, err := money.Sub(math.MinInt64, 1); !errors.Is(err, money.ErrOverflow) {
		t.Fatalf("Sub(min,1) = %v, want ErrOverflow", err)
	}
}

func TestCheckCurrency(t *testing.T) {
	inr, usd := "INR", "USD"
	if money.CheckCurrency(nil) != nil || money.CheckCurrency(&inr) != nil || money.CheckCurrency(&usd) == nil {
		t.Fatalf("CheckCurrency: want nil, INR accepted and USD refused")
	}
}
