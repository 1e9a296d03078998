package harness

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Account is what a test knows it did to one user's money: the top-ups it
// made (each counted once, however often it was retried) and the bills it
// created.
type Account struct {
	UserID string
	TopUps int64
	Bills  []string
}

// AuditMoney checks FinFlow's money invariants for every account, from the
// ledgers, bills and payments as the API reports them:
//
//   - each ledger is consistent (balance_after follows entry by entry, never
//     negative, the newest equals the balance) and holds exactly the test's
//     top-ups as non-reversal credits;
//   - every debit references a payment; a debit given back (reversal credit
//     of the same amount) belongs to a FAILED payment, any other to a
//     SUCCESS payment of that amount whose bill is PAID by it;
//   - every PAID bill names a SUCCESS payment: a wallet payment with exactly
//     one debit that was not given back, or a Razorpay payment with none;
//     an UNPAID bill has no kept debit;
//   - top-ups = balance + the sum of SUCCESS wallet payments, per user.
//
// It fails the test for every violation and returns the number of SUCCESS
// payments seen.
func (e *Env) AuditMoney(tb testing.TB, accounts []*Account) int {
	tb.Helper()
	violations, successes := e.Audit(tb, accounts)
	for _, v := range violations {
		tb.Error(v)
	}
	return successes
}

// Audit is AuditMoney returning the violations (empty when the money is
// right) instead of failing the test for them; a request that gets no
// answer still fails the test.
func (e *Env) Audit(tb testing.TB, accounts []*Account) (violations []string, successes int) {
	tb.Helper()
	errorf := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }
	for _, acc := range accounts {
		ledger, balance, broken := e.consistentLedger(tb, acc.UserID)
		if broken != "" {
			errorf("%s", broken)
			continue
		}
		var topUps, razorpayTopUps int64
		debits := map[string]int64{}
		reversals := map[string]int64{}
		refundCredits := map[string]int64{} // refund id -> amount
		for _, t := range ledger {
			ref := ""
			if t.Reference != nil {
				ref = *t.Reference
			}
			switch t.Type {
			case "CREDIT":
				if orig, ok := strings.CutPrefix(ref, "reversal:"); ok {
					reversals[orig] += t.Amount
				} else if strings.HasPrefix(ref, "rfd_") {
					refundCredits[ref] += t.Amount
				} else if strings.HasPrefix(ref, "top_") {
					// A top-up through Razorpay: credited once, by a SUCCESS
					// top-up of exactly that amount (or a late capture of it).
					if tu, ok := e.topUp(tb, ref); !ok || tu.Amount != t.Amount || (tu.Status != "SUCCESS" && tu.SettledBy == nil) {
						errorf("user %s: credit %s of %d, but the top-up is %+v", acc.UserID, ref, t.Amount, tu)
					}
					razorpayTopUps += t.Amount
				} else {
					topUps += t.Amount
				}
			case "DEBIT":
				if _, dup := debits[ref]; dup || ref == "" {
					errorf("user %s: debit reference %q appears twice or is empty", acc.UserID, ref)
				}
				debits[ref] = t.Amount
			}
		}
		if topUps != acc.TopUps {
			errorf("user %s: top-ups in the ledger %d, the test topped up %d", acc.UserID, topUps, acc.TopUps)
		}
		var paid, refunded int64
		debitedBill := map[string]string{} // bill -> payment with a kept debit
		for ref, amount := range debits {
			p := e.MustPayment(tb, ref)
			// Refunds of a wallet payment are credited back, once each, with
			// the refund's id; only SUCCESS ones.
			for _, r := range e.MustRefunds(tb, ref) {
				got, credited := refundCredits[r.ID]
				switch {
				case r.Status == "SUCCESS" && (!credited || got != r.Amount):
					errorf("user %s: refund %s of %d is SUCCESS, but the wallet got %d back", acc.UserID, r.ID, r.Amount, got)
				case r.Status != "SUCCESS" && credited:
					errorf("user %s: refund %s is %s, but the wallet got %d back", acc.UserID, r.ID, r.Status, got)
				}
				if r.Status == "SUCCESS" {
					refunded += r.Amount
				}
				delete(refundCredits, r.ID)
			}
			if back, ok := reversals[ref]; ok {
				if back != amount || p.Status != "FAILED" {
					errorf("user %s: debit %s of %d given back %d, payment %s; want the same amount and FAILED", acc.UserID, ref, amount, back, p.Status)
				}
				continue
			}
			if p.Status != "SUCCESS" || p.Amount == nil || *p.Amount != amount {
				errorf("user %s: debit %s of %d kept, but the payment is %s (amount %v)", acc.UserID, ref, amount, p.Status, p.Amount)
				continue
			}
			if other, dup := debitedBill[p.BillID]; dup {
				errorf("bill %s has two kept debits: %s and %s", p.BillID, other, ref)
			}
			debitedBill[p.BillID] = ref
			paid += amount
			successes++
		}
		for ref := range reversals {
			if _, ok := debits[ref]; !ok {
				errorf("user %s: reversal of %s without a debit", acc.UserID, ref)
			}
		}
		for ref, amount := range refundCredits {
			errorf("user %s: %d credited back for %s, which is no refund of the user's wallet payments", acc.UserID, amount, ref)
		}
		for _, billID := range acc.Bills {
			b := e.MustBill(tb, billID)
			switch b.Status {
			case "PAID":
				if b.PaymentID == nil {
					errorf("bill %s is PAID by no payment", billID)
					continue
				}
				if p := e.MustPayment(tb, *b.PaymentID); p.Method == "RAZORPAY" {
					// Paid through the gateway: SUCCESS, and the wallet untouched.
					if p.Status != "SUCCESS" || p.BillID != billID {
						errorf("bill %s is PAID by Razorpay payment %s, which is %s", billID, p.ID, p.Status)
					}
					if ref, ok := debitedBill[billID]; ok {
						errorf("bill %s paid through Razorpay also kept wallet debit %s", billID, ref)
					}
					continue
				}
				if debitedBill[billID] != *b.PaymentID {
					errorf("bill %s is PAID by %v, but its kept debit is %q", billID, *b.PaymentID, debitedBill[billID])
				}
			case "REFUNDED":
				if b.PaymentID == nil {
					errorf("bill %s is REFUNDED by no payment", billID)
				} else if p := e.MustPayment(tb, *b.PaymentID); p.Status != "SUCCESS" || p.Amount == nil || p.AmountRefunded != *p.Amount {
					errorf("bill %s is REFUNDED, but its payment %s is %s with %d of %v refunded", billID, p.ID, p.Status, p.AmountRefunded, p.Amount)
				}
			case "UNPAID":
				if ref, ok := debitedBill[billID]; ok {
					errorf("bill %s is UNPAID but payment %s kept its debit", billID, ref)
				}
			default:
				errorf("bill %s has status %q", billID, b.Status)
			}
		}
		// Money in = money out, per user: every top-up (an admin's, or
		// through Razorpay) is in the balance or in a kept debit, less what
		// refunds gave back.
		if acc.TopUps+razorpayTopUps != balance+paid-refunded {
			errorf("user %s: top-ups %d + %d through Razorpay != balance %d + SUCCESS payments %d - refunded %d",
				acc.UserID, acc.TopUps, razorpayTopUps, balance, paid, refunded)
		}
	}
	return violations, successes
}

