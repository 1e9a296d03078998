package domain

import (
	"fmt"
	"strings"
)

// LedgerEntry is one line of a wallet's ledger as the wallet service
// answers it.
type LedgerEntry struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Amount       int64   `json:"amount"`
	BalanceAfter int64   `json:"balance_after"`
	Reference    *string `json:"reference"`
}

// PaymentState is what the conservation check needs of a payment: its
// status and amount in paise, and its refunds.
type PaymentState struct {
	Status  string
	Amount  int64
	Refunds []RefundState
}

// RefundState is one refund of a payment: its id (rfd_..., the reference
// of the wallet credit that gives a wallet payment's money back), amount in
// paise and status (PENDING, SUCCESS, FAILED).
type RefundState struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Status string `json:"status"`
}

// TopUpState is what the conservation check needs of a wallet top-up
// through Razorpay (top_...): its owner, status and amount in paise; for a
// late capture of another top-up's order, that top-up's id
// (LateCaptureOf), under whose reference the wallet is credited; for a
// FAILED top-up that such a late capture settled, the late top-up's id
// (SettledBy).
type TopUpState struct {
	ID            string `json:"id"`
	UserID        string `json:"user_id"`
	Status        string `json:"status"`
	Amount        int64  `json:"amount"`
	LateCaptureOf string `json:"late_capture_of"`
	SettledBy     string `json:"settled_by"`
}

// TopUps is what the check knows of a user's Razorpay top-ups: Credited
// maps the reference of each top-up credit in the ledger to the top-up
// that credit stands for (the top-up itself, or the late top-up that
// settled it; missing when there is none), and Succeeded lists the
// user's SUCCESS top-ups, read before the ledger (a top-up is credited
// before it is marked SUCCESS, so each of them must be in the ledger).
type TopUps struct {
	Credited  map[string]TopUpState
	Succeeded []TopUpState
}

// WalletPayment is a SUCCESS bill payment of the user paid from the
// wallet, as the payment service lists it: its id (the reference of its
// ledger debit) and amount in paise.
type WalletPayment struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

// Conservation is the money check of one user's wallet: every paisa in is a
// top-up or a refund, every paisa out is a successful payment, and the
// balance is what is left.
type Conservation struct {
	UserID  string
	Balance int64
	// TopUps are the credits that are neither reversals nor refunds.
	TopUps int64
	// Refunded is the sum of the refunds credited back to the wallet (the
	// credits whose reference is a refund of one of its payments).
	Refunded int64
	// Paid is the sum of the debits that were kept (SUCCESS payments),
	// GivenBack of those reversed (FAILED payments), and InFlight of the
	// debits of payments still PENDING (a wallet payment debits before it
	// marks the bill and becomes SUCCESS, or gives the debit back before it
	// becomes FAILED).
	Paid, GivenBack, InFlight int64
	Entries                   int
	Problems                  []string
}

// OK reports whether the check found nothing wrong.
func (c Conservation) OK() bool { return len(c.Problems) == 0 }

// reversalPrefix marks the reference of a credit that gives a debit back;
// refundPrefix the reference of a credit that refunds a wallet payment
// (the refund's id).
const (
	reversalPrefix = "reversal:"
	refundPrefix   = "rfd_"
	topUpPrefix    = "top_"
)

