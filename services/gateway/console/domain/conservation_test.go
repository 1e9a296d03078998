package domain

import (
	"strings"
	"testing"
)

func ref(s string) *string { return &s }

func TestCheckConservation(t *testing.T) {
	topUp := LedgerEntry{ID: "t1", Type: "CREDIT", Amount: 100000, BalanceAfter: 100000}
	cases := []struct {
		name     string
		balance  int64
		ledger   []LedgerEntry // oldest first here; reversed below
		payments map[string]PaymentState
		want     string // "" for OK, else a fragment of a problem
	}{
		{"empty wallet", 0, nil, nil, ""},
		{"top-up only", 100000, []LedgerEntry{topUp}, nil, ""},
		{"kept debit of a SUCCESS payment", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000}}, ""},
		{"debit given back for a FAILED payment", 100000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "r1", Type: "CREDIT", Amount: 25000, BalanceAfter: 100000, Reference: ref("reversal:pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "FAILED"}}, ""},
		{"debit of a PENDING payment is in flight", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "PENDING", Amount: 25000}}, ""},
		{"debit given back before the payment is FAILED", 100000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "r1", Type: "CREDIT", Amount: 25000, BalanceAfter: 100000, Reference: ref("reversal:pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "PENDING", Amount: 25000}}, ""},
		{"kept debit of a FAILED payment", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "FAILED"}}, "kept, but the payment is FAILED"},
		{"reversed debit of a SUCCESS payment", 100000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "r1", Type: "CREDIT", Amount: 25000, BalanceAfter: 100000, Reference: ref("reversal:pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000}}, "given back"},
		{"two debits for one payment", 50000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "d2", Type: "DEBIT", Amount: 25000, BalanceAfter: 50000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000}}, "appears twice"},
		{"broken running balance", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 70000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000}}, "balance_after 70000"},
		{"balance differs from the ledger", 90000, []LedgerEntry{topUp}, nil, "the balance 90000 is not what the ledger adds up to (100000)"},
		{"a balance without a ledger", 50000, nil, nil, "the balance 50000 is not what the ledger adds up to (0)"},
		{"balance_after rewritten with the balance", 100500, []LedgerEntry{{ID: "t1", Type: "CREDIT", Amount: 100000, BalanceAfter: 100500}}, nil, "the balance 100500 is not what the ledger adds up to (100000)"},
		{"debit naming no payment", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_9")}},
			map[string]PaymentState{}, "no such payment"},
		{"refund of a SUCCESS payment credited back", 85000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 85000, Reference: ref("rfd_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "SUCCESS"}}}}, ""},
		{"refund credited while it is still PENDING", 85000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 85000, Reference: ref("rfd_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "PENDING"}}}}, ""},
		{"PENDING refund not credited yet", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "PENDING"}}}}, ""},
		{"SUCCESS refund never credited", 75000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "SUCCESS"}}}}, "nothing was credited back"},
		{"FAILED refund credited", 85000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 85000, Reference: ref("rfd_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "FAILED"}}}}, "is FAILED, but 10000 was credited back"},
		{"refund credited with another amount", 95000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "c1", Type: "CREDIT", Amount: 20000, BalanceAfter: 95000, Reference: ref("rfd_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "SUCCESS"}}}}, "is 10000, but 20000 was credited back"},
		{"refund credited twice", 95000, []LedgerEntry{topUp,
			{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")},
			{ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 85000, Reference: ref("rfd_1")},
			{ID: "c2", Type: "CREDIT", Amount: 10000, BalanceAfter: 95000, Reference: ref("rfd_1")}},
			map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "SUCCESS"}}}}, "credited twice"},
		{"refund credit of no payment of this wallet", 110000, []LedgerEntry{topUp,
			{ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 110000, Reference: ref("rfd_9")}},
			nil, "no refund of this wallet's payments"},
		{"reversal without a debit", 125000, []LedgerEntry{topUp,
			{ID: "r1", Type: "CREDIT", Amount: 25000, BalanceAfter: 125000, Reference: ref("reversal:pay_1")}},
			nil, "has no debit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			newestFirst := make([]LedgerEntry, len(tc.ledger))
			for i, e := range tc.ledger {
				newestFirst[len(tc.ledger)-1-i] = e
			}
			c := CheckConservation("usr_1", tc.balance, newestFirst, tc.payments, TopUps{}, nil)
			if tc.want == "" {
				if !c.OK() {
					t.Fatalf("problems %v, want none", c.Problems)
				}
				return
			}
			if c.OK() || !strings.Contains(strings.Join(c.Problems, "; "), tc.want) {
				t.Fatalf("problems %v, want one with %q", c.Problems, tc.want)
			}
		})
	}
}

