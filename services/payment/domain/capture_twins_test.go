package domain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/services/payment/domain"
)

// heldBank is the bank as one payment instance sees it while it settles a
// capture: its MarkPaid and Credit calls say they began (entered) and wait
// for release before reaching the bank.
type heldBank struct {
	*fakeBank
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func holdBank(b *fakeBank) *heldBank {
	return &heldBank{fakeBank: b, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *heldBank) hold() {
	h.once.Do(func() { close(h.entered) })
	<-h.release
}

func (h *heldBank) MarkPaid(ctx context.Context, id, pay string) error {
	h.hold()
	return h.fakeBank.MarkPaid(ctx, id, pay)
}

func (h *heldBank) Credit(ctx context.Context, user string, amount int64, ref string) error {
	h.hold()
	return h.fakeBank.Credit(ctx, user, amount, ref)
}

// captureRace is one payment instance settling a capture of a pending
// payment's order (held inside billing's or the wallet's call) and a twin
// over the same store, bank and Razorpay.
type captureRace struct {
	settler, twin *domain.Processor
	bank          *fakeBank
	held          *heldBank
	rzp           *fakeRazorpay
	twinRzp       *fakeRazorpay // Razorpay as the twin's reconciliation hears it (rzp unless a case says otherwise)
	clock         *clock
	user          string
	p             domain.Payment // PENDING, with its order
}

const raceGW = "pay_C0000000000001"

func newCaptureRace(t *testing.T, topUp bool) *captureRace {
	t.Helper()
	bank, rzp := newBank(), newRazorpay()
	c := &captureRace{bank: bank, held: holdBank(bank), rzp: rzp, twinRzp: rzp, clock: &clock{now: time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)}}
	c.settler = newProcessor(bank)
	c.settler.Bills, c.settler.Wallets = c.held, c.held
	c.twin = newProcessor(bank)
	c.twin.Store = c.settler.Store
	for _, pr := range []*domain.Processor{c.settler, c.twin} {
		pr.Gateway, pr.Now = rzp, c.clock.Now
		pr.Retry = domain.RetryPolicy{Base: func() time.Duration { return time.Second }, Max: func() time.Duration { return 8 * time.Second },
			MaxAttempts: func() int { return 4 }}
	}
	c.user = id.New(id.User)
	bank.balance[c.user] = 0
	bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: c.user, Amount: 2500, Currency: "INR"}
	var err error
	if topUp {
		c.p, err = c.twin.TopUp(context.Background(), auth.Caller{Identity: auth.Identity{Sub: c.user}, Signed: true}, c.user, money.Amount(2500), "")
	} else {
		c.p, err = c.twin.PayWithRazorpay(context.Background(), "bill_1", "pay_P", c.user)
	}
	if err != nil || c.p.Status != domain.Pending || c.p.Razorpay == nil {
		t.Fatalf("payment = %+v, %v; want PENDING with an order", c.p, err)
	}
	// The capture is real: Razorpay's API confirms it.
	rzp.payments[raceGW] = domain.GatewayPayment{ID: raceGW, OrderID: c.p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
	return c
}

// waitFinal waits for the background gateway work (Kick, and its retries)
// to end the payment.
func (c *captureRace) waitFinal(t *testing.T) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if c.get(t).Status != domain.Pending {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("payment still PENDING: %+v", c.get(t))
}

func (c *captureRace) result(eventID, gw, status string) domain.GatewayResult {
	return domain.GatewayResult{EventID: eventID, Event: "payment." + status, Status: status, OrderID: c.p.Razorpay.OrderID,
		GatewayPaymentID: gw, PaymentID: c.p.ID, Amount: 2500, Currency: "INR"}
}

func (c *captureRace) get(t *testing.T) domain.Payment {
	t.Helper()
	p, err := c.twin.Store.Get(context.Background(), c.p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reconcile runs, a second later, one reconciliation round of the twin
// that finds every order expired.
func (c *captureRace) reconcile(t *testing.T) {
	t.Helper()
	c.clock.add(time.Second)
	cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
		OrderLifetime: func() time.Duration { return 0 }}
	if err := c.twin.ReconcileOnce(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// checkSettled checks that the payment is SUCCESS by raceGW and what it
// paid for was paid once, by it: the bill PAID by it, or the wallet
// credited once with the top-up's amount.
func (c *captureRace) checkSettled(t *testing.T) {
	t.Helper()
	got := c.get(t)
	if got.Status != domain.Success || got.Razorpay.GatewayPaymentID != raceGW || got.Refund != nil {
		t.Fatalf("payment = %s (%s) by %q, refund %+v; want SUCCESS by %s, nothing owed back", got.Status, got.FailureReason, got.Razorpay.GatewayPaymentID, got.Refund, raceGW)
	}
	c.bank.mu.Lock()
	defer c.bank.mu.Unlock()
	if got.Purpose == domain.PurposeTopUp {
		if c.bank.balance[c.user] != 2500 || len(c.bank.credits) != 1 || c.bank.credits[got.TopUpID] != 2500 {
			t.Fatalf("wallet %d, credits %v; want 2500 credited once for %s", c.bank.balance[c.user], c.bank.credits, got.TopUpID)
		}
	} else if b := c.bank.bills["bill_1"]; !b.Paid || b.PaymentID != got.ID {
		t.Fatalf("bill = %+v, want PAID by %s", b, got.ID)
	}
}

// heldOrders is Razorpay as the twin sees it: a call to list an order's
// payments says it began (entered) and waits for release.
type heldOrders struct {
	*fakeRazorpay
	entered, release chan struct{}
}

func (h heldOrders) OrderPayments(ctx context.Context, orderID string) ([]domain.GatewayPayment, error) {
	close(h.entered)
	<-h.release
	return h.fakeRazorpay.OrderPayments(ctx, orderID)
}

// While one instance settles a capture of a pending payment's order (the
// bill being marked PAID, or the wallet credited), another instance hears
// news that would end the payment FAILED if no capture had come: a failed
// attempt of the order (a stale snapshot of the captured one, or an earlier
// attempt), or, in a reconciliation round that read the payment before the
// capture was recorded, the order's expiry with Razorpay listing nothing
// yet, Razorpay's refusal to tell about the order, or Razorpay listing the
// capture refunded (from its dashboard). None of them may end the payment:
// the capture decides it, and it ends SUCCESS, paid once. (Seen on the
// replica topology: a stale payment.failed made P FAILED on one instance
// while another marked the bill PAID by P.)
func TestNewsOfTheOrderCannotFailAPaymentWhoseCaptureIsSettling(t *testing.T) {
	failure := func(gw string) func(t *testing.T, c *captureRace, capture func()) {
		return func(t *testing.T, c *captureRace, capture func()) {
			capture()
			if out, why, err := c.twin.ApplyResult(context.Background(), c.result("evt_f", gw, contract.ResultFailed)); err != nil || out != domain.Applied {
				t.Fatalf("the failure = %v %s %v, want applied (and ignored)", out, why, err)
			}
		}
	}
	// roundAcross runs a reconciliation round of the twin that reads the
	// payment before the capture is recorded and hears Razorpay after.
	roundAcross := func(t *testing.T, c *captureRace, capture func()) {
		held := heldOrders{fakeRazorpay: c.twinRzp, entered: make(chan struct{}), release: make(chan struct{})}
		c.twin.Gateway = held
		ended := make(chan struct{})
		go func() { defer close(ended); c.reconcile(t) }()
		<-held.entered
		capture()
		close(held.release)
		<-ended
	}
	news := []struct {
		name string
		hear func(t *testing.T, c *captureRace, capture func())
	}{
		{"a stale payment.failed of the captured attempt", failure(raceGW)},
		{"payment.failed of an earlier attempt", failure("pay_F0000000000001")},
		{"the order expires and Razorpay lists nothing yet", func(t *testing.T, c *captureRace, capture func()) {
			c.twinRzp = newRazorpay()
			roundAcross(t, c, capture)
		}},
		{"Razorpay refuses to tell about the order", func(t *testing.T, c *captureRace, capture func()) {
			c.twinRzp = newRazorpay()
			c.twinRzp.refuse["order_payments"] = "The id provided does not exist"
			roundAcross(t, c, capture)
		}},
		{"Razorpay lists the capture refunded", func(t *testing.T, c *captureRace, capture func()) {
			c.twinRzp = newRazorpay()
			c.twinRzp.payments[raceGW] = domain.GatewayPayment{ID: raceGW, OrderID: c.p.Razorpay.OrderID, Status: "refunded", Amount: 2500, AmountRefunded: 2500, Currency: "INR"}
			roundAcross(t, c, capture)
		}},
	}
	for _, purpose := range []string{"bill", "top-up"} {
		for _, n := range news {
			t.Run(purpose+"/"+n.name, func(t *testing.T) {
				c := newCaptureRace(t, purpose == "top-up")
				capture := func() {
					// Recorded unconfirmed, then confirmed and settled by
					// the settler's gateway work, held in billing's call.
					if _, _, err := c.settler.ApplyResult(context.Background(), c.result("evt_c", raceGW, contract.ResultCaptured)); err != nil {
						t.Error(err)
					}
					<-c.held.entered
				}
				n.hear(t, c, capture)
				if got := c.get(t); got.Status != domain.Pending {
					t.Errorf("while the capture settles: %s (%s), want PENDING", got.Status, got.FailureReason)
				}
				close(c.held.release)
				c.waitFinal(t)
				c.checkSettled(t)
			})
		}
	}
}

// An instance that confirmed and recorded a capture and stopped before
// settling it (its billing or wallet call failed) leaves the payment
// PENDING with the capture recorded. The gateway work tried again, another
// result of the capture, on any instance, or reconciliation (whatever
// Razorpay lists, and however old the order) settles it: SUCCESS, paid
// once; the order never expires under it.
func TestACaptureLeftHalfSettledIsFinished(t *testing.T) {
	finish := []struct {
		name string
		by   func(t *testing.T, c *captureRace)
	}{
		{"the gateway work tried again", func(t *testing.T, c *captureRace) {
			c.twin.Kick(c.p.ID)
			c.waitFinal(t)
		}},
		{"order.paid for the same capture", func(t *testing.T, c *captureRace) {
			r := c.result("evt_o", raceGW, contract.ResultCaptured)
			r.Event = "order.paid"
			if _, why, err := c.twin.ApplyResult(context.Background(), r); err != nil {
				t.Fatalf("order.paid = %v (%s)", err, why)
			}
		}},
		{"reconciliation", func(t *testing.T, c *captureRace) {
			c.rzp.payments[raceGW] = domain.GatewayPayment{ID: raceGW, OrderID: c.p.Razorpay.OrderID, Status: "captured", Amount: 2500, Currency: "INR"}
			c.reconcile(t)
		}},
		{"reconciliation, its order expired and Razorpay listing nothing yet", func(t *testing.T, c *captureRace) { c.reconcile(t) }},
	}
	for _, purpose := range []string{"bill", "top-up"} {
		for _, f := range finish {
			t.Run(purpose+"/"+f.name, func(t *testing.T) {
				c := newCaptureRace(t, purpose == "top-up")
				close(c.held.release)
				c.bank.billingDown, c.bank.walletDown = true, true
				c.settler.Retry.Base = func() time.Duration { return time.Hour } // the settler does not try again by itself
				if _, _, err := c.settler.ApplyResult(context.Background(), c.result("evt_c", raceGW, contract.ResultCaptured)); err != nil {
					t.Fatal(err)
				}
				for i := 0; c.get(t).Razorpay.GatewayPaymentID != raceGW; i++ {
					if i == 1000 {
						t.Fatal("the capture was never confirmed and recorded")
					}
					time.Sleep(5 * time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond) // its settling, failing
				if got := c.get(t); got.Status != domain.Pending {
					t.Fatalf("after the interrupted capture: %s, want PENDING", got.Status)
				}
				c.bank.billingDown, c.bank.walletDown = false, false
				f.by(t, c)
				c.checkSettled(t)
			})
		}
	}
}

// A payment ended by a failed attempt of its order is logged with the
// attempt's gateway payment id, which operators search Razorpay's
// dashboard by.
func TestAFailedAttemptIsLoggedWithItsGatewayPaymentID(t *testing.T) {
	c := newCaptureRace(t, false)
	var logged bytes.Buffer
	c.twin.Log = slog.New(slog.NewJSONHandler(&logged, nil))
	if out, why, err := c.twin.ApplyResult(context.Background(), c.result("evt_f", "pay_FAILEDATTEMPT1", contract.ResultFailed)); err != nil || out != domain.Applied {
		t.Fatalf("the failure = %v %s %v, want applied", out, why, err)
	}
	if got := c.get(t); got.Status != domain.Failed || got.FailureReason != domain.ReasonGatewayFailed {
		t.Fatalf("payment = %s (%s), want FAILED %s", got.Status, got.FailureReason, domain.ReasonGatewayFailed)
	}
	for _, line := range strings.Split(logged.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "payment failed" {
			if rec["gateway_payment_id"] != "pay_FAILEDATTEMPT1" || rec["payment_id"] != c.p.ID {
				t.Fatalf("payment failed line = %v, want gateway_payment_id pay_FAILEDATTEMPT1 and payment_id %s", rec, c.p.ID)
			}
			return
		}
	}
	t.Fatalf("no \"payment failed\" line in:\n%s", logged.String())
}

// One capture is money received once: a result naming it on another order
// than the one Razorpay holds it on settles nothing (an outside tester's
// reproductions: a signed payment.captured for a top-up's capture naming a
// bill payment's order paid the bill, and the true event credited the
// wallet too, 60000 counted for 30000 captured; and a forged capture
// naming a customer's gateway payment on a top-up's order, arriving
// first, left the customer's payment PENDING for ever). Whichever result
// comes first, whichever purposes the two payments have, and whether the
// capture would be a first capture or a late one (the other payment
// already FAILED), Razorpay's API decides: the true order's payment is
// SUCCESS by it, the other is left as it was (a late payment made for it
// FAILED), one dead letter capture_mismatch names the capture, and the
// money is counted once.
func TestOneCaptureSettlesOneOrderOnly(t *testing.T) {
	for _, tc := range []struct {
		name        string
		firstTopUp  bool // the payment whose order Razorpay holds the capture on
		secondTopUp bool // the payment a forged result names it for
		secondEnded bool // the second payment FAILED already: the capture would be a late one
		forgedFirst bool // the forged result comes before the true one
	}{
		{"bill first, then a top-up", false, true, false, false},
		{"top-up first, then a bill", true, false, false, false},
		{"bill first, then a FAILED top-up's order (a late capture)", false, true, true, false},
		{"top-up first, then a FAILED bill payment's order (a late capture)", true, false, true, false},
		{"forged on a top-up's order before the bill payment's own", false, true, false, true},
		{"forged on a bill payment's order before the top-up's own", true, false, false, true},
		{"forged on a FAILED top-up's order before the bill payment's own", false, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			bank, rzp := newBank(), newRazorpay()
			pr := newProcessor(bank)
			pr.Gateway = rzp
			var parked []string
			var mu sync.Mutex
			pr.OnParked = func(kind string) { mu.Lock(); parked = append(parked, kind); mu.Unlock() }
			user := id.New(id.User)
			bank.balance[user] = 0
			bank.bills["bill_1"] = &domain.Bill{ID: "bill_1", UserID: user, Amount: 30000, Currency: "INR"}
			caller := auth.Caller{Identity: auth.Identity{Sub: user}, Signed: true}
			open := func(topUp bool, payID string) domain.Payment {
				var p domain.Payment
				var err error
				if topUp {
					p, err = pr.TopUp(ctx, caller, user, money.Amount(30000), "")
				} else {
					p, err = pr.PayWithRazorpay(ctx, "bill_1", payID, user)
				}
				if err != nil || p.Status != domain.Pending || p.Razorpay == nil {
					t.Fatalf("payment = %+v, %v; want PENDING with an order", p, err)
				}
				return p
			}
			first := open(tc.firstTopUp, "pay_P")
			second := open(tc.secondTopUp, "pay_Q")
			result := func(evt string, p domain.Payment, gw, status string) domain.GatewayResult {
				return domain.GatewayResult{EventID: evt, Event: "payment." + status, Status: status, OrderID: p.Razorpay.OrderID,
					GatewayPaymentID: gw, PaymentID: p.ID, Amount: 30000, Currency: "INR"}
			}
			get := func(pid string) domain.Payment {
				p, err := pr.Store.Get(ctx, pid)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			cfg := domain.ReconcileConfig{Interval: func() time.Duration { return time.Millisecond }, After: func() time.Duration { return 0 },
				OrderLifetime: func() time.Duration { return time.Hour }}
			drive := func(what string, done func() bool) {
				for i := 0; !done(); i++ {
					if i == 300 {
						t.Fatalf("never: %s", what)
					}
					if err := pr.ReconcileOnce(ctx, cfg); err != nil {
						t.Fatal(err)
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			if tc.secondEnded {
				if out, _, err := pr.ApplyResult(ctx, result("evt_f", second, "pay_F0000000000001", contract.ResultFailed)); err != nil || out != domain.Applied {
					t.Fatalf("failing the second payment = %v, %v", out, err)
				}
			}
			const gw = "pay_XzeBzG9el3I5T8"
			rzp.payments[gw] = domain.GatewayPayment{ID: gw, OrderID: first.Razorpay.OrderID, Status: "captured", Amount: 30000, Currency: "INR"}
			before := get(second.ID)
			lateOfSecond := id.Derive(map[bool]string{true: id.TopUp, false: id.Payment}[tc.secondTopUp], "late:"+gw)
			forged := func() {
				if out, why, err := pr.ApplyResult(ctx, result("evt_2", second, gw, contract.ResultCaptured)); err != nil || out != domain.Applied {
					t.Fatalf("the forged capture = %v %q %v, want applied (handed to the gateway work)", out, why, err)
				}
				drive("the forged capture decided", func() bool {
					if tc.secondEnded {
						late, err := pr.Store.Get(ctx, lateOfSecond)
						return err == nil && late.Status != domain.Pending
					}
					mu.Lock()
					n := len(parked)
					mu.Unlock()
					return len(get(second.ID).Unconfirmed) == 0 && n > 0 // taken off, then parked
				})
			}
			if tc.forgedFirst {
				forged()
			}
			if out, why, err := pr.ApplyResult(ctx, result("evt_1", first, gw, contract.ResultCaptured)); err != nil || out != domain.Applied {
				t.Fatalf("the capture on the first order = %v %s %v, want applied", out, why, err)
			}
			drive("the true capture settled", func() bool { return get(first.ID).Status != domain.Pending })
			if !tc.forgedFirst {
				forged()
			}
			if got := get(first.ID); got.Status != domain.Success || got.Razorpay.GatewayPaymentID != gw {
				t.Fatalf("first payment = %s (%s) by %q, want SUCCESS by %s", got.Status, got.FailureReason, got.Razorpay.GatewayPaymentID, gw)
			}
			if after := get(second.ID); after.Status != before.Status || after.Razorpay.GatewayPaymentID != "" {
				t.Fatalf("second payment = %s by %q, want %s as before, no capture", after.Status, after.Razorpay.GatewayPaymentID, before.Status)
			}
			if late, err := pr.Store.Get(ctx, lateOfSecond); err == nil && (late.Status != domain.Failed || late.FailureReason != domain.ReasonCaptureMismatch || late.Refund != nil) {
				t.Fatalf("late payment for the forged capture = %s (%s), refund %+v; want FAILED CAPTURE_MISMATCH, nothing refunded", late.Status, late.FailureReason, late.Refund)
			}
			mu.Lock()
			if len(parked) != 1 || parked[0] != domain.ParkCaptureMismatch {
				t.Errorf("parked %v, want one capture_mismatch", parked)
			}
			mu.Unlock()
			if n := rzp.count("refund"); n != 0 {
				t.Fatalf("%d refunds made", n)
			}
			bank.mu.Lock()
			defer bank.mu.Unlock()
			counted := int64(len(bank.credits)) * 30000
			if b := bank.bills["bill_1"]; b.Paid {
				counted += 30000
			}
			if counted != 30000 {
				t.Fatalf("credits %v, bill %+v: %d paise counted for one capture of 30000", bank.credits, bank.bills["bill_1"], counted)
			}
		})
	}
}
