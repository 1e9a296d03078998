package domain

import (
	"context"
	"sort"
)

// Money is what the money check reads from the wallet and payment services
// (the console's http package reads them through service invocation, as the
// signed-in admin). The errors it returns are shown on the page as they are.
type Money interface {
	// Ledger returns the user's whole ledger, newest first; nil when the
	// user has no wallet.
	Ledger(ctx context.Context, userID string) ([]LedgerEntry, error)
	// Balance returns the user's balance; found is false when the user has
	// no wallet.
	Balance(ctx context.Context, userID string) (balance int64, found bool, err error)
	// Payment returns what the check needs of a payment; found is false when
	// there is no such payment.
	Payment(ctx context.Context, paymentID string) (p PaymentState, found bool, err error)
}

// UserMoney is the money check of one user as the console shows it: the
// check, or why it could not be made.
type UserMoney struct {
	Conservation
	// Name is the user's name ("" when the user was asked for by id).
	Name string
	// NoWallet is set when the user has no wallet: nothing to check.
	NoWallet bool
	// Err says why the user could not be checked ("" when checked).
	Err string
}

// The verdicts MoneyVerdict gives.
const (
	VerdictConserved     = "all conserved"
	VerdictProblems      = "problems found"
	VerdictNotAllChecked = "not all checked"
)

// CheckUser reads one user's ledger, balance and the payments its debits
// name from m, and checks them with CheckConservation. The ledger is read
// first, then the balance: a payment or top-up in between shows as a
// differing balance, read again once, and otherwise reported as not
// checked rather than as a violation. A debit naming no payment is left to
// CheckConservation to report.
func CheckUser(ctx context.Context, m Money, id, name string) UserMoney {
	u := UserMoney{Name: name}
	u.UserID = id
	var ledger []LedgerEntry
	var balance int64
	for attempt := 0; ; attempt++ {
		var err error
		if ledger, err = m.Ledger(ctx, id); err != nil {
			u.Err = err.Error()
			return u
		}
		bal, found, err := m.Balance(ctx, id)
		switch {
		case err != nil:
			u.Err = err.Error()
			return u
		case !found:
			u.NoWallet = true
			return u
		}
		balance = bal
		if len(ledger) == 0 || ledger[0].BalanceAfter == balance {
			break
		}
		if attempt == 1 {
			u.Err = "the wallet changed while it was read; reload"
			return u
		}
	}
	payments := map[string]PaymentState{}
	for _, e := range ledger {
		if e.Type != "DEBIT" || e.Reference == nil {
			continue
		}
		ref := *e.Reference
		if _, done := payments[ref]; done {
			continue
		}
		p, found, err := m.Payment(ctx, ref)
		if err != nil {
			u.Err = err.Error()
			return u
		}
		if found {
			payments[ref] = p
		}
	}
	u.Conservation = CheckConservation(id, balance, ledger, payments)
	sort.Strings(u.Problems)
	return u
}

// MoneyVerdict sums up the money checks of a page of users; listErr is why
// the list of users could not be read ("" when it was). A violation wins
// over a user that could not be checked.
func MoneyVerdict(users []UserMoney, listErr string) string {
	verdict := VerdictConserved
	if listErr != "" {
		verdict = VerdictNotAllChecked
	}
	for _, u := range users {
		switch {
		case u.Err != "":
			verdict = VerdictNotAllChecked
		case !u.NoWallet && !u.OK():
			return VerdictProblems
		}
	}
	return verdict
}