// Top-ups through Razorpay: each credit under a top-up's id is that
// top-up's (of this user, its amount, once, SUCCESS or still PENDING, or
// settled by a late top-up of its order), and every SUCCESS top-up is
// credited. An admin's credit under another reference is a top-up too,
// checked only by the sum.
func TestCheckConservationTopUps(t *testing.T) {
	credit := func(id, ref string, amount, after int64) LedgerEntry {
		return LedgerEntry{ID: id, Type: "CREDIT", Amount: amount, BalanceAfter: after, Reference: &ref}
	}
	ok := TopUpState{ID: "top_1", UserID: "usr_1", Status: "SUCCESS", Amount: 5000}
	late := TopUpState{ID: "top_L", UserID: "usr_1", Status: "SUCCESS", Amount: 5000, LateCaptureOf: "top_1"}
	one := []LedgerEntry{credit("c1", "top_1", 5000, 5000)}
	cases := []struct {
		name    string
		balance int64
		ledger  []LedgerEntry // oldest first
		topUps  TopUps
		want    string
	}{
		{"a SUCCESS top-up credited", 5000, one, TopUps{Credited: map[string]TopUpState{"top_1": ok}, Succeeded: []TopUpState{ok}}, ""},
		{"credited before it is marked SUCCESS", 5000, one, TopUps{Credited: map[string]TopUpState{"top_1": {UserID: "usr_1", Status: "PENDING", Amount: 5000}}}, ""},
		{"a late capture settled it", 5000, one, TopUps{Credited: map[string]TopUpState{"top_1": late}, Succeeded: []TopUpState{late}}, ""},
		{"an admin's credit", 7000, []LedgerEntry{credit("c1", "bonus-7", 7000, 7000)}, TopUps{}, ""},
		{"no such top-up", 5000, one, TopUps{Credited: map[string]TopUpState{}}, "which is no top-up"},
		{"another user's top-up", 5000, one, TopUps{Credited: map[string]TopUpState{"top_1": {UserID: "usr_2", Status: "SUCCESS", Amount: 5000}}}, "a top-up of usr_2"},
		{"another amount", 5000, one, TopUps{Credited: map[string]TopUpState{"top_1": {UserID: "usr_1", Status: "SUCCESS", Amount: 4000}}}, "which is of 4000"},
		{"a FAILED top-up credited", 5000, one, TopUps{Credited: map[string]TopUpState{"top_1": {UserID: "usr_1", Status: "FAILED", Amount: 5000}}}, "which is FAILED"},
		{"credited twice", 10000, []LedgerEntry{credit("c1", "top_1", 5000, 5000), credit("c2", "top_1", 5000, 10000)},
			TopUps{Credited: map[string]TopUpState{"top_1": ok}, Succeeded: []TopUpState{ok}}, "credited twice"},
		{"a SUCCESS top-up never credited", 0, nil, TopUps{Succeeded: []TopUpState{ok}}, "never credited"},
		{"a late top-up never credited", 0, nil, TopUps{Succeeded: []TopUpState{late}}, "top-up top_L of 5000 is SUCCESS, but the wallet was never credited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			newestFirst := make([]LedgerEntry, len(tc.ledger))
			for i, e := range tc.ledger {
				newestFirst[len(tc.ledger)-1-i] = e
			}
			c := CheckConservation("usr_1", tc.balance, newestFirst, nil, tc.topUps, nil)
			if tc.want == "" && !c.OK() || tc.want != "" && (c.OK() || !strings.Contains(strings.Join(c.Problems, "; "), tc.want)) {
				t.Fatalf("problems %v, want %q", c.Problems, tc.want)
			}
		})
	}
}

