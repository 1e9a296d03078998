package razorpay

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// Where the outside world answers back: every answer of Razorpay
// classified, every verified event acknowledged, a late capture settled
// only by its own gateway payment. Tests that set simulator faults run
// alone (no t.Parallel): faults apply to every call of their operation.

func lateID(gatewayPaymentID string) string { return id.Derive(id.Payment, "late:"+gatewayPaymentID) }

// randomGatewayID is a Razorpay payment id (pay_ and 14 base62
// characters): the first four of prefix (padded with X), then ten digits.
func randomGatewayID(prefix string) string {
	return fmt.Sprintf("pay_%s%010d", (prefix + "XXXX")[:4], rand.Int64N(1e10))
}

// The first example. P is SUCCESS by pay_R; a correctly signed
// payment.captured for the same order names a gateway payment Razorpay never
// made. It is acknowledged and becomes a late payment that stands for that
// gateway payment only: Razorpay does not confirm it, so it fails, naming
// Razorpay's answer, and is parked. Nothing is refunded: not pay_R, not by
// reconciliation rounds later. P stays SUCCESS and the bill PAID by P.
func TestLateCaptureOfAGatewayPaymentRazorpayNeverMade(t *testing.T) {
	t.Parallel()
	acc, bill := newBill(t, 0, 4321)
	p := env.MustPayRazorpay(t, bill.ID)
	real := env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	refundsBefore := env.SimCalls(t)[sim.OpRefund]

	fake := randomGatewayID("FAKE")
	body := harness.Webhook("payment.captured", fake, p.Razorpay.OrderID, 4321, "captured")
	if r := env.SendWebhook(t, body, fmt.Sprintf("evt_fake%d", rand.Int64N(1e12)), env.Sign(body)); r.Status != 200 || !strings.Contains(string(r.Body), "accepted") {
		t.Fatalf("the signed capture = %d %s, want 200 accepted (it is Razorpay's to send)", r.Status, r.Body)
	}
	late := env.WaitNewPayment(t, lateID(fake), 15*time.Second, "FAILED", isFailed)
	if late.FailureReason == nil || *late.FailureReason != "GATEWAY_REFUSED" || late.GatewayError == nil ||
		!strings.Contains(late.GatewayError.Description, "does not exist") || late.Refund != nil || late.LateCaptureOf == nil || *late.LateCaptureOf != p.ID {
		t.Fatalf("late payment = %+v, want FAILED GATEWAY_REFUSED naming Razorpay's answer, late capture of %s, no refund", late, p.ID)
	}
	env.WaitDeadLetter(t, 10*time.Second, "the unconfirmed capture", func(d harness.DeadLetter) bool {
		return d.Kind == "capture_unconfirmed" && d.PaymentID == late.ID && strings.Contains(d.Reason, fake)
	})
	// Reconciliation rounds (every 500 ms for payments pending 2 s) come
	// and go: none of them may apply pay_R to anything.
	time.Sleep(4 * time.Second)
	if g := env.SimGetPayment(t, real.Payment.ID); g.Status != "captured" || g.AmountRefunded != 0 {
		t.Fatalf("the gateway payment that paid the bill = %+v: it was refunded", g)
	}
	if n := env.SimCalls(t)[sim.OpRefund] - refundsBefore; n != 0 {
		// Other tests may refund meanwhile; none of them refunds this order.
		t.Logf("%d refunds at the simulator meanwhile (other tests)", n)
	}
	got := env.MustPayment(t, p.ID)
	if got.Status != "SUCCESS" || got.SettledBy != nil || got.Razorpay.GatewayPaymentID != real.Payment.ID {
		t.Fatalf("P = %+v, want SUCCESS by %s, untouched", got, real.Payment.ID)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != p.ID {
		t.Fatalf("bill = %+v, want PAID by %s", b, p.ID)
	}
	// The operator sees it: console (a page, not the API), metrics.
	req, _ := http.NewRequest(http.MethodGet, env.BaseURL+"/console", nil)
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "capture_unconfirmed:"+late.ID) {
		t.Errorf("the console does not show the parked capture (status %d)", resp.StatusCode)
	}
	if !metricAtLeast(t, "payment", `finflow_dead_letters_total{kind="capture_unconfirmed"}`, 1) {
		t.Errorf("the payment service's metrics do not count the parked capture")
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// metricAtLeast reports whether app's metric line (name with labels) is at
// least min.
func metricAtLeast(t *testing.T, app, series string, min float64) bool {
	t.Helper()
	resp, err := http.Get("http://" + env.Metrics[app] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(regexp.QuoteMeta(series) + ` ([0-9.e+]+)`).FindSubmatch(raw)
	if m == nil {
		return false
	}
	var v float64
	fmt.Sscan(string(m[1]), &v)
	return v >= min
}

// lateCaptureAfterWalletPaid makes a bill paid from the wallet after its
// Razorpay payment failed, then captures that failed gateway payment late:
// the late payment cannot pay the bill and owes a refund. It returns the
// failed payment and the late-captured gateway payment.
func lateCaptureAfterWalletPaid(t *testing.T, amount int64) (*harness.Account, harness.Payment, string) {
	t.Helper()
	acc, bill := newBill(t, amount, amount)
	p := env.MustPayRazorpay(t, bill.ID)
	sp := env.SimPay(t, p.Razorpay.OrderID, "failed", 0, true)
	env.WaitPayment(t, p.ID, 15*time.Second, "FAILED", isFailed)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != 201 {
		t.Fatalf("wallet payment = %d %s", r.Status, r.Body)
	}
	return &acc, p, sp.Payment.ID
}

// The second example: a late capture's refund that Razorpay refuses
// is a definite answer. The late payment ends FAILED with the refund
// REFUSED and Razorpay's words, it is parked, and the refund API is called
// once, never again. Twenty-five such results do not hold up an honest
// payment: its webhook settles it while their refunds are still at
// Razorpay.
func TestRefusedRefundsAreParkedAndHoldNothingUp(t *testing.T) {
	const n = 25
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 400, TimeoutMS: 1500})
	refundsBefore := env.SimCalls(t)[sim.OpRefund]
	type poison struct {
		acc  *harness.Account
		p    harness.Payment
		gw   string
		late string
	}
	poisons := make([]poison, n)
	for i := range poisons {
		acc, p, gw := lateCaptureAfterWalletPaid(t, int64(3000+i))
		poisons[i] = poison{acc, p, gw, lateID(gw)}
	}
	for _, x := range poisons {
		env.SimLateCapture(t, x.gw)
	}
	// An honest payment behind them.
	_, bill := newBill(t, 0, 9100)
	honest := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, honest.Razorpay.OrderID, "captured", 0, true)
	env.WaitPayment(t, honest.ID, 20*time.Second, "SUCCESS", isSuccess)
	stillAtRazorpay := 0
	for _, x := range poisons {
		if r := env.Do(t, "GET", "/Payment/"+x.late, nil, nil); r.Status == http.StatusNotFound || strings.Contains(string(r.Body), `"status":"PENDING"`) {
			stillAtRazorpay++
		}
	}
	if stillAtRazorpay == 0 {
		t.Logf("every refund was answered before the honest payment settled (a fast machine); the ordering shows nothing this run")
	}
	for _, x := range poisons {
		late := env.WaitNewPayment(t, x.late, 60*time.Second, "FAILED with its refund refused", isFailed)
		if late.Refund == nil || late.Refund.Status != "REFUSED" || late.GatewayError == nil || late.GatewayError.Status != 400 ||
			late.FailureReason == nil || *late.FailureReason != "BILL_ALREADY_PAID" {
			t.Fatalf("late payment = %+v, want FAILED (BILL_ALREADY_PAID) with its refund REFUSED by Razorpay's 400", late)
		}
		// The original learns of it right after the late payment is final
		// (a write of its own).
		harness.WaitFor(t, 10*time.Second, "payment "+x.p.ID+" settled_by "+x.late, func() bool {
			orig := env.MustPayment(t, x.p.ID)
			return orig.SettledBy != nil && *orig.SettledBy == x.late
		})
	}
	// Parked, each once; and the refund API was called once per late
	// capture, even after the suite's retry policy had all its chances.
	time.Sleep(3 * time.Second)
	parked := map[string]bool{}
	for _, d := range env.DeadLetters(t) {
		if d.Kind == "refund_refused" {
			parked[d.PaymentID] = true
		}
	}
	accounts := []*harness.Account{}
	for _, x := range poisons {
		if !parked[x.late] {
			t.Errorf("the refused refund of %s is not parked", x.late)
		}
		accounts = append(accounts, x.acc)
	}
	if got := env.SimCalls(t)[sim.OpRefund] - refundsBefore; got != n {
		t.Fatalf("the refund API was called %d times for %d refused refunds, want exactly %d", got, n, n)
	}
	env.AuditMoney(t, accounts)
}