// CheckConservation checks one user's ledger (newest first, as the wallet
// lists it) against the wallet's balance and the payments its debits name:
//
//   - balance_after follows entry by entry, is never negative, and the
//     newest equals the balance;
//   - every debit names a payment, at most once; a debit given back (a
//     reversal credit of the same amount) belongs to a FAILED payment, any
//     other to a SUCCESS payment of that amount;
//   - every refund credit is a refund of a payment the ledger debited, of
//     that amount, once; a SUCCESS refund is credited, a FAILED one is not
//     (a PENDING one may be either: it is in flight);
//   - every credit under a top-up's id (top_...) is of a top-up of this
//     user, of that amount, once, SUCCESS (or still PENDING: credited, not
//     yet marked), itself or through the late top-up that settled it; and
//     every SUCCESS top-up of the user is credited;
//   - every SUCCESS wallet payment of the user (paid, read before the
//     ledger: a wallet payment is debited before it is marked SUCCESS) has
//     its debit in the ledger, kept (its amount and the rest are checked
//     from the debit's side, refunds included);
//   - the balance is what the ledger adds up to;
//   - top-ups = balance + kept debits − refunded + debits of PENDING
//     payments (in flight: kept or given back once the payment is final).
//
// Source of the rule: issue 15 (refunds in the money audit); the harness's
// audit (tests/harness) checks the same in the suites.
//
// payments maps each debit's reference to its payment; a missing one is a
// problem.
func CheckConservation(userID string, balance int64, ledger []LedgerEntry, payments map[string]PaymentState, topUps TopUps, paid []WalletPayment) Conservation {
	c := Conservation{UserID: userID, Balance: balance, Entries: len(ledger)}
	problem := func(format string, args ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, args...)) }
	var running, sum int64        // sum: the entries' amounts alone, whatever balance_after says
	credited := map[string]bool{} // top-up credits' references
	debits := map[string]int64{}
	reversals := map[string]int64{}
	refunds := map[string]int64{}
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		ref := ""
		if e.Reference != nil {
			ref = *e.Reference
		}
		switch e.Type {
		case "CREDIT":
			running += e.Amount
			sum += e.Amount
			if orig, ok := strings.CutPrefix(ref, reversalPrefix); ok {
				reversals[orig] += e.Amount
			} else if strings.HasPrefix(ref, refundPrefix) {
				if _, dup := refunds[ref]; dup {
					problem("refund %s credited twice", ref)
				}
				refunds[ref] += e.Amount
			} else {
				if strings.HasPrefix(ref, topUpPrefix) {
					checkTopUpCredit(ref, e.Amount, userID, topUps, credited, problem)
				}
				c.TopUps += e.Amount
			}
		case "DEBIT":
			running -= e.Amount
			sum -= e.Amount
			if _, dup := debits[ref]; dup || ref == "" {
				problem("debit %s: reference %q is empty or appears twice", e.ID, ref)
			}
			debits[ref] = e.Amount
		default:
			problem("entry %s has type %q", e.ID, e.Type)
		}
		if e.BalanceAfter != running || running < 0 {
			problem("entry %s: balance_after %d, the entries before it add up to %d", e.ID, e.BalanceAfter, running)
			running = e.BalanceAfter
		}
	}
	switch {
	case sum != balance:
		problem("the balance %d is not what the ledger adds up to (%d)", balance, sum)
	case len(ledger) > 0 && ledger[0].BalanceAfter != balance:
		problem("newest balance_after %d differs from the balance %d", ledger[0].BalanceAfter, balance)
	}
	for ref, amount := range debits {
		p, ok := payments[ref]
		if !ok {
			problem("debit for payment %s: no such payment", ref)
			continue
		}
		for _, r := range p.Refunds {
			got, credited := refunds[r.ID]
			switch {
			case credited && got != r.Amount:
				problem("refund %s of payment %s is %d, but %d was credited back", r.ID, ref, r.Amount, got)
			case r.Status == "SUCCESS" && !credited:
				problem("refund %s of payment %s is SUCCESS, but nothing was credited back", r.ID, ref)
			case r.Status == "FAILED" && credited:
				problem("refund %s of payment %s is FAILED, but %d was credited back", r.ID, ref, got)
			}
			if credited {
				c.Refunded += got
				delete(refunds, r.ID)
			}
		}
		back, reversed := reversals[ref]
		if p.Status == "PENDING" {
			// In flight: the debit may still be given back, or kept.
			if reversed && back != amount {
				problem("debit for payment %s of %d was given back %d", ref, amount, back)
			}
			if !reversed {
				c.InFlight += amount
			} else {
				c.GivenBack += back
			}
			continue
		}
		if reversed {
			if back != amount || p.Status != "FAILED" {
				problem("debit for payment %s of %d was given back %d, and the payment is %s (want the same amount, FAILED)", ref, amount, back, p.Status)
			}
			c.GivenBack += back
			continue
		}
		if p.Status != "SUCCESS" || p.Amount != amount {
			problem("debit for payment %s of %d kept, but the payment is %s of %d", ref, amount, p.Status, p.Amount)
		}
		c.Paid += amount
	}
	for ref := range reversals {
		if _, ok := debits[ref]; !ok {
			problem("reversal of payment %s, which has no debit", ref)
		}
	}
	for ref, amount := range refunds {
		problem("%d credited back as refund %s, which is no refund of this wallet's payments", amount, ref)
		c.Refunded += amount
	}
	for _, p := range paid {
		if _, debited := debits[p.ID]; !debited {
			problem("wallet payment %s of %d is SUCCESS, but the wallet was never debited for it", p.ID, p.Amount)
		}
	}
	for _, t := range topUps.Succeeded {
		if !credited[t.ID] && (t.LateCaptureOf == "" || !credited[t.LateCaptureOf]) {
			problem("top-up %s of %d is SUCCESS, but the wallet was never credited for it", t.ID, t.Amount)
		}
	}
	if c.TopUps != balance+c.Paid-c.Refunded+c.InFlight {
		problem("top-ups %d != balance %d + kept debits %d − refunded %d + in-flight debits %d", c.TopUps, balance, c.Paid, c.Refunded, c.InFlight)
	}
	return c
}

// checkTopUpCredit checks one credit of amount under top-up reference ref
// against the top-up it stands for, and notes ref as credited.
func checkTopUpCredit(ref string, amount int64, userID string, topUps TopUps, credited map[string]bool, problem func(string, ...any)) {
	if credited[ref] {
		problem("top-up %s credited twice", ref)
	}
	credited[ref] = true
	t, ok := topUps.Credited[ref]
	switch {
	case !ok:
		problem("%d credited as top-up %s, which is no top-up", amount, ref)
	case t.UserID != userID:
		problem("%d credited as top-up %s, which is a top-up of %s", amount, ref, t.UserID)
	case t.Amount != amount:
		problem("%d credited as top-up %s, which is of %d", amount, ref, t.Amount)
	case t.Status != "SUCCESS" && t.Status != "PENDING":
		problem("%d credited as top-up %s, which is %s", amount, ref, t.Status)
	}
}