// Both ways between the ledger and the user's SUCCESS wallet payments:
// each has a kept debit of its amount under its id (and its refunds their
// credits, checked from the debit's side), and each debit is a payment's.
func TestCheckConservationWalletPayments(t *testing.T) {
	topUp := LedgerEntry{ID: "t1", Type: "CREDIT", Amount: 100000, BalanceAfter: 100000}
	debit := LedgerEntry{ID: "d1", Type: "DEBIT", Amount: 25000, BalanceAfter: 75000, Reference: ref("pay_1")}
	reversal := LedgerEntry{ID: "r1", Type: "CREDIT", Amount: 25000, BalanceAfter: 100000, Reference: ref("reversal:pay_1")}
	refund := LedgerEntry{ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 85000, Reference: ref("rfd_1")}
	success := map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000}}
	refunded := map[string]PaymentState{"pay_1": {Status: "SUCCESS", Amount: 25000, Refunds: []RefundState{{ID: "rfd_1", Amount: 10000, Status: "SUCCESS"}}}}
	paid := []WalletPayment{{ID: "pay_1", Amount: 25000}}
	cases := []struct {
		name     string
		balance  int64
		ledger   []LedgerEntry // oldest first
		payments map[string]PaymentState
		paid     []WalletPayment
		want     string
	}{
		{"a SUCCESS payment and its debit", 75000, []LedgerEntry{topUp, debit}, success, paid, ""},
		{"a SUCCESS payment and its refunded debit", 85000, []LedgerEntry{topUp, debit, refund}, refunded, paid, ""},
		{"a SUCCESS payment without its debit (paid for free)", 100000, []LedgerEntry{topUp}, nil, paid,
			"wallet payment pay_1 of 25000 is SUCCESS, but the wallet was never debited for it"},
		{"a SUCCESS payment and a refund, without the debit", 110000, []LedgerEntry{topUp, {ID: "c1", Type: "CREDIT", Amount: 10000, BalanceAfter: 110000, Reference: ref("rfd_1")}}, nil, paid,
			"never debited"},
		{"a SUCCESS payment whose debit was given back", 100000, []LedgerEntry{topUp, debit, reversal}, success, paid, "given back"},
		{"a SUCCESS payment debited another amount", 80000, []LedgerEntry{topUp, {ID: "d1", Type: "DEBIT", Amount: 20000, BalanceAfter: 80000, Reference: ref("pay_1")}}, success, paid,
			"kept, but the payment is SUCCESS of 25000"},
		{"a SUCCESS payment debited twice", 50000, []LedgerEntry{topUp, debit, {ID: "d2", Type: "DEBIT", Amount: 25000, BalanceAfter: 50000, Reference: ref("pay_1")}}, success, paid, "appears twice"},
		{"a SUCCESS refund without its credit", 75000, []LedgerEntry{topUp, debit}, refunded, paid, "nothing was credited back"},
		{"a debit whose payment is not listed", 75000, []LedgerEntry{topUp, debit}, nil, nil, "no such payment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			newestFirst := make([]LedgerEntry, len(tc.ledger))
			for i, e := range tc.ledger {
				newestFirst[len(tc.ledger)-1-i] = e
			}
			c := CheckConservation("usr_1", tc.balance, newestFirst, tc.payments, TopUps{}, tc.paid)
			if tc.want == "" && !c.OK() || tc.want != "" && (c.OK() || !strings.Contains(strings.Join(c.Problems, "; "), tc.want)) {
				t.Fatalf("CheckConservation problems = %v, want %q", c.Problems, tc.want)
			}
		})
	}
}