// A refund Razorpay does not answer (5xx, 429, 409 "still being
// processed", a timeout) is retried with backoff, with the same idempotency
// key: when Razorpay answers, exactly one refund exists, even when an
// earlier try was made and its answer lost.
func TestUnansweredRefundRetriedUntilMadeOnce(t *testing.T) {
	acc, _, gw := lateCaptureAfterWalletPaid(t, 5100)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 503, Count: 1})
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 429, Count: 1})
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 500, After: true, Count: 1}) // made, answer lost
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 409, Count: 1})              // "still being processed"
	env.SimLateCapture(t, gw)
	late := env.WaitNewPayment(t, lateID(gw), 30*time.Second, "FAILED with its refund made and processed", func(p harness.Payment) bool {
		return p.Status == "FAILED" && p.Refund != nil && p.Refund.Status == "processed"
	})
	if late.Refund.RefundID == "" {
		t.Fatalf("late payment = %+v, want its refund made", late)
	}
	if g := env.SimGetPayment(t, gw); g.AmountRefunded != 5100 || g.Status != "refunded" {
		t.Fatalf("gateway payment = %+v, want refunded exactly once (5100)", g)
	}
	env.AuditMoney(t, []*harness.Account{acc})
}

// A refund Razorpay never answers is parked after the bound (5 tries in
// this suite) for an operator, and still tried at the longest backoff:
// once Razorpay answers, it is made, once.
func TestRefundNeverAnsweredIsParked(t *testing.T) {
	acc, _, gw := lateCaptureAfterWalletPaid(t, 5200)
	env.SimFault(t, sim.Fault{Op: sim.OpRefund, Status: 502, HTML: true, Match: gw})
	refundsBefore := env.SimCalls(t)[sim.OpRefund]
	env.SimLateCapture(t, gw)
	late := env.WaitNewPayment(t, lateID(gw), 60*time.Second, "its refund NOT_MADE", func(p harness.Payment) bool {
		return p.Refund != nil && p.Refund.Status == "NOT_MADE"
	})
	if late.Status != "PENDING" || !strings.Contains(late.Refund.Error, "5 tries") {
		t.Fatalf("late payment = %+v, want PENDING with the refund NOT_MADE after 5 tries", late)
	}
	env.WaitDeadLetter(t, 10*time.Second, "refund_not_made", func(d harness.DeadLetter) bool {
		return d.Kind == "refund_not_made" && d.PaymentID == late.ID
	})
	if got := env.SimCalls(t)[sim.OpRefund] - refundsBefore; got < 5 {
		t.Fatalf("the refund API was called %d times before parking, want the 5 of the bound", got)
	}
	// Parked is not given up: once Razorpay answers, the capture is given
	// back, once.
	env.SimClearFaults(t)
	env.WaitPayment(t, late.ID, 30*time.Second, "FAILED with its refund made", func(p harness.Payment) bool {
		return p.Status == "FAILED" && p.Refund != nil && p.Refund.Status == "processed"
	})
	if g := env.SimGetPayment(t, gw); g.AmountRefunded != 5200 {
		t.Fatalf("gateway payment = %+v, want refunded exactly once (5200)", g)
	}
	env.AuditMoney(t, []*harness.Account{acc})
}

