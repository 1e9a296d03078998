package domain

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestMoneyVerdict(t *testing.T) {
	ok := UserMoney{Conservation: Conservation{UserID: "usr_a"}}
	bad := UserMoney{Conservation: Conservation{UserID: "usr_b", Problems: []string{"top-ups 1 != balance 0 + kept debits 0"}}}
	unread := UserMoney{Err: "wallet: unavailable"}
	noWallet := UserMoney{NoWallet: true}
	cases := []struct {
		name    string
		users   []UserMoney
		listErr string
		whole   bool
		want    string
	}{
		{"no users", nil, "", true, "no wallet to check"},
		{"no user has a wallet", []UserMoney{noWallet}, "", true, "no wallet to check"},
		{"every user conserved", []UserMoney{ok, noWallet}, "", true, "all conserved"},
		{"every user of a page conserved", []UserMoney{ok, noWallet}, "", false, "conserved on this page"},
		{"a violation wins over an unread user", []UserMoney{unread, bad, ok}, "", true, "problems found"},
		{"a violation on a page", []UserMoney{bad}, "", false, "problems found"},
		{"an unread user", []UserMoney{ok, unread}, "", true, "not all checked"},
		{"the user list unread", nil, "user answered 503", true, "not all checked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MoneyVerdict(tc.users, tc.listErr, tc.whole); got != tc.want {
				t.Fatalf("MoneyVerdict = %q, want %q", got, tc.want)
			}
		})
	}
}

// fakeMoney answers the money check's reads from fields, and counts them.
type fakeMoney struct {
	ledger     []LedgerEntry   // newest first
	ledgers    [][]LedgerEntry // when set, one a read instead; the last one repeats
	balances   []int64         // one a read; the last one repeats
	noWallet   bool
	payments   map[string]PaymentState
	ledgerErr  error
	paymentErr error
	topUps     map[string]TopUpState
	succeeded  []TopUpState
	topUpErr   error
	paid       []WalletPayment
	paidErr    error

	ledgerReads, paymentReads int
}

func (f *fakeMoney) TopUp(_ context.Context, id string) (TopUpState, bool, error) {
	t, ok := f.topUps[id]
	return t, ok, f.topUpErr
}

func (f *fakeMoney) SucceededTopUps(context.Context, string) ([]TopUpState, error) {
	return f.succeeded, f.topUpErr
}

func (f *fakeMoney) SucceededWalletPayments(context.Context, string) ([]WalletPayment, error) {
	return f.paid, f.paidErr
}

func (f *fakeMoney) Ledger(context.Context, string) ([]LedgerEntry, error) {
	f.ledgerReads++
	if f.ledgers != nil {
		return f.ledgers[min(f.ledgerReads, len(f.ledgers))-1], f.ledgerErr
	}
	return f.ledger, f.ledgerErr
}

func (f *fakeMoney) Balance(context.Context, string) (int64, bool, error) {
	if f.noWallet {
		return 0, false, nil
	}
	b := f.balances[min(f.ledgerReads, len(f.balances))-1]
	return b, true, nil
}

func (f *fakeMoney) Payment(_ context.Context, id string) (PaymentState, bool, error) {
	f.paymentReads++
	p, ok := f.payments[id]
	return p, ok, f.paymentErr
}

