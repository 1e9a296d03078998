package razorpay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// Razorpay's answers as a rewriting proxy between FinFlow and Razorpay
// would change them (the simulator's redirect and rewrite faults): a
// redirect is never followed, and an answer about another order, payment
// or refund, or of another amount or currency, is no definite answer:
// asked again, never applied. None runs in parallel: they change the
// simulator's faults and count its calls.

// faultUsed is how many calls the simulator's faults matching match have
// answered.
func faultUsed(t *testing.T, match string) int {
	t.Helper()
	resp, err := http.Get(env.SimURL() + "/sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Items []sim.Fault }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range out.Items {
		if f.Match == match {
			n += f.Used
		}
	}
	return n
}

// whileFaulted waits until the faults matching match have answered n
// calls, failing if settled(p) holds for payment paymentID before then.
func whileFaulted(t *testing.T, match string, n int, paymentID, what string, settled func(harness.Payment) bool) {
	t.Helper()
	harness.WaitFor(t, 30*time.Second, fmt.Sprintf("%d faulted answers to %s", n, match), func() bool {
		p := env.MustPayment(t, paymentID) // read before the count: settled first means settled while faulted
		used := faultUsed(t, match)
		if settled(p) && used < n {
			t.Fatalf("payment %s %s on a rewritten answer (after %d of %d): %+v", paymentID, what, used, n, p)
		}
		return used >= n
	})
}

// uniqueAmount is a bill amount (paise) no other test uses, for faults
// that match an order's body.
func uniqueAmount() int64 { return 700000 + rand.Int64N(99999) }

// A redirect from "Razorpay" is no definite answer, on every call: the
// page it leads to (the simulator's 404 with Razorpay's error body, which
// would read as a refusal) is never asked for. The tester's: a refund
// FAILED though Razorpay was never asked, reconciliation of a captured
// order FAILED, a late capture FAILED.
func TestRedirectsAreNeverFollowed(t *testing.T) {
	const elsewhere = "/v1/redirected/here"
	redirect := func(op, match string, count int) {
		env.SimFault(t, sim.Fault{Op: op, Status: 302, Location: elsewhere, Match: match, Count: count})
	}
	t.Run("create order", func(t *testing.T) {
		amount := uniqueAmount()
		_, bill := newBill(t, 0, amount)
		match := fmt.Sprintf(`"amount":%d`, amount)
		redirect(sim.OpCreateOrder, match, 1)
		if r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill.ID}, nil); r.Status != 503 {
			t.Fatalf("POST /Payment/rozarpay redirected = %d %s, want 503", r.Status, r.Body)
		}
		p := env.MustPayRazorpay(t, bill.ID)
		env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
		env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	})
	t.Run("list the order's payments (reconciliation of a captured order)", func(t *testing.T) {
		_, bill := newBill(t, 0, 8100)
		p := env.MustPayRazorpay(t, bill.ID)
		redirect(sim.OpOrderPayments, p.Razorpay.OrderID, 2)
		env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false)
		whileFaulted(t, p.Razorpay.OrderID, 2, p.ID, "FAILED", isFailed)
		env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS by reconciliation", isSuccess)
		if b := env.MustBill(t, bill.ID); b.Status != "PAID" {
			t.Fatalf("bill = %s, want PAID", b.Status)
		}
	})
	t.Run("fetch the payment (a late capture)", func(t *testing.T) {
		_, bill := newBill(t, 0, 8200)
		p := env.MustPayRazorpay(t, bill.ID)
		sp := env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
		env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
		redirect(sim.OpFetchPayment, sp.Payment.ID, 2)
		env.SimLateCapture(t, sp.Payment.ID)
		failed := env.WaitPayment(t, p.ID, 15*time.Second, "settled by a late capture", func(q harness.Payment) bool { return q.SettledBy != nil })
		env.WaitPayment(t, *failed.SettledBy, 20*time.Second, "SUCCESS", isSuccess)
		if faultUsed(t, sp.Payment.ID) != 2 {
			t.Fatalf("the late capture was confirmed without asking through the redirects")
		}
		if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != *failed.SettledBy {
			t.Fatalf("bill = %+v, want PAID by the late capture", b)
		}
	})
	t.Run("refund the payment", func(t *testing.T) {
		p := paidByRazorpay(t, 8300)
		redirect(sim.OpRefund, p.Razorpay.GatewayPaymentID, 2)
		r := refund(t, p.ID, map[string]any{"amount": 8300, "reason": "goodwill"}, nil)
		var rf harness.Refund
		r.JSON(t, &rf)
		if r.Status != 201 || rf.Status != "PENDING" {
			t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
		}
		harness.WaitFor(t, 30*time.Second, "the refund SUCCESS", func() bool {
			got := refundOfPayment(t, p.ID, rf.ID)
			if got.Status == "FAILED" {
				t.Fatalf("refund = %+v: a redirect refused it", got)
			}
			return got.Status == "SUCCESS"
		})
		if got := env.MustPayment(t, p.ID); got.AmountRefunded != 8300 {
			t.Fatalf("amount_refunded = %d, want 8300", got.AmountRefunded)
		}
	})
	t.Run("fetch the refund", func(t *testing.T) {
		holdRefunds(t)
		p := paidByRazorpay(t, 8400)
		// Every refund status asked for 2.5 s is redirected (the refund's id
		// is not known before it is made): fewer than the 5 tries that park it.
		env.SimFault(t, sim.Fault{Op: sim.OpFetchRefund, Status: 302, Location: elsewhere, ForMS: 2500})
		r := refund(t, p.ID, map[string]any{"amount": 8400, "reason": "goodwill"}, nil)
		var rf harness.Refund
		r.JSON(t, &rf)
		if r.Status != 201 {
			t.Fatalf("refund = %d %s, want 201", r.Status, r.Body)
		}
		simSettle(t, pendingSimRefund(t, p.Razorpay.GatewayPaymentID), "processed", false)
		harness.WaitFor(t, 30*time.Second, "reconciliation to find the refund processed", func() bool {
			return refundOfPayment(t, p.ID, rf.ID).Status == "SUCCESS"
		})
		for _, d := range env.DeadLetters(t) {
			if d.PaymentID == p.ID {
				t.Fatalf("parked %+v: a redirect read as a refusal", d)
			}
		}
	})
}