// The merchant refunded the late capture from Razorpay's dashboard before
// FinFlow settled it: nothing is left to settle or refund.
func TestLateCaptureRefundedFromTheDashboard(t *testing.T) {
	t.Parallel()
	acc, p, gw := lateCaptureAfterWalletPaid(t, 5300)
	env.SimFault(t, sim.Fault{Op: sim.OpFetchPayment, Status: 503, Match: gw, Count: 1})
	env.SimLateCapture(t, gw)
	env.SimDashboardRefund(t, gw)
	late := env.WaitNewPayment(t, lateID(gw), 30*time.Second, "FAILED", isFailed)
	if late.FailureReason == nil || *late.FailureReason != "REFUNDED_AT_GATEWAY" || late.Refund != nil {
		t.Fatalf("late payment = %+v, want FAILED REFUNDED_AT_GATEWAY and no refund of its own", late)
	}
	if g := env.SimGetPayment(t, gw); g.AmountRefunded != 5300 {
		t.Fatalf("gateway payment = %+v, want refunded once, by the merchant", g)
	}
	if orig := env.MustPayment(t, p.ID); orig.SettledBy == nil || *orig.SettledBy != late.ID {
		t.Fatalf("original = %+v, want settled by %s", orig, late.ID)
	}
	env.AuditMoney(t, []*harness.Account{acc})
}

