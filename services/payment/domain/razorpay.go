package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
)

// ErrGatewayUnavailable is returned when the Razorpay order cannot be made
// now (the razorpay service or Razorpay gave no answer).
var ErrGatewayUnavailable = apperr.New(apperr.KindUnavailable, "UNAVAILABLE", "Razorpay is not answering; try again shortly")

// refusal returns Razorpay's definite refusal carried by err, if err is one:
// an answer of the razorpay service with one of the codes it documents as
// a decision about the request (contract.CodeGatewayRefused, with
// Razorpay's words, and for an order also orderDecisions). Any other
// answer is no definite answer, to be asked again: an outage, or FinFlow's
// own fault (a 401 or 403 of a token misconfigured, a 404 ROUTE_NOT_FOUND,
// a 400 VALIDATION_FAILED of FinFlow's own request, a 415, a 429). Those
// answers, which no outage explains, are logged at error level, so that an
// operator sees the misconfiguration while the work keeps being retried.
func (pr *Processor) refusal(op string, err error, decisions ...string) (*GatewayError, bool) {
	code, answered := peerAnswer(err)
	if !answered {
		return nil, false
	}
	if code != contract.CodeGatewayRefused && !slices.Contains(decisions, code) {
		pr.noDecision("razorpay", op, err)
		return nil, false
	}
	var e *apperr.Error
	errors.As(err, &e)
	g := &GatewayError{Op: op, Status: e.Kind.Status(), Code: e.Code, Description: e.Message}
	if e.Code == contract.CodeGatewayRefused {
		if n, ok := number(e.Details[contract.GatewayStatus]); ok {
			g.Status = int(n)
		}
		g.Code, _ = e.Details[contract.GatewayCode].(string)
		if d, _ := e.Details[contract.GatewayDescription].(string); d != "" {
			g.Description = d
		}
		g.Field, _ = e.Details[contract.GatewayField].(string)
	}
	return g, true
}

// orderDecisions are the codes, besides contract.CodeGatewayRefused, that
// the razorpay service answers to an order as a decision: ORDER_EXISTS, the
// payment has an order for another amount (asking again never changes it).
var orderDecisions = []string{"ORDER_EXISTS"}

// peerAnswer reports whether err is an answer of another FinFlow service
// (its error body, at a status under 500), and its code. An outage (no
// answer, a 5xx, UNAVAILABLE, INTERNAL) is not one.
func peerAnswer(err error) (string, bool) {
	var e *apperr.Error
	if err == nil || !errors.As(err, &e) || e.Kind == apperr.KindUnavailable || e.Kind == apperr.KindInternal {
		return "", false
	}
	return e.Code, true
}

// decided reports whether err is one of the answers a service documents as
// its decision (errors.Is on each). An answer of the service that is none
// of them is logged at error level (noDecision): it is FinFlow's own fault,
// never a decision about the payment.
func (pr *Processor) decided(service, doing string, err error, decisions ...error) bool {
	for _, d := range decisions {
		if errors.Is(err, d) {
			return true
		}
	}
	pr.noDecision(service, doing, err)
	return false
}

// noDecision logs, at error level, an answer of another FinFlow service
// that is no decision it documents (a 401 of a misconfigured token, a 404
// ROUTE_NOT_FOUND, a VALIDATION_FAILED of FinFlow's own request...): the
// work is retried, never ended on it.
func (pr *Processor) noDecision(service, doing string, err error) {
	if code, answered := peerAnswer(err); answered {
		pr.Log.Error("another FinFlow service answered with no decision: FinFlow's own misconfiguration or fault; not a refusal, retried",
			"service", service, "while", doing, "code", code, "err", err.Error())
	}
}

// unavailable turns an answer of another FinFlow service that is not one
// of its documented decisions into UNAVAILABLE for the client (a 401 of a
// token FinFlow misconfigured is not the client's).
func (pr *Processor) unavailable(service, doing string, err error) error {
	if _, answered := peerAnswer(err); !answered {
		return err
	}
	pr.noDecision(service, doing, err)
	return apperr.Unavailable("a FinFlow service is not answering; try again shortly", err)
}

// number reads a JSON number that crossed a service boundary (float64 after
// decoding into any; int before).
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