// Reconciliation applies only the order's own payments: a listing of
// order OA's payments that names order OB's captured payment (the
// tester's: one capture paid two bills), or a payment of another amount or
// currency, is no definite answer and is never applied; the real listing
// then settles OA as it is.
func TestAnOrdersPaymentsAreThatOrders(t *testing.T) {
	t.Run("another order's captured payment", func(t *testing.T) {
		_, billB := newBill(t, 0, 8500)
		pb := env.MustPayRazorpay(t, billB.ID)
		sb := env.SimPay(t, pb.Razorpay.OrderID, "captured", 0, true)
		env.WaitPayment(t, pb.ID, 15*time.Second, "OB SUCCESS", isSuccess)
		_, billA := newBill(t, 0, 8500)
		pa := env.MustPayRazorpay(t, billA.ID)
		env.SimFault(t, sim.Fault{Op: sim.OpOrderPayments, Match: pa.Razorpay.OrderID, Count: 3,
			Rewrite: map[string]any{"id": sb.Payment.ID, "order_id": pb.Razorpay.OrderID, "status": "captured", "captured": true}})
		env.SimPay(t, pa.Razorpay.OrderID, "authorized", 0, false) // an attempt to list, rewritten
		whileFaulted(t, pa.Razorpay.OrderID, 3, pa.ID, "SUCCESS", isSuccess)
		time.Sleep(time.Second)
		if got := env.MustPayment(t, pa.ID); got.Status == "SUCCESS" {
			t.Fatalf("OA = %+v, paid by OB's capture", got)
		}
		if b := env.MustBill(t, billA.ID); b.Status == "PAID" {
			t.Fatalf("OA's bill = %+v, paid by OB's capture", b)
		}
		if b := env.MustBill(t, billB.ID); b.Status != "PAID" || *b.PaymentID != pb.ID {
			t.Fatalf("OB's bill = %+v, want PAID by OB", b)
		}
	})
	for _, tc := range []struct {
		name    string
		rewrite map[string]any
	}{
		{"another amount", map[string]any{"amount": 100}},
		{"another currency", map[string]any{"currency": "USD"}},
		{"another order id", map[string]any{"order_id": "order_OBOBOBOBOBOBOB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, bill := newBill(t, 0, 8600)
			p := env.MustPayRazorpay(t, bill.ID)
			env.SimFault(t, sim.Fault{Op: sim.OpOrderPayments, Match: p.Razorpay.OrderID, Count: 3, Rewrite: tc.rewrite})
			env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false)
			settled := func(q harness.Payment) bool { return q.Status != "PENDING" }
			whileFaulted(t, p.Razorpay.OrderID, 3, p.ID, "settled", settled)
			got := env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS by reconciliation", isSuccess)
			if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != p.ID || got.AmountRefunded != 0 {
				t.Fatalf("bill %+v, payment %+v", b, got)
			}
		})
	}
}