// Orders: Razorpay's refusals fail the payment at once with 422
// GATEWAY_REFUSED naming Razorpay's answer; its silences (5xx, 429, a
// timeout) leave it PENDING with 503, and asking again makes the order.
func TestOrderAnswersClassified(t *testing.T) {
	refusals := []struct {
		name   string
		amount int64
		words  string
	}{
		{"above the account's limit", 500_000_001, "exceeds maximum amount"},
	}
	// Below Razorpay's minimum (₹1.00) FinFlow knows the answer itself: 422
	// AMOUNT_BELOW_MINIMUM before anything is recorded or asked; at the
	// minimum the order is made.
	t.Run("below INR 1.00", func(t *testing.T) {
		acc, bill := newBill(t, 0, 99)
		r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill.ID}, nil)
		if d := r.ErrorDetails(); r.Status != 422 || r.ErrorCode() != "AMOUNT_BELOW_MINIMUM" || d["amount_min"] != float64(100) || d["bill_id"] != bill.ID || d["payment_id"] != nil {
			t.Fatalf("POST /Payment/rozarpay of 99 paise = %d %s, want 422 AMOUNT_BELOW_MINIMUM naming the bill and the minimum", r.Status, r.Body)
		}
		if l := env.Do(t, "GET", "/Payment/user/"+acc.UserID, nil, nil); l.Status != 200 || !strings.Contains(string(l.Body), `"items":[]`) {
			t.Fatalf("payments listed = %d %s, want none recorded", l.Status, l.Body)
		}
		if b := env.MustBill(t, bill.ID); b.Status != "UNPAID" {
			t.Fatalf("bill = %s", b.Status)
		}
		_, at := newBill(t, 0, 100)
		if r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": at.ID}, nil); r.Status != 201 || !strings.Contains(string(r.Body), `"status":"PENDING"`) {
			t.Fatalf("POST /Payment/rozarpay of 100 paise = %d %s, want 201 PENDING", r.Status, r.Body)
		}
	})
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, bill := newBill(t, 0, tc.amount)
			r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill.ID}, nil)
			if r.Status != 422 || r.ErrorCode() != "GATEWAY_REFUSED" || !strings.Contains(string(r.Body), tc.words) {
				t.Fatalf("POST /Payment/rozarpay = %d %s, want 422 GATEWAY_REFUSED with %q", r.Status, r.Body, tc.words)
			}
			var e struct {
				Error struct {
					Details struct {
						PaymentID string `json:"payment_id"`
					} `json:"details"`
				} `json:"error"`
			}
			r.JSON(t, &e)
			p := env.MustPayment(t, e.Error.Details.PaymentID)
			if p.Status != "FAILED" || p.FailureReason == nil || *p.FailureReason != "GATEWAY_REFUSED" || p.GatewayError == nil || p.GatewayError.Field != "amount" {
				t.Fatalf("payment = %+v, want FAILED GATEWAY_REFUSED with Razorpay's answer", p)
			}
			if b := env.MustBill(t, bill.ID); b.Status != "UNPAID" {
				t.Fatalf("bill = %s", b.Status)
			}
		})
	}
	silences := []struct {
		name  string
		fault sim.Fault
	}{
		{"503", sim.Fault{Op: sim.OpCreateOrder, Status: 503}},
		{"429", sim.Fault{Op: sim.OpCreateOrder, Status: 429}},
		{"an HTML 502", sim.Fault{Op: sim.OpCreateOrder, Status: 502, HTML: true}},
		{"no answer within the step timeout", sim.Fault{Op: sim.OpCreateOrder, TimeoutMS: 7000}},
	}
	for i, tc := range silences {
		t.Run(tc.name, func(t *testing.T) {
			amount := int64(7770 + i)
			tc.fault.Match = fmt.Sprintf(`"amount":%d`, amount)
			// The payment left without an order must not reach the suite's
			// 12 s order lifetime before it is asked about again: a case of
			// five seconds holds that, unless the machine's wall clock steps.
			harness.UnlessClockStepped(t, func() string {
				env.SimFault(t, tc.fault)
				_, bill := newBill(t, 0, amount)
				key := fmt.Sprintf("order-silence-%d", rand.Int64())
				r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill.ID}, map[string]string{"Idempotency-Key": key})
				env.SimClearFaults(t) // before any return: a second run sets the fault afresh
				if r.Status != 503 || r.ErrorCode() != "UNAVAILABLE" {
					return fmt.Sprintf("POST /Payment/rozarpay while Razorpay is silent = %d %s, want 503", r.Status, r.Body)
				}
				again := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill.ID}, map[string]string{"Idempotency-Key": key})
				var p harness.Payment
				again.JSON(t, &p)
				if again.Status != 201 || p.Status != "PENDING" || p.Razorpay == nil || p.Razorpay.OrderID == "" {
					return fmt.Sprintf("asked again = %d %s, want 201 PENDING with its order", again.Status, again.Body)
				}
				return ""
			})
		})
	}
}