// PayWithRazorpay starts a Razorpay payment of a bill: a PENDING payment
// holding the bill's claim, with a gateway order for the client's checkout.
// Asking again while a Razorpay payment of the bill is PENDING returns that
// same payment. The payment only succeeds when a verified gateway result
// says so (ApplyResult). A bill for less than MinRazorpayAmount is
// ErrBelowRazorpayMinimum, and nothing is recorded.
// payer is as for PayFromWallet.
func (pr *Processor) PayWithRazorpay(ctx context.Context, billID, paymentID, payer string) (Payment, error) {
	if paymentID != "" {
		if p, err := pr.Store.Get(ctx, paymentID); err == nil {
			if p.BillID != billID || p.Method != MethodRazorpay {
				return Payment{}, ErrKeyReused
			}
			if p.Status == Pending && p.Razorpay == nil && p.LateCaptureOf == "" {
				// Claiming the bill may have failed the first time (the
				// client was told 503): the order is made only for the
				// bill's claim holder.
				return pr.claimAndOrder(ctx, p)
			}
			return pr.withOrder(ctx, p)
		} else if !errors.Is(err, ErrPaymentNotFound) {
			return Payment{}, err
		}
	}
	bill, err := pr.getBill(ctx, billID)
	if err != nil && !errors.Is(err, ErrBillNotFound) {
		return Payment{}, pr.unavailable("billing", "reading bill "+billID, err)
	} else if err != nil {
		return Payment{}, err
	}
	if payer != "" && bill.UserID != payer {
		return Payment{}, ErrForbidden
	}
	if bill.Paid {
		return Payment{}, billPaid(bill)
	}
	if bill.Amount < MinRazorpayAmount {
		return Payment{}, ErrBelowRazorpayMinimum.With(fmt.Sprintf("bill %s is for %d paise; Razorpay takes %d paise (₹1.00) or more: pay it from the wallet", billID, bill.Amount, MinRazorpayAmount),
			map[string]any{"bill_id": billID, "amount": bill.Amount, "amount_min": int64(MinRazorpayAmount)})
	}
	if p, ok, err := pr.pendingRazorpay(ctx, billID); err != nil || ok {
		return p, err
	}
	p, err := pr.Store.Create(ctx, NewRazorpayPayment(paymentID, bill, pr.Now()))
	if errors.Is(err, ErrPaymentExists) {
		return pr.PayWithRazorpay(ctx, billID, paymentID, payer)
	} else if err != nil {
		return Payment{}, err
	}
	return pr.claimAndOrder(ctx, p)
}

// claimAndOrder claims p's bill for p, a PENDING Razorpay payment without
// an order, and then makes its order (withOrder): an order exists only for
// the payment holding the bill's claim, so no other payment can pay the
// bill while the customer can pay the order. If another payment raced p to
// the bill, p ends FAILED and the answer is that payment when it is a
// PENDING Razorpay payment (ours never had an order), else
// ErrBillAlreadyPaid. If the claim's outcome is unknown (the store did not
// answer), the answer is 503 with the payment's id and p stays PENDING
// without an order: asking again (the same Idempotency-Key) claims again,
// and a payment never asked about again expires with the order lifetime.
// It had been answered 201 PENDING with no order to pay, the bill not held.
func (pr *Processor) claimAndOrder(ctx context.Context, p Payment) (Payment, error) {
	var claimed *ClaimedError
	if err := pr.Store.ClaimBill(ctx, p.BillID, p.ID); errors.As(err, &claimed) {
		holder, ok, herr := pr.pendingRazorpay(ctx, p.BillID)
		if herr == nil && ok && holder.ID != p.ID {
			_, _ = pr.finishFailed(ctx, p, ReasonDuplicate, false, nil)
			return holder, nil
		}
		return pr.finishFailed(ctx, p, ReasonBillAlreadyPaid, false, pr.billHeld(ctx, p.BillID, claimed.Holder))
	} else if err != nil {
		return Payment{}, pr.leftWithoutOrder(ctx, p, "bill not claimed", err)
	}
	return pr.withOrder(ctx, p)
}