// One wrong answer strands no money (the outside tester's report): Razorpay
// once answers GET /v1/payments/{id} about a bill's or a top-up's capture
// with another amount. Its list of the order's payments, asked before the
// capture is disowned, has it right: settled at once, nothing parked. When
// the list was wrong once too, the capture is disowned and parked
// (capture_mismatch); reconciliation's next list has it right and settles
// with it, resolving the dead letter. Either way: the bill PAID by the
// payment, the top-up credited once, nothing refunded. Before, the capture
// stayed disowned and the order expired: money captured, neither settled
// nor refunded, and the bill could be paid again from the wallet.
func TestAWrongAnswerOnceStrandsNoCapture(t *testing.T) {
	t.Parallel()
	for _, purpose := range []string{"a bill", "a top-up"} {
		for _, listWrong := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, the order's list wrong once too: %v", purpose, listWrong), func(t *testing.T) {
				t.Parallel()
				const amount = 6600
				acc, bill := newBill(t, 0, amount)
				var id, order string
				if purpose == "a bill" {
					p := env.MustPayRazorpay(t, bill.ID)
					id, order = p.ID, p.Razorpay.OrderID
				} else {
					tu := startTopUp(t, acc.UserID, amount, "")
					id, order = tu.ID, tu.Razorpay.OrderID
				}
				g := env.SimPay(t, order, "authorized", 0, false).Payment.ID
				env.SimFault(t, sim.Fault{Op: sim.OpFetchPayment, Match: g, Count: 1, Rewrite: map[string]any{"amount": 1}})
				if listWrong {
					env.SimFault(t, sim.Fault{Op: sim.OpOrderPayments, Match: order, Count: 1, Rewrite: map[string]any{"amount": 1}})
				}
				env.SimCapture(t, g, amount) // the webhooks: confirmed on the wrong answer
				parked := func(d harness.DeadLetter) bool {
					return d.Kind == "capture_mismatch" && d.PaymentID == id && strings.Contains(d.Reason, g)
				}
				if listWrong {
					env.WaitDeadLetter(t, 15*time.Second, "the capture disowned on two wrong answers", parked)
				}
				var status, by string
				harness.WaitFor(t, 30*time.Second, id+" settled", func() bool {
					if purpose == "a bill" {
						p := env.MustPayment(t, id)
						status, by = p.Status, p.Razorpay.GatewayPaymentID
					} else {
						tu := env.MustGetTopUp(t, id)
						status, by = tu.Status, tu.Razorpay.GatewayPaymentID
					}
					return status != "PENDING"
				})
				if status != "SUCCESS" || by != g {
					t.Fatalf("%s = %s by %q, want SUCCESS by %s: a wrong answer once stranded the capture", id, status, by, g)
				}
				if purpose == "a bill" {
					if b := env.MustBill(t, bill.ID); b.Status != "PAID" || b.PaymentID == nil || *b.PaymentID != id {
						t.Fatalf("bill = %+v, want PAID by %s", b, id)
					}
					if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusConflict || r.ErrorCode() != "BILL_ALREADY_PAID" {
						t.Fatalf("paying the bill again from the wallet = %d %s, want 409 BILL_ALREADY_PAID", r.Status, r.Body)
					}
				} else if b := env.MustBalance(t, acc.UserID); b != amount {
					t.Fatalf("balance = %d, want %d credited once", b, amount)
				}
				if g := env.SimGetPayment(t, g); g.AmountRefunded != 0 {
					t.Fatalf("gateway payment = %+v, want nothing refunded", g)
				}
				harness.WaitFor(t, 15*time.Second, "no open capture_mismatch about it", func() bool {
					for _, d := range env.DeadLetters(t) {
						if parked(d) && d.Resolved == "" {
							return false
						}
					}
					return true
				})
				env.AuditMoney(t, []*harness.Account{&acc})
			})
		}
	}
}