// MustConsistentLedger reads a wallet's whole ledger (newest first) and its
// balance, and fails the test unless every entry is a CREDIT or DEBIT of a
// positive amount whose balance_after follows from the entry before, never
// negative, ending at the balance.
func (e *Env) MustConsistentLedger(tb testing.TB, userID string) ([]Transaction, int64) {
	tb.Helper()
	ledger, balance, broken := e.consistentLedger(tb, userID)
	if broken != "" {
		tb.Fatal(broken)
	}
	return ledger, balance
}

// consistentLedger is MustConsistentLedger returning what is broken.
func (e *Env) consistentLedger(tb testing.TB, userID string) ([]Transaction, int64, string) {
	tb.Helper()
	ledger := e.MustLedger(tb, userID, 100)
	balance := e.MustBalance(tb, userID)
	var running int64
	for i := len(ledger) - 1; i >= 0; i-- {
		t := ledger[i]
		switch t.Type {
		case "CREDIT":
			running += t.Amount
		case "DEBIT":
			running -= t.Amount
		default:
			return nil, 0, fmt.Sprintf("user %s: transaction %s has type %q", userID, t.ID, t.Type)
		}
		if t.Amount <= 0 || running < 0 || t.BalanceAfter != running {
			return nil, 0, fmt.Sprintf("user %s: ledger breaks at %s: amount %d, balance_after %d, running sum %d", userID, t.ID, t.Amount, t.BalanceAfter, running)
		}
	}
	if running != balance {
		return nil, 0, fmt.Sprintf("user %s: ledger sums to %d, balance is %d", userID, running, balance)
	}
	return ledger, balance, ""
}

// WaitFinal polls payments until none is PENDING, and fails the test if
// some still are after timeout.
func (e *Env) WaitFinal(tb testing.TB, paymentIDs []string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	left := append([]string(nil), paymentIDs...)
	for len(left) > 0 {
		var still []string
		for _, id := range left {
			if e.MustPayment(tb, id).Status == "PENDING" {
				still = append(still, id)
			}
		}
		left = still
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d payments still PENDING after %s (first: %s)", len(left), timeout, left[0])
		}
		time.Sleep(250 * time.Millisecond)
	}
}