// pendingRazorpay returns the bill's claim holder when it is a PENDING
// Razorpay payment; a holder that is any other active payment is
// ErrBillAlreadyPaid.
func (pr *Processor) pendingRazorpay(ctx context.Context, billID string) (Payment, bool, error) {
	holderID, found, err := pr.Store.BillClaim(ctx, billID)
	if err != nil || !found {
		return Payment{}, false, err
	}
	holder, err := pr.Store.Get(ctx, holderID)
	if errors.Is(err, ErrPaymentNotFound) {
		return Payment{}, false, nil
	} else if err != nil {
		return Payment{}, false, err
	}
	switch {
	case holder.Status == Failed:
		return Payment{}, false, nil
	case holder.Method == MethodRazorpay && holder.Status == Pending && holder.LateCaptureOf == "":
		p, err := pr.withOrder(ctx, holder)
		return p, err == nil, err
	default:
		return Payment{}, false, billHeldBy(billID, holderID, &holder)
	}
}

// withOrder makes sure the payment has its gateway order. If Razorpay
// refuses to make one (a definite answer: an amount over the account's
// limit, say), the payment fails with reason GATEWAY_REFUSED and Razorpay's
// words, and the client gets 422 GATEWAY_REFUSED: no money has moved. If
// the razorpay service or Razorpay cannot be reached now, the payment stays
// PENDING without an order and the client gets 503: asking again (the same
// Idempotency-Key, or the same bill) makes the order then, and an order
// never made expires with the order lifetime (Reconcile).
func (pr *Processor) withOrder(ctx context.Context, p Payment) (Payment, error) {
	if p.Razorpay != nil || p.Status != Pending {
		if p.Status == Failed {
			return p, p.Err("")
		}
		return p, nil
	}
	const op = "to create the order"
	// On the watch before the order can exist: a capture of it that no
	// webhook reports, after p has ended, is still found (WatchOrders).
	if err := pr.Store.Watch(ctx, p.ID, pr.Now().Add(pr.Watch.first())); err != nil {
		return Payment{}, apperr.Unavailable("the payment store is not answering; try again shortly", err)
	}
	var order RazorpayOrder
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		order, err = pr.Gateway.CreateOrder(ctx, p.ID, p.Amount, p.Currency)
		return err
	})
	if g, ok := pr.refusal(op, err, orderDecisions...); ok {
		final, ferr := pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Status != Pending {
				return false
			}
			q.GatewayError = g
			q.note(pr.Now(), "Razorpay refused the order: "+g.String())
			return q.fail(ReasonGatewayRefused, pr.Now())
		})
		if ferr != nil {
			return Payment{}, pr.leftWithoutOrder(ctx, p, "Razorpay's refusal of the order not recorded", ferr)
		}
		if final.Status == Failed {
			pr.releaseClaim(ctx, final)
			pr.Log.InfoContext(ctx, "payment failed: Razorpay refused the order", "payment_id", p.ID, "gateway", g.String())
		}
		return final, final.Err("")
	}
	if err != nil {
		pr.Log.WarnContext(ctx, "gateway order not made yet; payment left pending", "payment_id", p.ID, "err", err.Error())
		e := ErrGatewayUnavailable.Wrap(err)
		// Named as the gateway names a FinFlow service that does not
		// answer, so that a client can tell "Razorpay is not answering"
		// from "FinFlow is not answering".
		e.Details = p.Named()
		e.Details[contract.DetailService] = contract.AppRazorpay
		return Payment{}, e
	}
	return pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Razorpay != nil {
			return false
		}
		q.Razorpay = &order
		q.note(pr.Now(), "gateway order "+order.OrderID)
		return true
	})
}

// Outcome is what ApplyResult did with a gateway result; it maps to the
// answer given to Dapr (SUCCESS, RETRY or DROP).
type Outcome int

// Outcomes.
const (
	Applied   Outcome = iota // done (or handed to the gateway work): SUCCESS
	Duplicate                // seen before: SUCCESS
	Rejected                 // not acceptable, kept as a dead letter: DROP
)

