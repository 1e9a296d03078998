package domain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/payment/domain"
	"github.com/finflow/finflow/services/payment/store"
)

// fakeBank is an in-memory billing and wallet service with the real
// services' rules (debits once per reference, a bill paid once) and switches
// to make them fail. Unit tests of the orchestration only; the end-to-end
// suites use the real services.
type fakeBank struct {
	mu       sync.Mutex
	balance  map[string]int64
	debits   map[string]int64 // reference -> amount
	credits  map[string]int64 // reference -> amount
	refunded map[string]bool  // bills marked REFUNDED
	reversed map[string]bool
	refused  map[string]bool // debit references refused (and refused again)
	// noWallet holds the users without a wallet; a debit refused for it
	// stays refused once the wallet is opened (the wallet store's rule).
	noWallet        map[string]bool
	refusedNoWallet map[string]bool
	bills           map[string]*domain.Bill
	walletDown      bool
	billingDown     bool
	// loseDebitAnswer applies the next debit but reports a timeout.
	loseDebitAnswer bool
	// down, when set, is what a service down answers instead of no
	// answer: an answer that is none of its decisions (a 401 of a token
	// misconfigured, a 404 ROUTE_NOT_FOUND).
	down error
}

func (f *fakeBank) downAnswer() error {
	if f.down != nil {
		return f.down
	}
	return errDown
}

var errDown = fmt.Errorf("%w: service down", sidecar.ErrSidecar)

func newBank() *fakeBank {
	return &fakeBank{balance: map[string]int64{}, debits: map[string]int64{}, credits: map[string]int64{}, refunded: map[string]bool{},
		reversed: map[string]bool{}, refused: map[string]bool{}, bills: map[string]*domain.Bill{},
		noWallet: map[string]bool{}, refusedNoWallet: map[string]bool{}}
}

func (f *fakeBank) Get(_ context.Context, id string) (domain.Bill, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.billingDown {
		return domain.Bill{}, f.downAnswer()
	}
	b, ok := f.bills[id]
	if !ok {
		return domain.Bill{}, domain.ErrBillNotFound
	}
	return *b, nil
}

func (f *fakeBank) MarkPaid(_ context.Context, id, pay string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.billingDown {
		return f.downAnswer()
	}
	b := f.bills[id]
	if b.Paid && b.PaymentID != pay {
		return domain.ErrBillAlreadyPaid
	}
	b.Paid, b.PaymentID = true, pay
	return nil
}

func (f *fakeBank) Debit(_ context.Context, user string, amount int64, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.walletDown {
		return f.downAnswer()
	}
	if _, done := f.debits[ref]; done {
		return nil
	}
	if f.noWallet[user] || f.refusedNoWallet[ref] {
		f.refusedNoWallet[ref] = true
		return domain.ErrWalletNotFound
	}
	if f.balance[user] < amount || f.refused[ref] {
		f.refused[ref] = true
		return domain.ErrInsufficientFunds
	}
	f.balance[user] -= amount
	f.debits[ref] = amount
	if f.loseDebitAnswer {
		f.loseDebitAnswer = false
		return errDown
	}
	return nil
}

func (f *fakeBank) Credit(_ context.Context, user string, amount int64, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.walletDown {
		return f.downAnswer()
	}
	if _, done := f.credits[ref]; !done {
		f.balance[user] += amount
		f.credits[ref] = amount
	}
	return nil
}

func (f *fakeBank) Exists(_ context.Context, user string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.walletDown {
		return false, f.downAnswer()
	}
	_, ok := f.balance[user]
	return ok, nil
}

func (f *fakeBank) MarkRefunded(_ context.Context, id, pay string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.billingDown {
		return f.downAnswer()
	}
	b := f.bills[id]
	if b.PaymentID != pay {
		return domain.ErrBillAlreadyPaid
	}
	f.refunded[id] = true
	return nil
}

func (f *fakeBank) Reverse(_ context.Context, user, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.walletDown {
		return f.downAnswer()
	}
	if amt, ok := f.debits[ref]; ok && !f.reversed[ref] {
		f.balance[user] += amt
		f.reversed[ref] = true
	}
	return nil
}

func newProcessor(bank *fakeBank) *domain.Processor {
	return &domain.Processor{
		Store:       store.New(sidecartest.NewMemState(), "payment-store"),
		Bills:       bank,
		Wallets:     bank,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:         time.Now,
		StepTimeout: func() time.Duration { return time.Second },
	}
}

