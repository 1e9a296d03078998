package domain_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/finflow/finflow/services/wallet/domain"
)

func TestApply(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name        string
		balance     int64
		op          domain.Operation
		wantBalance int64
		wantErr     error
	}{
		{"credit", 0, domain.Operation{Type: domain.Credit, Amount: 500}, 500, nil},
		{"debit within balance", 500, domain.Operation{Type: domain.Debit, Amount: 500, Reference: "pay_1"}, 0, nil},
		{"debit over balance", 500, domain.Operation{Type: domain.Debit, Amount: 501, Reference: "pay_1"}, 500, domain.ErrInsufficientFunds},
		{"credit overflow", math.MaxInt64 - 1, domain.Operation{Type: domain.Credit, Amount: 2}, math.MaxInt64 - 1, errors.New("overflow")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := domain.Wallet{UserID: "usr_x", Balance: tc.balance}
			tx, err := w.Apply(tc.op, 7, now)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Apply = %+v, want an error", tx)
				}
				if errors.Is(tc.wantErr, domain.ErrInsufficientFunds) && !errors.Is(err, domain.ErrInsufficientFunds) {
					t.Fatalf("Apply = %v, want ErrInsufficientFunds", err)
				}
				if w.Balance != tc.wantBalance {
					t.Fatalf("balance after refused Apply = %d, want unchanged %d", w.Balance, tc.wantBalance)
				}
				return
			}
			if err != nil || w.Balance != tc.wantBalance || tx.BalanceAfter != tc.wantBalance || tx.Seq != 7 || tx.Amount != tc.op.Amount {
				t.Fatalf("Apply = %+v, %v; balance %d, want %d", tx, err, w.Balance, tc.wantBalance)
			}
		})
	}
}

func TestInsufficientFundsSaysWhy(t *testing.T) {
	w := domain.Wallet{Balance: 500}
	_, err := w.Apply(domain.Operation{Type: domain.Debit, Amount: 1200, Reference: "pay_x"}, 1, time.Now())
	if err == nil || err.Error() != "INSUFFICIENT_FUNDS: wallet balance 500 is below 1200" {
		t.Fatalf("err = %v", err)
	}
}

func TestOperationValidate(t *testing.T) {
	cases := []struct {
		name string
		op   domain.Operation
		ok   bool
	}{
		{"credit without reference", domain.Operation{Type: domain.Credit, Amount: 1}, true},
		{"debit needs a reference", domain.Operation{Type: domain.Debit, Amount: 1}, false},
		{"zero", domain.Operation{Type: domain.Credit, Amount: 0}, false},
		{"too large", domain.Operation{Type: domain.Credit, Amount: 1_000_000_000_001}, false},
		{"reference with space", domain.Operation{Type: domain.Credit, Amount: 1, Reference: "a b"}, false},
	}
	for _, tc := range cases {
		if err := tc.op.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