// Reconciliation classifies Razorpay's answers: an order Razorpay refuses
// to describe fails its payment, parked; an order it does not answer about
// stays PENDING and is settled once Razorpay answers.
func TestReconciliationAnswersClassified(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		_, bill := newBill(t, 0, 6100)
		p := env.MustPayRazorpay(t, bill.ID)
		env.SimFault(t, sim.Fault{Op: sim.OpOrderPayments, Status: 400, Match: p.Razorpay.OrderID})
		got := env.WaitPayment(t, p.ID, 20*time.Second, "FAILED", isFailed)
		if got.FailureReason == nil || *got.FailureReason != "GATEWAY_REFUSED" || got.GatewayError == nil || got.GatewayError.Status != 400 {
			t.Fatalf("payment = %+v, want FAILED GATEWAY_REFUSED", got)
		}
		env.WaitDeadLetter(t, 10*time.Second, "order_refused", func(d harness.DeadLetter) bool { return d.Kind == "order_refused" && d.PaymentID == p.ID })
	})
	t.Run("not answered, then answered", func(t *testing.T) {
		acc, bill := newBill(t, 0, 6200)
		p := env.MustPayRazorpay(t, bill.ID)
		env.SimFault(t, sim.Fault{Op: sim.OpOrderPayments, Status: 504, Match: p.Razorpay.OrderID})
		env.SimPay(t, p.Razorpay.OrderID, "captured", 0, false) // webhooks lost
		time.Sleep(4 * time.Second)
		if got := env.MustPayment(t, p.ID); got.Status != "PENDING" {
			t.Fatalf("payment = %s while Razorpay is silent, want PENDING", got.Status)
		}
		env.SimClearFaults(t)
		env.WaitPayment(t, p.ID, 30*time.Second, "SUCCESS by reconciliation", isSuccess)
		env.AuditMoney(t, []*harness.Account{&acc})
	})
}