var immediately = domain.RecoveryConfig{
	Interval:    func() time.Duration { return time.Millisecond },
	MinAge:      func() time.Duration { return 0 },
	Concurrency: func() int { return 4 },
}

func TestPayFromWallet(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name        string
		balance     int64
		setup       func(*fakeBank)
		wantStatus  domain.Status
		wantErr     error
		wantBalance int64
		wantPaid    bool
	}{
		{"success", 1000, nil, domain.Success, nil, 400, true},
		{"insufficient funds: FAILED, wallet untouched", 100, nil, domain.Failed, domain.ErrInsufficientFunds, 100, false},
		{"wallet down: PENDING, nothing moved", 1000, func(f *fakeBank) { f.walletDown = true }, domain.Pending, nil, 1000, false},
		{"debit answer lost: PENDING, debited once", 1000, func(f *fakeBank) { f.loseDebitAnswer = true }, domain.Pending, nil, 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bank := newBank()
			bank.balance["usr_a"] = tc.balance
			bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
			if tc.setup != nil {
				tc.setup(bank)
			}
			pr := newProcessor(bank)
			p, err := pr.PayFromWallet(ctx, "bill_1", "", "")
			if p.Status != tc.wantStatus || !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
				t.Fatalf("PayFromWallet = %s, %v; want %s, %v", p.Status, err, tc.wantStatus, tc.wantErr)
			}
			if bank.balance["usr_a"] != tc.wantBalance || bank.bills["bill_1"].Paid != tc.wantPaid {
				t.Fatalf("balance %d paid %v, want %d %v", bank.balance["usr_a"], bank.bills["bill_1"].Paid, tc.wantBalance, tc.wantPaid)
			}
		})
	}
}

// A payment left PENDING because the wallet was down is finished by the
// recovery loop once the wallet is back, with exactly one debit.
func TestRecoveryFinishesPendingPayments(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 1000
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
	bank.billingDown = true
	pr := newProcessor(bank)
	p, err := pr.PayFromWallet(ctx, "bill_1", "", "")
	if err != nil || p.Status != domain.Pending || p.Amount != 0 {
		t.Fatalf("with billing down: %+v, %v; want PENDING without bill details", p, err)
	}
	// Still down: recovery leaves it pending and keeps it indexed.
	if err := pr.RecoverOnce(ctx, immediately); err != nil {
		t.Fatal(err)
	}
	bank.mu.Lock()
	bank.billingDown, bank.loseDebitAnswer = false, true
	bank.mu.Unlock()
	for i := 0; i < 3; i++ {
		if err := pr.RecoverOnce(ctx, immediately); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := pr.Store.Get(ctx, p.ID)
	pending, _ := pr.Store.Pending(ctx)
	if got.Status != domain.Success || got.Amount != 600 || bank.balance["usr_a"] != 400 || !bank.bills["bill_1"].Paid || len(pending) != 0 {
		t.Fatalf("after recovery: %+v, balance %d, index %v", got, bank.balance["usr_a"], pending)
	}
}

// The bill turned out paid by someone else after the debit: the debit is
// given back before the payment is FAILED.
func TestBillPaidElsewhereGivesTheDebitBack(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 1000
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
	pr := newProcessor(bank)
	// Paid outside this processor's claims (as a late gateway capture would).
	p := domain.NewWalletPayment("", *bank.bills["bill_1"], time.Now())
	if _, err := pr.Store.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	bank.bills["bill_1"].Paid, bank.bills["bill_1"].PaymentID = true, "pay_other"
	got, err := pr.Drive(ctx, p.ID)
	if got.Status != domain.Failed || !errors.Is(err, domain.ErrBillAlreadyPaid) {
		t.Fatalf("Drive = %+v, %v; want FAILED BILL_ALREADY_PAID", got, err)
	}
	if bank.balance["usr_a"] != 1000 || !bank.reversed[p.ID] {
		t.Fatalf("balance %d reversed %v: the debit must be given back", bank.balance["usr_a"], bank.reversed[p.ID])
	}
}

// Twenty payments of one bill at once: exactly one succeeds, the others are
// refused before any money moves.
func TestConcurrentPaymentsOfOneBill(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 100000
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
	pr := newProcessor(bank)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refused := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := pr.PayFromWallet(ctx, "bill_1", "", "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && p.Status == domain.Success:
				wins++
			case errors.Is(err, domain.ErrBillAlreadyPaid):
				refused++
			default:
				t.Errorf("PayFromWallet = %+v, %v", p, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || refused != 19 || bank.balance["usr_a"] != 100000-600 || len(bank.debits) != 1 {
		t.Fatalf("wins %d refused %d balance %d debits %d; want 1, 19, one debit of 600", wins, refused, bank.balance["usr_a"], len(bank.debits))
	}
}

// A keyed request's retry (its id derived from the Idempotency-Key) finds
// the payment it started, whatever state it reached, and moves no money
// twice.
func TestKeyedRetryFindsItsPayment(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		balance    int64
		wantStatus domain.Status
		wantErr    error
	}{
		{"after success", 1000, domain.Success, nil},
		{"after insufficient funds", 100, domain.Failed, domain.ErrInsufficientFunds},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bank := newBank()
			bank.balance["usr_a"] = tc.balance
			bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
			pr := newProcessor(bank)
			first, err := pr.PayFromWallet(ctx, "bill_1", "pay_keyed1", "usr_a")
			if first.ID != "pay_keyed1" || first.Status != tc.wantStatus || !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
				t.Fatalf("first = %s %s, %v", first.ID, first.Status, err)
			}
			again, err := pr.PayFromWallet(ctx, "bill_1", "pay_keyed1", "usr_a")
			if again.ID != first.ID || again.Status != first.Status || !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
				t.Fatalf("retry = %s %s, %v; want %s %s", again.ID, again.Status, err, first.ID, first.Status)
			}
			if len(bank.debits) > 1 || tc.wantStatus == domain.Success && bank.balance["usr_a"] != tc.balance-600 {
				t.Fatalf("debits %v, balance %d", bank.debits, bank.balance["usr_a"])
			}
			// The same key for another bill is refused.
			bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 1, Currency: "INR"}
			if _, err := pr.PayFromWallet(ctx, "bill_2", "pay_keyed1", "usr_a"); !errors.Is(err, domain.ErrKeyReused) {
				t.Fatalf("same id, other bill: %v, want ErrKeyReused", err)
			}
		})
	}
}

