package domain

import (
	"context"
	"sort"
	"strings"
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
	// TopUp returns what the check needs of a top-up; found is false when
	// there is no such top-up.
	TopUp(ctx context.Context, topUpID string) (t TopUpState, found bool, err error)
	// SucceededTopUps returns every SUCCESS top-up of the user.
	SucceededTopUps(ctx context.Context, userID string) ([]TopUpState, error)
	// SucceededWalletPayments returns every SUCCESS bill payment of the
	// user paid from the wallet.
	SucceededWalletPayments(ctx context.Context, userID string) ([]WalletPayment, error)
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
	VerdictPageConserved = "conserved on this page"
	VerdictNothing       = "no wallet to check"
	VerdictProblems      = "problems found"
	VerdictNotAllChecked = "not all checked"
)

// CheckUser reads one user's ledger, balance and the payments its debits
// name from m, and checks them with CheckConservation. The user's SUCCESS
// top-ups and wallet payments are read first: each was credited or
// debited before it became SUCCESS, so each must be in the ledger read
// after. The ledger is read, then the balance; when the balance is not what
// the ledger ends at, both are read again (a payment or top-up in
// between). If the second read is the same wallet as the first (balance,
// length and newest entry), nothing moved: the wallet is checked as read,
// and the difference is a violation; if it moved, it is reported as not
// checked ("changed while it was read"). A debit naming no payment is left
// to CheckConservation to report.
func CheckUser(ctx context.Context, m Money, id, name string) UserMoney {
	u := UserMoney{Name: name}
	u.UserID = id
	// Before the ledger: each top-up SUCCESS now was credited before it.
	succeeded, err := m.SucceededTopUps(ctx, id)
	if err != nil {
		u.Err = err.Error()
		return u
	}
	// And each wallet payment SUCCESS now was debited before it.
	paid, err := m.SucceededWalletPayments(ctx, id)
	if err != nil {
		u.Err = err.Error()
		return u
	}
	var first, w walletRead
	for attempt := 0; ; attempt++ {
		var err error
		if w.ledger, err = m.Ledger(ctx, id); err != nil {
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
		w.balance = bal
		if w.adds() || attempt == 1 && w.same(first) {
			break
		}
		if attempt == 1 {
			u.Err = "the wallet changed while it was read; reload"
			return u
		}
		first = w
	}
	ledger, balance := w.ledger, w.balance
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
	topUps, err := creditedTopUps(ctx, m, ledger)
	if err != nil {
		u.Err = err.Error()
		return u
	}
	topUps.Succeeded = succeeded
	u.Conservation = CheckConservation(id, balance, ledger, payments, topUps, paid)
	sort.Strings(u.Problems)
	return u
}

// walletRead is one read of a wallet: its ledger (newest first), then its
// balance.
type walletRead struct {
	ledger  []LedgerEntry
	balance int64
}

// adds reports whether the balance is what the ledger ends at (0 for an
// empty ledger).
func (w walletRead) adds() bool {
	if len(w.ledger) == 0 {
		return w.balance == 0
	}
	return w.ledger[0].BalanceAfter == w.balance
}

// same reports whether w and o read the same wallet: the same balance, and
// a ledger of the same length with the same newest entry (entries are
// only ever added, newest first, each with the balance it left).
func (w walletRead) same(o walletRead) bool {
	if w.balance != o.balance || len(w.ledger) != len(o.ledger) {
		return false
	}
	if len(w.ledger) == 0 {
		return true
	}
	a, b := w.ledger[0], o.ledger[0]
	return a.ID == b.ID && a.BalanceAfter == b.BalanceAfter && a.Amount == b.Amount && a.Type == b.Type
}

// creditedTopUps reads the top-up each top-up credit of the ledger stands
// for, after the ledger (so each is at least as far along as its credit
// shows): the top-up itself, or, for a FAILED one that a late capture of
// its order settled, that late top-up.
func creditedTopUps(ctx context.Context, m Money, ledger []LedgerEntry) (TopUps, error) {
	out := TopUps{Credited: map[string]TopUpState{}}
	for _, e := range ledger {
		if e.Type != "CREDIT" || e.Reference == nil || !strings.HasPrefix(*e.Reference, topUpPrefix) {
			continue
		}
		ref := *e.Reference
		if _, done := out.Credited[ref]; done {
			continue
		}
		t, found, err := m.TopUp(ctx, ref)
		if err != nil {
			return TopUps{}, err
		}
		if !found {
			continue
		}
		if t.Status == "FAILED" && t.SettledBy != "" {
			late, found, err := m.TopUp(ctx, t.SettledBy)
			if err != nil {
				return TopUps{}, err
			}
			if found && late.LateCaptureOf == ref {
				t = late
			}
		}
		out.Credited[ref] = t
	}
	return out, nil
}

// MoneyVerdict sums up the money checks of a page of users; listErr is why
// the list of users could not be read ("" when it was), and whole says
// whether the page is every user there is (one user asked for, or the
// first page with no next one). A violation wins over a user that could
// not be checked; "all conserved" is said only of every user, and only
// when at least one wallet was checked.
func MoneyVerdict(users []UserMoney, listErr string, whole bool) string {
	if listErr != "" {
		return VerdictNotAllChecked
	}
	verdict, checked := "", false
	for _, u := range users {
		switch {
		case u.Err != "":
			verdict = VerdictNotAllChecked
		case u.NoWallet:
		case !u.OK():
			return VerdictProblems
		default:
			checked = true
		}
	}
	switch {
	case verdict != "":
		return verdict
	case !checked:
		return VerdictNothing
	case !whole:
		return VerdictPageConserved
	}
	return VerdictConserved
}