// ApplyResult applies a verified gateway result to its payment, exactly as
// a webhook should. A verified result is only signed with the webhook
// secret: a capture it reports moves no money until Razorpay's own API has
// confirmed that very gateway payment (GET /v1/payments/{id}: its id,
// status captured, its order, amount and currency; or the order's
// payments list reconciliation reads). A capture of the order's own
// PENDING payment is recorded on it as unconfirmed (Payment.Unconfirmed)
// and handed to the gateway work (Kick), which confirms it and then binds
// it to its order (Store.BindCapture, from Razorpay's answer, never from
// the result) and settles it: the payment becomes SUCCESS and the bill
// PAID, or the top-up is credited (or, if the bill cannot be paid by it,
// a refund is owed). A capture of any other gateway payment on the order
// (a late authorisation, a second capture) becomes a payment of its own,
// settled the same way only once Razorpay confirms it. A capture Razorpay
// does not know, or describes on another order, of another amount or
// currency, or not captured, is parked once (capture_unconfirmed or
// capture_mismatch) and moves no money; the payment it named is ended by
// reconciliation as it would have been without it. A failure makes a
// PENDING payment FAILED and leaves the bill UNPAID, on the result alone
// (docs/correctness.md: a forged failure can only fail a payment whose
// order reconciliation would fail too, and a capture that comes after it
// is still settled as a late capture). Repeats and results arriving out
// of order change nothing twice. A result that does not match what
// FinFlow created (unknown payment, other order, other amount) is
// Rejected.
//
// It never waits on Razorpay: confirmations and refunds are the gateway
// work's (Kick), so one result Razorpay will not settle cannot hold up the
// others. The cost is latency: a capture becomes SUCCESS one Razorpay
// call (through the razorpay service) after the result was applied, not
// in the subscriber's own call. A returned error is FinFlow's own (a store
// or billing down): the result should be delivered again, up to the
// result delivery bound, after which it is parked and Rejected.
func (pr *Processor) ApplyResult(ctx context.Context, r GatewayResult) (Outcome, string, error) {
	if r.EventID == "" {
		return pr.reject(ctx, r, "the result has no event id")
	}
	applied, err := pr.Store.EventApplied(ctx, r.EventID)
	if err != nil {
		return pr.failedDelivery(ctx, r, err)
	}
	if applied {
		return Duplicate, "", nil
	}
	p, err := pr.Store.Get(ctx, r.PaymentID)
	if errors.Is(err, ErrPaymentNotFound) || r.PaymentID == "" {
		return pr.reject(ctx, r, "no FinFlow payment for order "+r.OrderID)
	} else if err != nil {
		return pr.failedDelivery(ctx, r, err)
	}
	if r.Status == contract.ResultRefunded || r.Status == contract.ResultRefundFailed {
		if p.Method != MethodRazorpay || p.Razorpay == nil || p.Razorpay.GatewayPaymentID != r.GatewayPaymentID {
			return pr.reject(ctx, r, fmt.Sprintf("refund %s of %s is not of payment %s's capture", r.GatewayRefundID, r.GatewayPaymentID, p.ID))
		}
		return pr.applyRefundResult(ctx, p, r)
	}
	switch {
	case p.Method != MethodRazorpay || p.Razorpay == nil:
		return pr.reject(ctx, r, "payment "+p.ID+" has no Razorpay order")
	case p.Razorpay.OrderID != r.OrderID:
		return pr.reject(ctx, r, fmt.Sprintf("order %s is not payment %s's order %s", r.OrderID, p.ID, p.Razorpay.OrderID))
	case r.Amount != p.Amount || r.Currency != p.Currency:
		return pr.reject(ctx, r, fmt.Sprintf("amount %d %s does not match the payment's %d %s", r.Amount, r.Currency, p.Amount, p.Currency))
	case r.Status != contract.ResultCaptured && r.Status != contract.ResultFailed:
		return pr.reject(ctx, r, "unknown result status "+r.Status)
	case r.GatewayPaymentID == "":
		return pr.reject(ctx, r, "the result names no gateway payment")
	}
	if r.Status == contract.ResultCaptured && slices.Contains(p.Disowned, r.GatewayPaymentID) {
		return pr.reject(ctx, r, fmt.Sprintf("Razorpay said before that %s is no capture of order %s for %d %s", r.GatewayPaymentID, r.OrderID, p.Amount, p.Currency))
	}
	if r.Status == contract.ResultCaptured && p.Status == Pending && p.LateCaptureOf == "" && p.Razorpay.GatewayPaymentID == "" &&
		!slices.Contains(p.Unconfirmed, r.GatewayPaymentID) && len(p.Unconfirmed) >= MaxUnconfirmed {
		return pr.reject(ctx, r, fmt.Sprintf("payment %s has %d captures waiting for Razorpay's confirmation already", p.ID, len(p.Unconfirmed)))
	}
	if err := pr.apply(ctx, p, r); err != nil {
		return pr.failedDelivery(ctx, r, err)
	}
	return pr.applied(ctx, r)
}