// A payment its request finished is dropped from the pending index by the
// next recovery round even before it is old enough to be driven (the
// process saw it become final, so nothing is read back).
func TestRecoveryForgetsSettledPayments(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 1000
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
	pr := newProcessor(bank)
	if p, err := pr.PayFromWallet(ctx, "bill_1", "", ""); err != nil || p.Status != domain.Success {
		t.Fatalf("pay = %s, %v", p.Status, err)
	}
	if pending, _ := pr.Store.Pending(ctx); len(pending) != 1 {
		t.Fatalf("index before the round = %v, want the payment", pending)
	}
	later := domain.RecoveryConfig{Interval: immediately.Interval, Concurrency: immediately.Concurrency,
		MinAge: func() time.Duration { return time.Hour }}
	if err := pr.RecoverOnce(ctx, later); err != nil {
		t.Fatal(err)
	}
	if pending, _ := pr.Store.Pending(ctx); len(pending) != 0 {
		t.Fatalf("index after the round = %v, want empty", pending)
	}
}

// fakeGateway makes orders, or fails: transiently (the razorpay service
// unreachable) or with a definite refusal.
type fakeGateway struct {
	down    bool
	refuse  bool
	created int
}

func (g *fakeGateway) CreateOrder(_ context.Context, paymentID string, amount int64, currency string) (domain.RazorpayOrder, error) {
	switch {
	case g.down:
		return domain.RazorpayOrder{}, errDown
	case g.refuse:
		return domain.RazorpayOrder{}, contract.ErrGatewayRefused.With("Razorpay refused creating the order: Amount exceeds maximum amount allowed.",
			map[string]any{contract.GatewayStatus: 400.0, contract.GatewayCode: "BAD_REQUEST_ERROR", contract.GatewayDescription: "Amount exceeds maximum amount allowed.", contract.GatewayField: "amount"})
	}
	g.created++
	return domain.RazorpayOrder{OrderID: "order_" + paymentID, KeyID: "rzp_test", Amount: amount, Currency: currency}, nil
}

