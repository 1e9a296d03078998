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

// A wallet payment's request is told no (insufficient funds; no wallet;
// the bill's claim held by another payment) and is slow to record the payment
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
		{"no wallet, then the wallet opened and funded", 0, func(*testing.T, domain.Store) {},
			func(_ *testing.T, _ domain.Store, bank *fakeBank) {
				bank.mu.Lock()
				bank.noWallet["usr_a"] = false
				bank.balance["usr_a"] += 10_000
				bank.mu.Unlock()
			}, domain.ReasonWalletNotFound},
		{"the claim held by another payment, which then fails", 10_000, func(t *testing.T, s domain.Store) {
			q := domain.NewWalletPayment("pay_q", domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}, time.Now())
			if _, err := s.Create(context.Background(), q); err != nil {
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
			bank.noWallet["usr_a"] = tc.reason == domain.ReasonWalletNotFound
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

// heldBills holds a "no such bill" from billing until release (as
// refusalGate does for the wallet and the claim).
type heldBills struct {
	*fakeBank
	*refusalGate
}

func (h heldBills) Get(ctx context.Context, id string) (domain.Bill, error) {
	b, err := h.fakeBank.Get(ctx, id)
	return b, h.hold(err)
}

// pausedWallet stops a driver before its debit until told to go on.
type pausedWallet struct {
	*fakeBank
	arrived, goOn chan struct{}
}

func (w pausedWallet) Debit(ctx context.Context, user string, amount int64, ref string) error {
	close(w.arrived)
	<-w.goOn
	return w.fakeBank.Debit(ctx, user, amount, ref)
}

// A payment accepted while billing was down is driven by two drivers (a
// keyed retry of its request, the recovery loop). One reads "no such
// bill" and is slow to record the payment FAILED; meanwhile the bill comes
// to exist under that id (a subscription's bill has an id known ahead),
// and the other reads it, records it on the payment and goes on to debit.
// The slow driver's FAILED must not land on a payment that another is
// paying: the record decides, and both end SUCCESS with one debit.
func TestABillReportedMissingThenReadByAnotherDriver(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 10_000
	first := newProcessor(bank)
	bank.billingDown = true
	p, err := first.PayFromWallet(ctx, "bill_1", "pay_p", "usr_a")
	if err != nil || p.Status != domain.Pending {
		t.Fatalf("PayFromWallet with billing down = %s, %v; want PENDING", p.Status, err)
	}
	bank.billingDown = false

	slow := newProcessor(bank)
	slow.Store = first.Store
	held := &refusalGate{refused: make(chan struct{}), release: make(chan struct{})}
	slow.Bills = heldBills{bank, held}
	other := newProcessor(bank)
	other.Store = first.Store
	paused := pausedWallet{bank, make(chan struct{}), make(chan struct{})}
	other.Wallets = paused

	slowDone := make(chan domain.Payment, 1)
	go func() {
		p, _ := slow.Drive(ctx, "pay_p")
		slowDone <- p
	}()
	<-held.refused // the slow driver was told "no such bill"
	bank.mu.Lock()
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	bank.mu.Unlock()
	otherDone := make(chan domain.Payment, 1)
	go func() {
		p, _ := other.Drive(ctx, "pay_p")
		otherDone <- p
	}()
	<-paused.arrived // the other driver recorded the bill and is about to debit
	close(held.release)
	slowAnswer := <-slowDone
	close(paused.goOn)
	otherAnswer := <-otherDone

	final, err := first.Store.Get(ctx, "pay_p")
	if err != nil {
		t.Fatal(err)
	}
	bank.mu.Lock()
	defer bank.mu.Unlock()
	if final.Status != domain.Success || slowAnswer.Status != domain.Success || otherAnswer.Status != domain.Success ||
		bank.debits["pay_p"] != 2500 || len(bank.debits) != 1 || !bank.bills["bill_1"].Paid || bank.bills["bill_1"].PaymentID != "pay_p" {
		t.Fatalf("payment %s (slow driver told %s, other %s), debits %v, bill paid %v by %q; want all SUCCESS, one debit of 2500, the bill PAID by pay_p",
			final.Status, slowAnswer.Status, otherAnswer.Status, bank.debits, bank.bills["bill_1"].Paid, bank.bills["bill_1"].PaymentID)
	}
}

// enlistFails is a payment store whose Enlist fails while down is set.
type enlistFails struct {
	domain.Store
	down bool
}

func (s *enlistFails) Enlist(ctx context.Context, id string) (domain.Payment, error) {
	if s.down {
		return domain.Payment{}, errDown
	}
	return s.Store.Enlist(ctx, id)
}

// A payment accepted for an admin while billing was down is listed in its user's
// payments by whichever drive first gets past reading its bill; one that
// cannot list it (the payment store failing) leaves it PENDING with
// nothing moved, and a later drive lists it and pays: it is never left
// paid and unlisted.
func TestAPaymentAcceptedBeforeItsBillIsListedBeforeAnythingMoves(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 10_000
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 2500, Currency: "INR"}
	pr := newProcessor(bank)
	st := &enlistFails{Store: pr.Store}
	pr.Store = st
	bank.billingDown = true
	// An admin's payment: its user is known only from the bill.
	p, err := pr.PayFromWallet(ctx, "bill_1", "pay_p", "")
	if err != nil || p.Status != domain.Pending {
		t.Fatalf("PayFromWallet with billing down = %s, %v; want PENDING", p.Status, err)
	}
	if q, err := pr.Store.Get(ctx, "pay_p"); err != nil || q.Seq != 0 {
		t.Fatalf("payment accepted without its bill: seq %d, %v; want not listed yet", q.Seq, err)
	}
	bank.billingDown = false

	st.down = true
	if p, err = pr.Drive(ctx, "pay_p"); err != nil || p.Status != domain.Pending || len(bank.debits) != 0 {
		t.Fatalf("drive that cannot list = %s, %v, debits %v; want PENDING, nothing debited", p.Status, err, bank.debits)
	}
	st.down = false
	if p, err = pr.Drive(ctx, "pay_p"); err != nil || p.Status != domain.Success {
		t.Fatalf("later drive = %s, %v; want SUCCESS", p.Status, err)
	}
	final, err := pr.Store.Get(ctx, "pay_p")
	if err != nil || final.Seq == 0 || bank.debits["pay_p"] != 2500 {
		t.Fatalf("payment seq %d, debits %v, %v; want listed and debited once", final.Seq, bank.debits, err)
	}
}

// A payment one instance settled, refunded through its twin: the twin puts
// it back in the pending index (Track) to drive the refund, and the first
// instance's recovery round must not drop that entry as one it saw settled
// (on the replica topology the refund's status was then never asked, and
// the refund stayed PENDING for good).
func TestARefundTrackedByATwinIsNotDroppedAsSettled(t *testing.T) {
	ctx := context.Background()
	w := newRefundWorld(t) // w.pr settled w.pid: its round would drop the entry unread
	twin := newProcessor(w.bank)
	twin.Store, twin.Gateway, twin.Now, twin.Retry = w.pr.Store, w.rf, w.clock.Now, w.pr.Retry
	if err := w.pr.RecoverOnce(ctx, immediately); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the index keeps milliseconds
	r := func() domain.RefundRecord {
		r, _, err := twin.RequestRefund(ctx, admin, domain.RefundRequest{PaymentID: w.pid, Amount: amountOf(1000), Reason: "goodwill"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}()
	if r.Status != domain.Pending {
		t.Fatalf("refund = %+v, want PENDING (Razorpay says pending)", r)
	}
	for i := 0; i < 3; i++ {
		if err := w.pr.RecoverOnce(ctx, immediately); err != nil {
			t.Fatal(err)
		}
		pending, err := w.pr.Store.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := pending[w.pid]; !ok {
			t.Fatalf("round %d: %s dropped from the pending index with its refund %s PENDING", i, w.pid, r.ID)
		}
	}
	// Settled at Razorpay: the refund is driven to SUCCESS, and then the
	// entry goes.
	w.rf.settleAt(r.ID, "processed")
	w.clock.add(time.Hour)
	w.round(t)
	if got := w.refundOf(t, w.pid, r.ID); got.Status != domain.Success {
		t.Fatalf("refund after Razorpay processed it = %+v, want SUCCESS", got)
	}
}