// failedDelivery answers a result whose effect could not be recorded: RETRY
// (the error), until it has failed the result delivery bound, then it is
// parked and Rejected so that it stops taking the subscriber's time.
func (pr *Processor) failedDelivery(ctx context.Context, r GatewayResult, err error) (Outcome, string, error) {
	n := pr.deliveries.fail(r.EventID)
	if pr.MaxResultDeliveries == nil || n < pr.MaxResultDeliveries() {
		return 0, "", err
	}
	reason := fmt.Sprintf("not applied after %d deliveries; last: %v", n, err)
	if perr := pr.park(ctx, DeadLetter{EventID: r.EventID, Kind: ParkResultGaveUp, PaymentID: r.PaymentID, Reason: reason, Result: r}); perr != nil {
		return 0, "", err
	}
	pr.deliveries.forget(r.EventID)
	return Rejected, reason, nil
}

// deliveryFailures counts failed deliveries of each result in this process,
// for up to keepDeliveryFailures results (the one that failed least
// recently is forgotten first, and counts from 0 again if it comes back).
// A result's count is forgotten when it is applied or parked; one that
// failed here and was then applied elsewhere (another replica) or answered
// otherwise is left to be pushed out, so the memory stays bounded.
type deliveryFailures struct {
	mu sync.Mutex
	n  *lru.Cache[string, int]
}

// keepDeliveryFailures bounds deliveryFailures: far more results than can
// be failing at once (each is retried by its sidecar with backoff).
const keepDeliveryFailures = 4096

func (d *deliveryFailures) fail(eventID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n, _ = lru.New[string, int](keepDeliveryFailures) // errs only for a size <= 0
	}
	n, _ := d.n.Get(eventID)
	n++
	d.n.Add(eventID, n)
	return n
}

func (d *deliveryFailures) forget(eventID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n != nil {
		d.n.Remove(eventID)
	}
}

func (pr *Processor) reject(ctx context.Context, r GatewayResult, reason string) (Outcome, string, error) {
	if err := pr.park(ctx, DeadLetter{EventID: r.EventID, Kind: ParkRefusedResult, PaymentID: r.PaymentID, Reason: reason, Result: r}); err != nil {
		return 0, "", err
	}
	return Rejected, reason, nil
}

// Park keeps a gateway event that reached the dead-letter topic: one the
// razorpay service parked (r.Reason says why) or one the subscription
// dropped. Once per event id.
func (pr *Processor) Park(ctx context.Context, r GatewayResult, cloudEventID string) error {
	d := DeadLetter{EventID: r.EventID, Kind: ParkEvent, PaymentID: r.PaymentID, Reason: r.Reason, Result: r}
	if d.Reason == "" {
		d.Kind, d.Reason = ParkDroppedResult, "dropped by the subscription (see the payment service's log)"
	}
	if d.EventID == "" {
		d.EventID = "cloudevent:" + cloudEventID
	}
	return pr.park(ctx, d)
}

// park keeps a dead letter for operators, logs it and counts it.
func (pr *Processor) park(ctx context.Context, d DeadLetter) error {
	d.Received = pr.Now().UTC()
	if err := pr.Store.AddDeadLetter(ctx, d); err != nil {
		return err
	}
	pr.Log.WarnContext(ctx, "parked for an operator", "kind", d.Kind, "event_id", d.EventID, "payment_id", d.PaymentID, "order_id", d.Result.OrderID, "reason", d.Reason)
	if pr.OnParked != nil {
		pr.OnParked(d.Kind)
	}
	return nil
}