func (g *fakeGateway) OrderPayments(context.Context, string) ([]domain.GatewayPayment, error) {
	return nil, nil
}

func (g *fakeGateway) Payment(context.Context, string) (domain.GatewayPayment, error) {
	return domain.GatewayPayment{}, errDown
}

func (g *fakeGateway) Refund(context.Context, contract.RefundRequest) (contract.Refund, error) {
	return contract.Refund{}, errDown
}

func (g *fakeGateway) RefundStatus(context.Context, string) (contract.Refund, error) {
	return contract.Refund{}, errDown
}

// A Razorpay payment whose order cannot be made because the razorpay
// service is down stays PENDING (503 to the client) and gets its order when
// asked again; a definite refusal fails it.
func TestRazorpayOrderWhenTheGatewayIsDown(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
	bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 700, Currency: "INR"}
	gw := &fakeGateway{down: true}
	pr := newProcessor(bank)
	pr.Gateway = gw

	_, err := pr.PayWithRazorpay(ctx, "bill_1", "pay_rz1", "usr_a")
	if e := apperr.From(err); !errors.Is(err, domain.ErrGatewayUnavailable) || e.Kind != apperr.KindUnavailable ||
		e.Details[domain.DetailPayment] != "pay_rz1" || e.Details[contract.DetailService] != contract.AppRazorpay {
		t.Fatalf("with the gateway down: %v %v, want 503 UNAVAILABLE naming the payment and the razorpay service", err, e.Details)
	}
	if p, _ := pr.Store.Get(ctx, "pay_rz1"); p.Status != domain.Pending || p.Razorpay != nil {
		t.Fatalf("payment after the failed order: %s with order %v, want PENDING without one", p.Status, p.Razorpay)
	}
	gw.down = false
	p, err := pr.PayWithRazorpay(ctx, "bill_1", "pay_rz1", "usr_a")
	if err != nil || p.Status != domain.Pending || p.Razorpay == nil || gw.created != 1 {
		t.Fatalf("asked again: %+v, %v (orders made %d), want PENDING with its order", p, err, gw.created)
	}

	gw.refuse = true
	_, err = pr.PayWithRazorpay(ctx, "bill_2", "pay_rz2", "usr_a")
	if e := apperr.From(err); e.Code != contract.CodeGatewayRefused || e.Kind != apperr.KindUnprocessable ||
		!strings.Contains(e.Message, "Amount exceeds maximum amount allowed.") || e.Details["payment_id"] != "pay_rz2" {
		t.Fatalf("a refused order = %v %+v, want 422 GATEWAY_REFUSED naming Razorpay's answer and the payment", err, e.Details)
	}
	p, _ = pr.Store.Get(ctx, "pay_rz2")
	if p.Status != domain.Failed || p.FailureReason != domain.ReasonGatewayRefused || p.GatewayError == nil || p.GatewayError.Status != 400 || p.GatewayError.Field != "amount" {
		t.Fatalf("payment after a refused order: %+v, want FAILED GATEWAY_REFUSED with Razorpay's answer", p)
	}
	// Asked again: the same FAILED payment and its error, no second order.
	if _, err := pr.PayWithRazorpay(ctx, "bill_2", "pay_rz2", "usr_a"); apperr.From(err).Code != contract.CodeGatewayRefused {
		t.Fatalf("asked again after a refusal = %v", err)
	}
}