// A late capture is confirmed only by the payment asked about: an answer
// naming another payment is no definite answer, asked again.
func TestAFetchedPaymentIsThePaymentAsked(t *testing.T) {
	_, bill := newBill(t, 0, 8700)
	p := env.MustPayRazorpay(t, bill.ID)
	sp := env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
	env.SimFault(t, sim.Fault{Op: sim.OpFetchPayment, Match: sp.Payment.ID, Count: 2, Rewrite: map[string]any{"id": "pay_AAAAAAAAAAAAAA"}})
	env.SimLateCapture(t, sp.Payment.ID)
	failed := env.WaitPayment(t, p.ID, 15*time.Second, "settled by a late capture", func(q harness.Payment) bool { return q.SettledBy != nil })
	late := env.WaitPayment(t, *failed.SettledBy, 20*time.Second, "SUCCESS", func(q harness.Payment) bool {
		if q.Status == "FAILED" {
			t.Fatalf("late capture = %+v: failed on another payment's answer", q)
		}
		return isSuccess(q)
	})
	if faultUsed(t, sp.Payment.ID) != 2 {
		t.Fatalf("the late capture was confirmed on a rewritten answer")
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != late.ID {
		t.Fatalf("bill = %+v, want PAID by the late capture", b)
	}
}

// Razorpay's answers about a refund are held to the refund. Making it: an
// answer of 100 of pay_AAAAAAAAAAAAAA (the tester's) is no answer, and the
// refund is asked again with its key (Razorpay answers the refund it
// made). Asking its status: an answer "processed, rfnd_BBBBBBBBBBBBBB,
// 100" (the tester's) is no answer, so the refund Razorpay failed is not
// made SUCCESS.
func TestRefundAnswersAreTheRefunds(t *testing.T) {
	t.Run("made", func(t *testing.T) {
		holdRefunds(t)
		p := paidByRazorpay(t, 8800)
		env.SimFault(t, sim.Fault{Op: sim.OpRefund, Match: p.Razorpay.GatewayPaymentID, Count: 1,
			Rewrite: map[string]any{"amount": 100, "payment_id": "pay_AAAAAAAAAAAAAA"}})
		before := env.SimCalls(t)[sim.OpRefund]
		r := refund(t, p.ID, map[string]any{"amount": 8800, "reason": "goodwill"}, nil)
		var rf harness.Refund
		r.JSON(t, &rf)
		if r.Status != 201 || rf.Status != "PENDING" {
			t.Fatalf("refund = %d %s, want 201 PENDING", r.Status, r.Body)
		}
		gwRefund := pendingSimRefund(t, p.Razorpay.GatewayPaymentID)
		harness.WaitFor(t, 15*time.Second, "the refund asked again after the rewritten answer", func() bool {
			return env.SimCalls(t)[sim.OpRefund]-before >= 2
		})
		simSettle(t, gwRefund, "processed", true)
		harness.WaitFor(t, 20*time.Second, "the refund SUCCESS", func() bool { return refundOfPayment(t, p.ID, rf.ID).Status == "SUCCESS" })
		if got := env.MustPayment(t, p.ID); got.AmountRefunded != 8800 {
			t.Fatalf("amount_refunded = %d, want 8800", got.AmountRefunded)
		}
	})
	t.Run("asked about", func(t *testing.T) {
		holdRefunds(t)
		p := paidByRazorpay(t, 8900)
		// Every refund status asked for 2.5 s is rewritten (fewer than the 5
		// tries that park it).
		env.SimFault(t, sim.Fault{Op: sim.OpFetchRefund, ForMS: 2500,
			Rewrite: map[string]any{"status": "processed", "id": "rfnd_BBBBBBBBBBBBBB", "amount": 100}})
		r := refund(t, p.ID, map[string]any{"amount": 8900, "reason": "goodwill"}, nil)
		var rf harness.Refund
		r.JSON(t, &rf)
		if r.Status != 201 {
			t.Fatalf("refund = %d %s, want 201", r.Status, r.Body)
		}
		simSettle(t, pendingSimRefund(t, p.Razorpay.GatewayPaymentID), "failed", false)
		harness.WaitFor(t, 30*time.Second, "reconciliation to find the refund failed", func() bool {
			got := refundOfPayment(t, p.ID, rf.ID)
			if got.Status == "SUCCESS" {
				t.Fatalf("refund = %+v: made SUCCESS by a rewritten answer", got)
			}
			return got.Status == "FAILED"
		})
		if got := env.MustPayment(t, p.ID); got.AmountRefunded != 0 {
			t.Fatalf("amount_refunded = %d, want 0", got.AmountRefunded)
		}
	})
}

// The order made is the order asked: an answer giving payment PY payment
// PX's order (the tester's: PX's customer's capture paid PY's bill) is no
// definite answer, PX's order still names PX; so is an order of another
// amount, currency, receipt or note. Asking again makes PY's own order.
func TestTheOrderMadeIsTheOrderAsked(t *testing.T) {
	t.Run("another payment's order", func(t *testing.T) {
		_, billX := newBill(t, 0, 9100)
		px := env.MustPayRazorpay(t, billX.ID)
		amountY := uniqueAmount()
		_, billY := newBill(t, 0, amountY)
		env.SimFault(t, sim.Fault{Op: sim.OpCreateOrder, Match: fmt.Sprintf(`"amount":%d`, amountY), Count: 1,
			Rewrite: map[string]any{"id": px.Razorpay.OrderID}})
		if r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": billY.ID}, nil); r.Status != 503 {
			t.Fatalf("POST /Payment/rozarpay answered PX's order = %d %s, want 503", r.Status, r.Body)
		}
		env.SimPay(t, px.Razorpay.OrderID, "captured", 0, true)
		env.WaitPayment(t, px.ID, 15*time.Second, "PX SUCCESS", isSuccess)
		if b := env.MustBill(t, billX.ID); b.Status != "PAID" || *b.PaymentID != px.ID {
			t.Fatalf("PX's bill = %+v, want PAID by PX", b)
		}
		if b := env.MustBill(t, billY.ID); b.Status != "UNPAID" {
			t.Fatalf("PY's bill = %+v, paid by PX's capture", b)
		}
		py := env.MustPayRazorpay(t, billY.ID)
		if py.Razorpay.OrderID == px.Razorpay.OrderID {
			t.Fatalf("PY = %+v, given PX's order", py)
		}
		env.WaitDeadLetter(t, 15*time.Second, "PY's answer naming PX's order parked", func(d harness.DeadLetter) bool {
			return d.Kind == "parked_event" && d.PaymentID == py.ID && strings.Contains(d.Reason, px.Razorpay.OrderID)
		})
		env.SimPay(t, py.Razorpay.OrderID, "captured", 0, true)
		env.WaitPayment(t, py.ID, 15*time.Second, "PY SUCCESS", isSuccess)
	})
	for _, tc := range []struct {
		name    string
		rewrite map[string]any
	}{
		{"another amount", map[string]any{"amount": 100}},
		{"another currency", map[string]any{"currency": "USD"}},
		{"another receipt", map[string]any{"receipt": "pay_0123456789abcdefghjkmnpqrs"}},
		{"another payment in notes", map[string]any{"notes": map[string]any{"payment_id": "pay_0123456789abcdefghjkmnpqrs"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			amount := uniqueAmount()
			_, bill := newBill(t, 0, amount)
			env.SimFault(t, sim.Fault{Op: sim.OpCreateOrder, Match: fmt.Sprintf(`"amount":%d`, amount), Count: 1, Rewrite: tc.rewrite})
			if r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill.ID}, nil); r.Status != 503 {
				t.Fatalf("POST /Payment/rozarpay answered %v = %d %s, want 503", tc.rewrite, r.Status, r.Body)
			}
			p := env.MustPayRazorpay(t, bill.ID)
			env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
			if got := env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess); got.Amount == nil || *got.Amount != amount {
				t.Fatalf("payment = %+v, want %d", got, amount)
			}
		})
	}
}