func (pr *Processor) apply(ctx context.Context, p Payment, r GatewayResult) error {
	if r.Status == contract.ResultFailed {
		return pr.applyFailure(ctx, p, r)
	}
	switch {
	case p.Razorpay.GatewayPaymentID == r.GatewayPaymentID:
		switch {
		case p.Status != Pending:
			return nil // the same capture again (payment.captured and order.paid)
		case p.Refund != nil || p.LateCaptureOf != "":
			pr.Kick(p.ID) // its refund or confirmation is under way
			return nil
		}
		// Recorded, and not settled yet: the instance settling it stopped
		// half way (or is still at it). Settling is idempotent.
		return pr.settleCapture(ctx, p, r.GatewayPaymentID, r.Event)
	case p.Status == Pending && p.Razorpay.GatewayPaymentID == "" && p.LateCaptureOf == "":
		return pr.awaitConfirmation(ctx, p, r.GatewayPaymentID, r.Event)
	case p.Status == Success && p.Razorpay.GatewayPaymentID == "":
		return nil // an old record: SUCCESS before gateway ids were kept
	default:
		// A capture of another gateway payment on this order (a late
		// authorisation after the payment failed, or a second capture):
		// settled through a payment of its own.
		return pr.lateCapture(ctx, p, r)
	}
}

// captureOrder records capture r, confirmed by Razorpay's API, on p, its
// order's own PENDING payment, by compare-and-swap before anything is
// settled (and takes it off p's unconfirmed captures): from then on
// nothing heard about the order (a failed attempt, its expiry, Razorpay's
// refusal to tell about it) can end p (endOrder); only settling the
// capture, or refunding it, does. If another result ended p first, or
// another capture of the order was recorded first, r is decided again on p
// as it now stands: the same capture is settled, any other is a late
// capture.
func (pr *Processor) captureOrder(ctx context.Context, p Payment, r GatewayResult) error {
	gw := r.GatewayPaymentID
	reowned := false
	q, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		reowned = false
		if q.Status != Pending || q.Razorpay.GatewayPaymentID != "" {
			return false
		}
		q.Razorpay.GatewayPaymentID = gw
		q.unconfirm(gw)
		// Disowned on an earlier answer that Razorpay has now contradicted
		// (its list of the order's payments has the capture): taken back.
		i := slices.Index(q.Disowned, gw)
		if reowned = i >= 0; reowned {
			q.Disowned = slices.Delete(q.Disowned, i, i+1)
			q.note(pr.Now(), "Razorpay now describes "+gw+" as this order's capture for its amount; the earlier answer that disowned it is overruled")
		}
		// Confirmed: settling it starts afresh, due at once.
		q.GatewayRetries, q.RetryAt = 0, time.Time{}
		q.note(pr.Now(), fmt.Sprintf("%s: %s captured; settling it", r.Event, gw))
		return true
	})
	if err != nil {
		return err
	}
	if reowned {
		pr.resolveParked(ctx, captureLetterID(ParkCaptureMismatch, gw, p.ID), p.ID, "Razorpay's list of the order's payments describes "+gw+" as its capture for its amount: settled with it")
	}
	if q.Status != Pending || q.Razorpay.GatewayPaymentID != gw {
		return pr.apply(ctx, q, r)
	}
	return pr.settleCapture(ctx, q, gw, r.Event)
}

// applyFailure applies a failed attempt of p's order: p ends FAILED
// (PAYMENT_FAILED), unless it is final already or a capture of the order
// is recorded on it (endOrder); then the failure is only noted.
func (pr *Processor) applyFailure(ctx context.Context, p Payment, r GatewayResult) error {
	return pr.endOrder(ctx, p.ID, ReasonGatewayFailed, r.GatewayPaymentID, func(q *Payment, failing bool) bool {
		if !failing {
			q.note(pr.Now(), "gateway reported "+r.GatewayPaymentID+" failed (ignored: "+q.orderNewsIgnored()+")")
		}
		return true
	})
}