// A payment of a bill that another payment holds or has paid is refused
// 409 BILL_ALREADY_PAID saying which it is: an UNPAID bill with a Razorpay
// payment under way is not called paid, and the details name that payment
// and its status, for a client to say so.
func TestABillBeingPaidIsNotCalledPaid(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	bank.balance["usr_a"] = 10000
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: 600, Currency: "INR"}
	pr := newProcessor(bank)
	pr.Gateway = newRazorpay()
	held, err := pr.PayWithRazorpay(ctx, "bill_1", "", "usr_a")
	if err != nil || held.Status != domain.Pending {
		t.Fatalf("PayWithRazorpay = %+v, %v; want PENDING", held, err)
	}
	check := func(name string, err error, wantStatus, wantWords string, wantFailed bool) {
		t.Helper()
		e := apperr.From(err)
		if !errors.Is(err, domain.ErrBillAlreadyPaid) || e.Kind.Status() != 409 || e.Details[domain.DetailOtherPayment] != held.ID ||
			e.Details[domain.DetailOtherPaymentStatus] != wantStatus && !(wantStatus == "" && e.Details[domain.DetailOtherPaymentStatus] == nil) ||
			!strings.Contains(e.Message, wantWords) || e.Details["bill_id"] != "bill_1" {
			t.Fatalf("%s = %v %v, want 409 BILL_ALREADY_PAID naming %s (%s) and saying %q", name, err, e.Details, held.ID, wantStatus, wantWords)
		}
		if _, made := e.Details["payment_id"]; made != wantFailed {
			t.Fatalf("%s: details %v, want a FAILED payment named: %v", name, e.Details, wantFailed)
		}
	}
	_, err = pr.PayFromWallet(ctx, "bill_1", "", "usr_a")
	check("a wallet payment while a Razorpay one is under way", err, "PENDING", "is not paid yet", true)
	if bank.balance["usr_a"] != 10000 || bank.bills["bill_1"].Paid {
		t.Fatalf("balance %d, bill paid %v; want nothing moved", bank.balance["usr_a"], bank.bills["bill_1"].Paid)
	}

	// Once the bill is paid by it, billing says so before anything is made.
	bank.bills["bill_1"].Paid, bank.bills["bill_1"].PaymentID = true, held.ID
	_, err = pr.PayFromWallet(ctx, "bill_1", "", "usr_a")
	check("a wallet payment of a paid bill", err, "", "is already paid by payment", false)
	_, err = pr.PayWithRazorpay(ctx, "bill_1", "", "usr_a")
	check("a Razorpay payment of a paid bill", err, "", "is already paid by payment", false)
	// Refunded since: not "already paid", but paid and refunded, for good.
	bank.bills["bill_1"].Refunded = true
	_, err = pr.PayFromWallet(ctx, "bill_1", "", "usr_a")
	check("a wallet payment of a refunded bill", err, "", "and refunded: a refunded bill cannot be paid again", false)
	if apperr.From(err).Details["bill_status"] != "REFUNDED" {
		t.Fatalf("details %v, want bill_status REFUNDED", apperr.From(err).Details)
	}
	_, err = pr.PayWithRazorpay(ctx, "bill_1", "", "usr_a")
	check("a Razorpay payment of a refunded bill", err, "", "and refunded: a refunded bill cannot be paid again", false)
	bank.bills["bill_1"].Refunded = false

	// A wallet payment under way (the wallet not answering) holds bill_2:
	// a Razorpay payment of it is refused the same way.
	bank.bills["bill_2"] = &domain.Bill{ID: "bill_2", UserID: "usr_a", Amount: 700, Currency: "INR"}
	bank.walletDown = true
	held, err = pr.PayFromWallet(ctx, "bill_2", "", "usr_a")
	if err != nil || held.Status != domain.Pending {
		t.Fatalf("PayFromWallet with the wallet down = %+v, %v; want PENDING", held, err)
	}
	_, err = pr.PayWithRazorpay(ctx, "bill_2", "", "usr_a")
	e := apperr.From(err)
	if !errors.Is(err, domain.ErrBillAlreadyPaid) || e.Details[domain.DetailOtherPayment] != held.ID || e.Details[domain.DetailOtherPaymentStatus] != "PENDING" || !strings.Contains(e.Message, "(wallet) of it is under way") {
		t.Fatalf("a Razorpay payment while a wallet one is under way = %v %v", err, e.Details)
	}
}