func TestCheckUser(t *testing.T) {
	// Newest first, as the wallet lists it: a top-up, then two debits for
	// pay_1 (the second a duplicate: read once, reported by the check).
	paid := []LedgerEntry{
		{ID: "d2", Type: "DEBIT", Amount: 25000, BalanceAfter: 50000, Reference: ref("pay_1")},
		{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
		{ID: "t1", Type: "CREDIT", Amount: 100000, BalanceAfter: 100000},
	}
	conserved := paid[1:]
	success := map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000}}
	cases := []struct {
		name         string
		money        fakeMoney
		wantErr      string // a fragment of UserMoney.Err
		wantProblem  string // a fragment of a problem; "" for none
		wantNoWallet bool
		wantLedger   int // ledger reads
		wantPayments int // payment reads
	}{
		{name: "no wallet", money: fakeMoney{noWallet: true}, wantNoWallet: true, wantLedger: 1},
		{name: "conserved", money: fakeMoney{ledger: conserved, balances: []int64{75000}, payments: success}, wantLedger: 1, wantPayments: 1},
		{name: "a payment read once per reference", money: fakeMoney{ledger: paid, balances: []int64{50000}, payments: success}, wantProblem: "appears twice", wantLedger: 1, wantPayments: 1},
		{name: "the balance moved once: read again", money: fakeMoney{ledger: conserved, balances: []int64{90000, 75000}, payments: success}, wantLedger: 2, wantPayments: 1},
		{name: "the balance keeps moving: not checked", money: fakeMoney{ledger: conserved, balances: []int64{90000, 80000}, payments: success}, wantErr: "changed while it was read", wantLedger: 2},
		{name: "the ledger grows between reads: not checked", money: fakeMoney{ledgers: [][]LedgerEntry{conserved, paid}, balances: []int64{50000, 40000}, payments: success}, wantErr: "changed while it was read", wantLedger: 2},
		{name: "the newest entry differs between reads: not checked", money: fakeMoney{ledgers: [][]LedgerEntry{conserved, {{ID: "d9", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}, conserved[1]}}, balances: []int64{90000}, payments: success}, wantErr: "changed while it was read", wantLedger: 2},
		// The same wallet read twice that does not add up is a violation,
		// not a wallet that moved: 500 added to the balance alone.
		{name: "a balance more than the ledger, read the same twice", money: fakeMoney{ledger: conserved, balances: []int64{75500}, payments: success}, wantProblem: "the balance 75500 is not what the ledger adds up to (75000)", wantLedger: 2, wantPayments: 1},
		{name: "a balance less than the ledger, read the same twice", money: fakeMoney{ledger: conserved, balances: []int64{74000}, payments: success}, wantProblem: "the balance 74000 is not what the ledger adds up to (75000)", wantLedger: 2, wantPayments: 1},
		{name: "a balance without a ledger, read the same twice", money: fakeMoney{balances: []int64{500}}, wantProblem: "the balance 500 is not what the ledger adds up to (0)", wantLedger: 2},
		{name: "a balance without a ledger once, then a top-up", money: fakeMoney{ledgers: [][]LedgerEntry{nil, conserved[1:]}, balances: []int64{100000}}, wantLedger: 2},
		{name: "a SUCCESS wallet payment without its debit", money: fakeMoney{ledger: conserved[1:], balances: []int64{100000}, paid: []WalletPayment{{ID: "pay_2", Amount: 500}}}, wantProblem: "wallet payment pay_2 of 500 is SUCCESS, but the wallet was never debited for it", wantLedger: 1},
		{name: "the wallet payments unread", money: fakeMoney{ledger: conserved, balances: []int64{75000}, paidErr: errors.New("payments of usr_1: payment answered 503")}, wantErr: "payment answered 503"},
		{name: "the ledger unread", money: fakeMoney{ledgerErr: errors.New("wallet answered 503")}, wantErr: "wallet answered 503", wantLedger: 1},
		{name: "a payment unread", money: fakeMoney{ledger: conserved, balances: []int64{75000}, paymentErr: errors.New("payment pay_1: the payment service answered 503")}, wantErr: "the payment service answered 503", wantLedger: 1, wantPayments: 1},
		{name: "a payment that does not exist", money: fakeMoney{ledger: conserved, balances: []int64{75000}}, wantProblem: "no such payment", wantLedger: 1, wantPayments: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.money
			u := CheckUser(context.Background(), &m, "usr_1", "Asha")
			if u.UserID != "usr_1" || u.Name != "Asha" {
				t.Errorf("CheckUser names %q %q, want usr_1 Asha", u.UserID, u.Name)
			}
			if u.NoWallet != tc.wantNoWallet {
				t.Errorf("CheckUser NoWallet = %v, want %v", u.NoWallet, tc.wantNoWallet)
			}
			if (tc.wantErr == "") != (u.Err == "") || !strings.Contains(u.Err, tc.wantErr) {
				t.Errorf("CheckUser Err = %q, want %q", u.Err, tc.wantErr)
			}
			if got := strings.Join(u.Problems, "; "); (tc.wantProblem == "") != (got == "") || !strings.Contains(got, tc.wantProblem) {
				t.Errorf("CheckUser problems = %q, want %q", got, tc.wantProblem)
			}
			if m.ledgerReads != tc.wantLedger || m.paymentReads != tc.wantPayments {
				t.Errorf("CheckUser read the ledger %d and payments %d times, want %d and %d", m.ledgerReads, m.paymentReads, tc.wantLedger, tc.wantPayments)
			}
		})
	}
}

// CheckUser reads the top-ups the ledger's top-up credits stand for: a
// FAILED top-up settled by a late capture of its order is checked as that
// late top-up, and the user's SUCCESS top-ups must all be credited.
func TestCheckUserTopUps(t *testing.T) {
	settled := TopUpState{ID: "top_1", UserID: "usr_1", Status: "FAILED", Amount: 5000, SettledBy: "top_L"}
	late := TopUpState{ID: "top_L", UserID: "usr_1", Status: "SUCCESS", Amount: 5000, LateCaptureOf: "top_1"}
	credit := []LedgerEntry{{ID: "c1", Type: "CREDIT", Amount: 5000, BalanceAfter: 5000, Reference: ref("top_1")}}
	cases := []struct {
		name string
		m    fakeMoney
		want string
	}{
		{"settled by a late capture", fakeMoney{ledger: credit, balances: []int64{5000},
			topUps: map[string]TopUpState{"top_1": settled, "top_L": late}, succeeded: []TopUpState{late}}, ""},
		{"FAILED, and the late top-up is another order's", fakeMoney{ledger: credit, balances: []int64{5000},
			topUps: map[string]TopUpState{"top_1": settled, "top_L": {ID: "top_L", UserID: "usr_1", Status: "SUCCESS", Amount: 5000, LateCaptureOf: "top_9"}}}, "which is FAILED"},
		{"a SUCCESS top-up the ledger lacks", fakeMoney{balances: []int64{0}, succeeded: []TopUpState{late}}, "never credited"},
		{"the top-ups unreadable", fakeMoney{ledger: credit, balances: []int64{5000}, topUpErr: errors.New("payment: unavailable")}, "unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := CheckUser(context.Background(), &tc.m, "usr_1", "")
			got := u.Err + strings.Join(u.Problems, "; ")
			if tc.want == "" && (u.Err != "" || !u.OK()) || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("CheckUser = err %q, problems %v; want %q", u.Err, u.Problems, tc.want)
			}
		})
	}
}