// endOrder ends payment id FAILED with reason on news of its order that no
// capture came (a failed attempt, the order's expiry, Razorpay refusing to
// tell about it or listing its capture refunded), by compare-and-swap:
// only while it is PENDING and, if it is the order's own payment, no
// capture of the order is recorded on it (Razorpay.GatewayPaymentID). Such
// a capture is being settled, or refunded, and only that work ends the
// payment. (Seen on the replica topology: one instance failed a payment on
// a stale payment.failed while another marked its bill PAID by it.) A late
// payment stands for one capture only and fails on news of it.
//
// record, when set, writes the news on the payment first (failing: whether
// it is about to fail) and reports whether the payment is to be written
// even if it does not fail. When this call failed the payment, its claim
// is released and the failure logged, with the news's gateway payment id
// (gw, "" when the news names none).
func (pr *Processor) endOrder(ctx context.Context, id, reason, gw string, record func(q *Payment, failing bool) bool) error {
	failed := false
	final, err := pr.update(ctx, id, func(q *Payment) bool {
		failed = q.Status == Pending && !q.captureHeard()
		write := failed
		if record != nil {
			write = record(q, failed) || failed
		}
		if failed {
			q.fail(reason, pr.Now())
		}
		return write
	})
	if err == nil && failed {
		pr.releaseClaim(ctx, final)
		pr.Log.InfoContext(ctx, "payment failed", "payment_id", id, "bill_id", final.BillID, "topup_id", final.TopUpID, "reason", reason, "gateway_payment_id", gw)
	}
	return err
}

// alreadySettled is the failure reason of a capture that cannot settle
// what it paid for, because another payment did.
func alreadySettled(p Payment) string {
	if p.Purpose == PurposeTopUp {
		return ReasonTopUpCredited
	}
	return ReasonBillAlreadyPaid
}

// settleCapture settles what p paid for with gateway payment gw: a bill is
// marked PAID by p, a top-up credits the wallet (reference: the top-up's
// id, once); then p is SUCCESS. If billing or the wallet gives a definite
// refusal (the bill paid by another payment or gone, no wallet), the
// captured money is owed back: p records the refund and the gateway work
// makes it. A failure to reach them is returned (the result is delivered
// again).
func (pr *Processor) settleCapture(ctx context.Context, p Payment, gw, event string) error {
	if p.Purpose == PurposeTopUp {
		// A top-up is credited by one capture only: the one holding its
		// claim (the top-up's own, or a late capture after it failed).
		var claimed *ClaimedError
		if err := pr.Store.ClaimBill(ctx, p.claimKey(), p.ID); errors.As(err, &claimed) {
			return pr.oweRefund(ctx, p.ID, gw, ReasonTopUpCredited)
		} else if err != nil {
			return err
		}
	}
	err := pr.step(ctx, func(ctx context.Context) error {
		if p.Purpose == PurposeTopUp {
			return pr.Wallets.Credit(ctx, p.UserID, p.Amount, p.TopUpID)
		}
		return pr.Bills.MarkPaid(ctx, p.BillID, p.ID)
	})
	if err != nil {
		// Only billing's and the wallet's documented decisions owe the
		// money back; any other answer (a 401 of a token misconfigured) is
		// retried: the capture stays recorded and is settled later.
		service, decisions := "billing", []error{ErrBillAlreadyPaid, ErrBillNotFound}
		if p.Purpose == PurposeTopUp {
			service, decisions = "wallet", []error{ErrWalletNotFound}
		}
		if pr.decided(service, "settling the capture "+gw+" of "+p.ID, err, decisions...) {
			return pr.oweRefund(ctx, p.ID, gw, apperr.From(err).Code)
		}
		return err
	}
	final, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Status != Pending {
			return false
		}
		q.Razorpay.GatewayPaymentID = gw
		q.note(pr.Now(), fmt.Sprintf("gateway %s: %s captured", event, gw))
		return q.succeed(pr.Now())
	})
	if err == nil && final.Status == Success {
		pr.Log.InfoContext(ctx, "razorpay payment succeeded", "payment_id", p.ID, "purpose", p.Purpose, "bill_id", p.BillID, "topup_id", p.TopUpID, "gateway_payment_id", gw)
		pr.noteSettled(ctx, final)
	}
	return err
}

// oweRefund records that payment id owes a refund of gateway payment gw
// (its whole amount) and ends, once refunded, FAILED with reason; the
// gateway work makes it.
func (pr *Processor) oweRefund(ctx context.Context, paymentID, gw, reason string) error {
	p, err := pr.update(ctx, paymentID, func(q *Payment) bool {
		if q.Status != Pending || q.Refund != nil {
			return false
		}
		q.Razorpay.GatewayPaymentID = gw
		q.Refund = &Refund{Amount: q.Amount, Status: RefundOwed, For: reason}
		q.GatewayRetries, q.RetryAt = 0, time.Time{}
		q.note(pr.Now(), fmt.Sprintf("captured %s cannot pay the bill (%s): refund of %d owed", gw, reason, q.Amount))
		return true
	})
	if err != nil {
		return err
	}
	if p.Status == Pending {
		pr.Kick(p.ID)
	}
	return nil
}