// A wallet payment makes the minimum-hop payment's state round trips
// (docs/minimum-hop.md: P1 its list entry, P2 the payment and its claim in
// one transaction, P3 its final status from the copy, and P0 its pending
// entry), and nothing else: in particular it does not read its own record
// back (it once did, to learn a list place the store had just given it).
// Counted over payments after the first 200, once every pending shard and
// the users' lists exist; the payments are made one at a time, so the
// pending index's group commit shares nothing.
func TestWalletPaymentStateRoundTrips(t *testing.T) {
	ctx := context.Background()
	bank := newBank()
	mem := sidecartest.NewMemState()
	st := store.New(mem, "payment-store").WithCache(sidecar.NewCache(mem, "payment-store", "memory", 1024))
	pr := newProcessor(bank)
	pr.Store = st
	const users, warm, n = 4, 200, 100
	for u := range users {
		bank.balance[fmt.Sprintf("usr_%d", u)] = 1 << 40
	}
	pay := func(i int) {
		t.Helper()
		b := fmt.Sprintf("bill_%d", i)
		bank.bills[b] = &domain.Bill{ID: b, UserID: fmt.Sprintf("usr_%d", i%users), Amount: 600, Currency: "INR"}
		if p, err := pr.PayFromWallet(ctx, b, "", ""); err != nil || p.Status != domain.Success || p.Seq == 0 {
			t.Fatalf("payment %d: %s (seq %d), %v; want SUCCESS, listed", i, p.Status, p.Seq, err)
		}
	}
	for i := range warm {
		pay(i)
	}
	before := map[string][2]int{}
	prefixes := []string{"payment/", "claim/", "payments-of/", "pending/", ""}
	for _, prefix := range prefixes {
		r, w := mem.Count(prefix)
		before[prefix] = [2]int{r, w}
	}
	for i := warm; i < warm+n; i++ {
		pay(i)
	}
	for _, tc := range []struct {
		prefix        string
		reads, writes float64 // per payment
	}{
		{"payment/", 0, 2},     // P2's insert, P3's save
		{"claim/", 0, 1},       // P2's insert
		{"payments-of/", 0, 1}, // P1
		{"pending/", 0, 1},     // P0, unshared
		{"", 0, 5},             // everything
	} {
		r, w := mem.Count(tc.prefix)
		reads := float64(r-before[tc.prefix][0]) / n
		writes := float64(w-before[tc.prefix][1]) / n
		if reads != tc.reads || writes != tc.writes {
			t.Errorf("keys %q: %.2f reads and %.2f writes per payment, want %.0f and %.0f", tc.prefix, reads, writes, tc.reads, tc.writes)
		}
	}
}

// Razorpay takes ₹1.00 or more. A Razorpay payment of a bill for less is
// 422 AMOUNT_BELOW_MINIMUM and a top-up of less is 400 on amount, before
// anything is recorded or any order is asked for; at the minimum the order
// is made.
func TestBelowRazorpaysMinimumNothingIsRecorded(t *testing.T) {
	ctx := context.Background()
	admin := auth.Caller{Signed: true, Identity: auth.Identity{Sub: "usr_admin", Role: "admin"}}
	for _, tc := range []struct {
		amount int64
		want   error
	}{{1, domain.ErrBelowRazorpayMinimum}, {99, domain.ErrBelowRazorpayMinimum}, {100, nil}, {101, nil}} {
		t.Run(fmt.Sprint(tc.amount), func(t *testing.T) {
			bank := newBank()
			bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: "usr_a", Amount: tc.amount, Currency: "INR"}
			owner := id.New(id.User)
			bank.balance[owner] = 0
			gw := &fakeGateway{}
			pr := newProcessor(bank)
			pr.Gateway = gw
			p, err := pr.PayWithRazorpay(ctx, "bill_1", "pay_min", "usr_a")
			_, stored := pr.Store.Get(ctx, "pay_min")
			if tc.want != nil {
				if e := apperr.From(err); !errors.Is(err, tc.want) || e.Kind != apperr.KindUnprocessable || e.Details["amount_min"] != int64(100) ||
					!errors.Is(stored, domain.ErrPaymentNotFound) || gw.created != 0 {
					t.Fatalf("bill of %d paise: %v %v (stored: %v, orders %d), want AMOUNT_BELOW_MINIMUM and nothing recorded or asked", tc.amount, err, e.Details, stored, gw.created)
				}
			} else if err != nil || p.Status != domain.Pending || p.Razorpay == nil || gw.created != 1 {
				t.Fatalf("bill of %d paise: %+v, %v (orders %d), want PENDING with an order", tc.amount, p, err, gw.created)
			}

			top, err := pr.TopUp(ctx, admin, owner, money.Amount(tc.amount), "")
			if tc.want != nil {
				if e := apperr.From(err); e.Kind != apperr.KindInvalid || e.Details["field"] != "amount" || gw.created != 0 {
					t.Fatalf("top-up of %d paise: %v %v (orders %d), want 400 on amount and nothing asked", tc.amount, err, e.Details, gw.created)
				}
			} else if err != nil || top.Status != domain.Pending || gw.created != 2 {
				t.Fatalf("top-up of %d paise: %+v, %v (orders %d), want PENDING with an order", tc.amount, top, err, gw.created)
			}
		})
	}
}