// The third example and its class: once the signature holds, every
// problem with the event's content is answered 2xx and recorded (counted
// apart from forged requests, parked where an operator should look); only
// a forged or unsigned request is refused.
func TestVerifiedEventsAreAlwaysAcknowledged(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 6300)
	p := env.MustPayRazorpay(t, bill.ID)
	entity := func(event, fields string) []byte {
		return []byte(`{"entity":"event","account_id":"acc_FinFlowTest001","event":"` + event + `","contains":["payment"],"payload":{"payment":{"entity":{` + fields + `}}},"created_at":1}`)
	}
	qr := entity("payment.captured", `"id":"`+randomGatewayID("QR")+`","entity":"payment","amount":6300,"currency":"INR","status":"captured","order_id":null,"method":"upi"`)
	cases := []struct {
		name        string
		body        []byte
		eventID     string
		wantOutcome string
		wantParked  string // dead letter kind, "" for none
	}{
		{"a QR code payment: no order", qr, "", "ignored", ""},
		{"an event FinFlow does not use", entity("payment.authorized", `"id":"pay_X","order_id":"`+p.Razorpay.OrderID+`","amount":6300`), "", "ignored", ""},
		{"a refund event", []byte(`{"entity":"event","event":"refund.created","contains":["refund"],"payload":{"refund":{"entity":{"id":"rfnd_X"}}}}`), "", "ignored", ""},
		{"not an event", []byte(`{"entity":"thing"}`), "", "malformed", "parked_event"},
		{"not JSON", []byte(`<xml/>`), "", "malformed", "parked_event"},
		{"no payment entity", []byte(`{"entity":"event","event":"payment.captured","payload":{}}`), "", "malformed", "parked_event"},
		{"a fractional amount", entity("payment.captured", `"id":"pay_Y","order_id":"`+p.Razorpay.OrderID+`","amount":63.5,"currency":"INR"`), "", "malformed", "parked_event"},
		{"an order FinFlow never made", harness.Webhook("payment.captured", randomGatewayID("OTHER"), fmt.Sprintf("order_NotFinFlow%04d", rand.Int64N(1e4)), 6300, "captured"), "", "unknown_order", "parked_event"},
		{"no event id: identified by its body", harness.Webhook("payment.failed", randomGatewayID("NOID"), p.Razorpay.OrderID, 6300, "failed"), "-", "accepted", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eventID := fmt.Sprintf("evt_ack%d", rand.Int64N(1e12))
			if tc.eventID == "-" {
				eventID = ""
			}
			r := env.SendWebhook(t, tc.body, eventID, env.Sign(tc.body))
			if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"`+tc.wantOutcome+`"`) {
				t.Fatalf("signed delivery = %d %s, want 200 %s", r.Status, r.Body, tc.wantOutcome)
			}
			again := env.SendWebhook(t, tc.body, eventID, env.Sign(tc.body))
			if again.Status != 200 || !strings.Contains(string(again.Body), "duplicate") {
				t.Fatalf("the same delivery again = %d %s, want 200 duplicate", again.Status, again.Body)
			}
			if tc.wantParked != "" {
				var answer struct {
					EventID string `json:"event_id"`
				}
				r.JSON(t, &answer)
				env.WaitDeadLetter(t, 10*time.Second, tc.wantParked, func(d harness.DeadLetter) bool { return d.EventID == answer.EventID && d.Kind == tc.wantParked })
			}
		})
	}
	if got := env.MustPayment(t, p.ID); got.Status == "SUCCESS" {
		t.Fatalf("an event FinFlow could not act on paid the bill: %+v", got)
	}
	for _, outcome := range []string{"ignored", "malformed", "unknown_order", "duplicate"} {
		if !metricAtLeast(t, "razorpay", `finflow_razorpay_webhooks_total{outcome="`+outcome+`"}`, 1) {
			t.Errorf("the razorpay service's metrics do not count %s deliveries", outcome)
		}
	}
}