// lateCapture records a capture of gateway payment r.GatewayPaymentID on
// orig's order, when orig is final or settled by another capture: as a new
// PENDING payment (its id derived from the gateway payment, so repeats
// find it) that stands for that gateway payment only. The gateway work
// then asks Razorpay about that very payment and settles it: it pays the
// bill if the bill is still unpaid, or is refunded.
func (pr *Processor) lateCapture(ctx context.Context, orig Payment, r GatewayResult) error {
	lateID := lateCaptureID(orig, r.GatewayPaymentID)
	late := NewRazorpayPayment(lateID, Bill{ID: orig.BillID, UserID: orig.UserID, Amount: orig.Amount, Currency: orig.Currency}, pr.Now())
	late.Purpose, late.TopUpID = orig.Purpose, orig.TopUpID
	order := *orig.Razorpay
	order.GatewayPaymentID = r.GatewayPaymentID
	late.Razorpay = &order
	late.LateCaptureOf = orig.ID
	late.note(pr.Now(), fmt.Sprintf("gateway %s: %s captured on the order of payment %s, which is %s; to be confirmed with Razorpay", r.Event, r.GatewayPaymentID, orig.ID, orig.Status))
	if _, err := pr.Store.Create(ctx, late); err != nil && !errors.Is(err, ErrPaymentExists) {
		return err
	}
	pr.Kick(lateID)
	return nil
}

// noteSettled tells the payment a late payment stands for that it was
// settled (SettledBy). The late payment that paid the bill or credited the
// top-up (SUCCESS) is the one named, whatever settled after it: a later
// capture of the same order refunded (FAILED) does not take its place, so
// a client following settled_by finds where the money went.
func (pr *Processor) noteSettled(ctx context.Context, late Payment) {
	if late.LateCaptureOf == "" {
		return
	}
	_, err := pr.update(ctx, late.LateCaptureOf, func(q *Payment) bool {
		if q.SettledBy == late.ID || q.SettledBy != "" && late.Status != Success {
			return false
		}
		q.SettledBy = late.ID
		q.note(pr.Now(), fmt.Sprintf("late capture %s settled by payment %s (%s)", late.Razorpay.GatewayPaymentID, late.ID, late.Status))
		return true
	})
	if err != nil {
		pr.Log.WarnContext(ctx, "noting a settled late capture", "payment_id", late.LateCaptureOf, "late", late.ID, "err", err.Error())
	}
}

func (pr *Processor) releaseClaim(ctx context.Context, p Payment) {
	if err := pr.Store.ReleaseBill(ctx, p.claimKey(), p.ID); err != nil {
		// A claim held by a FAILED payment is taken over by the next
		// payment anyway; releasing it now is only tidiness.
		pr.Log.WarnContext(ctx, "releasing the bill claim", "payment_id", p.ID, "err", err.Error())
	}
}

// leftWithoutOrder is the answer for p, a Razorpay payment left PENDING
// without an order because the payment store did not answer (what says
// why): 503 naming the payment, never 201 with nothing to pay; asking
// again with the same Idempotency-Key goes on from where it stopped.
func (pr *Processor) leftWithoutOrder(ctx context.Context, p Payment, what string, err error) error {
	pr.Log.WarnContext(ctx, what+"; payment left pending without an order", "payment_id", p.ID, "bill_id", p.BillID, "err", err.Error())
	e := apperr.Unavailable("the payment store is not answering; try again shortly (with the same Idempotency-Key)", err)
	e.Details = p.Named()
	return e
}

// lateCaptureID is the id of the payment that stands for capture gw on the
// order of orig (a payment or a top-up, as orig is): derived from gw, so
// every result of that capture finds the same one.
func lateCaptureID(orig Payment, gw string) string {
	prefix := id.Payment
	if orig.Purpose == PurposeTopUp {
		prefix = id.TopUp
	}
	return id.Derive(prefix, "late:"+gw)
}
