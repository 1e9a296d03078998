package domain_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/finflow/finflow/services/payment/domain"
)

// Payments settled by this process and by a twin (another payment instance
// over the same store) wait in the pending index together: one recovery
// round drops them all. The round's bookkeeping is written by its
// goroutines and by the round itself (run with -race); on the replica
// topology a payment instance died of "concurrent map writes" here.
func TestRecoveryRoundOverPaymentsSettledHereAndByATwin(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 1_000_000
	pr := newProcessor(bank)
	twin := newProcessor(bank)
	twin.Store = pr.Store
	for i := 0; i < 40; i++ {
		bill := fmt.Sprintf("bill_%d", i)
		bank.bills[bill] = &domain.Bill{ID: bill, UserID: "usr_a", Amount: 100, Currency: "INR"}
		by := pr
		if i%2 == 1 {
			by = twin
		}
		if p, err := by.PayFromWallet(ctx, bill, "", ""); err != nil || p.Status != domain.Success {
			t.Fatalf("PayFromWallet(%s) = %s, %v; want SUCCESS", bill, p.Status, err)
		}
	}
	if err := pr.RecoverOnce(ctx, immediately); err != nil {
		t.Fatalf("RecoverOnce = %v", err)
	}
	pending, err := pr.Store.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Fatalf("%d payments still in the pending index after a round, want none", len(pending))
	}
}

// refusalGate holds a refusal from the paying request: its answer from the
// wallet (heldWallet.Debit) or from the claim (heldClaims.ClaimBill) is
// decided where it is decided and, when it is a refusal, given to the
// request only on release: the request is slow between being told no and
// recording the payment FAILED.
type refusalGate struct{ refused, release chan struct{} }

func (g *refusalGate) hold(err error) error {
	if err != nil {
		close(g.refused)
		<-g.release
	}
	return err
}

type heldWallet struct {
	*fakeBank
	*refusalGate
}

func (h heldWallet) Debit(ctx context.Context, user string, amount int64, ref string) error {
	return h.hold(h.fakeBank.Debit(ctx, user, amount, ref))
}

type heldClaims struct {
	domain.Store
	*refusalGate
}

func (h heldClaims) ClaimBill(ctx context.Context, billID, paymentID string) error {
	return h.hold(h.Store.ClaimBill(ctx, billID, paymentID))
}

// A wallet payment's request is told no (insufficient funds; the bill's
// claim held by another payment) and is slow to record the payment
// FAILED. Meanwhile the reason goes away (a top-up lands; the other
// payment fails and lets the claim go), and the recovery loop of another
// instance drives the same payment. It must get the same answer: were it
// to debit and mark the bill PAID, the request's FAILED would land before
// its SUCCESS, and a debit and a PAID bill would belong to a FAILED
// payment. Both end FAILED; nothing moved.
func TestADriverToldNoAndADriverLaterAgree(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balance  int64
		before   func(t *testing.T, s domain.Store)                 // before the request
		meantime func(t *testing.T, s domain.Store, bank *fakeBank) // while the refusal is held
		reason   string
	}{
		{"insufficient funds, then a top-up", 100, func(*testing.T, domain.Store) {},
			func(_ *testing.T, _ domain.Store, bank *fakeBank) {
				bank.mu.Lock()
				bank.balance["usr_a"] += 10_000
				bank.mu.Unlock()
			}, domain.ReasonInsufficientFunds},
		{"the claim held by another payment, which then fails", 10_000, func(t *testing.T, s domain.Store) {
			q := domain.NewWalletPayment("pay_q", domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}, time.Now())
			if err := s.Create(context.Background(), q); err != nil {
				t.Fatal(err)
			}
			if err := s.ClaimBill(context.Background(), "bill_1", "pay_q"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, s domain.Store, _ *fakeBank) {
			ctx := context.Background()
			if _, err := s.Update(ctx, "pay_q", func(q *domain.Payment) bool { q.Status = domain.Failed; return true }); err != nil {
				t.Fatal(err)
			}
			if err := s.ReleaseBill(ctx, "bill_1", "pay_q"); err != nil {
				t.Fatal(err)
			}
		}, domain.ReasonBillAlreadyPaid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			bank := newBank()
			bank.balance["usr_a"] = tc.balance
			bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}
			request := newProcessor(bank)
			recovery := newProcessor(bank)
			recovery.Store = request.Store
			held := &refusalGate{refused: make(chan struct{}), release: make(chan struct{})}
			request.Store, request.Wallets = heldClaims{request.Store, held}, heldWallet{bank, held}
			tc.before(t, recovery.Store)

			answered := make(chan domain.Payment, 1)
			go func() {
				p, _ := request.PayFromWallet(ctx, "bill_1", "pay_p", "usr_a")
				answered <- p
			}()
			<-held.refused
			tc.meantime(t, recovery.Store, bank)
			p, err := recovery.Drive(ctx, "pay_p")
			if err == nil || p.Status != domain.Failed || p.FailureReason != tc.reason {
				t.Errorf("the recovery's drive = %s (%s), %v; want FAILED %s", p.Status, p.FailureReason, err, tc.reason)
			}
			close(held.release)
			told := <-answered
			final, gerr := recovery.Store.Get(ctx, "pay_p")
			if gerr != nil {
				t.Fatal(gerr)
			}
			bank.mu.Lock()
			defer bank.mu.Unlock()
			if told.Status != domain.Failed || final.Status != domain.Failed || final.FailureReason != tc.reason ||
				len(bank.debits) != 0 || bank.bills["bill_1"].Paid {
				t.Fatalf("request told %s, payment %s (%s), debits %v, bill paid %v; want FAILED %s, nothing debited, the bill unpaid",
					told.Status, final.Status, final.FailureReason, bank.debits, bank.bills["bill_1"].Paid, tc.reason)
			}
		})
	}
}
