package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/finflow/finflow/platform/contract"
)

// The gateway work of a PENDING Razorpay payment is what only Razorpay can
// settle: making a refund it owes, confirming a late capture, asking about
// its order when no result came. It runs apart from the pub/sub subscriber
// (Kick), and again from reconciliation, so a payment Razorpay will not
// settle never holds up the others. Every answer is classified:
//
//   - a definite refusal ends the work: the payment ends FAILED with
//     Razorpay's words (GatewayError) and, where money is at stake, a dead
//     letter for an operator (Park*). It is never retried, and it never
//     leads to acting on another gateway payment.
//   - no definite answer (5xx, 408, 429, a timeout, the razorpay service
//     down, or an answer of it that is none of its decisions: refusal) is
//     tried again after a backoff (RetryPolicy), MaxAttempts times; then
//     the work is parked for an operator, and a refund owed or an order
//     not known paid is still tried every RetryPolicy.Max.

// RetryPolicy bounds the retries of one payment's gateway work: the n-th
// retry waits Base·2ⁿ⁻¹, at most Max; after MaxAttempts tries the work is
// parked, and work that money hangs on is tried every Max from then on.
// The functions are read on every use.
type RetryPolicy struct {
	Base, Max   func() time.Duration
	MaxAttempts func() int
}

func (rp RetryPolicy) backoff(n int) time.Duration {
	d, limit := rp.Base(), rp.Max()
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// work runs payments' gateway work in the background, one goroutine per
// payment at most in this process, Concurrency at a time. A Kick that
// comes while the payment's work runs is not dropped: it asks for one more
// run once this one ends, so that what the Kick was for (a capture, a
// refund owed, a retry now due, written after the run read the payment)
// is done now, not at reconciliation's next look (payments.reconcile.
// after_ms) or a retry's timer. Any number of Kicks during one run ask for
// one run more.
type work struct {
	mu sync.Mutex
	// inflight holds the payments whose work runs, each with whether a
	// Kick asked for another run meanwhile.
	inflight map[string]bool
	// timers holds when the timers armed for a payment (kickAt) fire.
	timers map[string][]time.Time
	tokens chan struct{}
}

// claim marks id in flight, true; if it already is, it is false, and with
// ask the run under way is asked to run once more when it ends.
func (w *work) claim(id string, ask bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight == nil {
		w.inflight = map[string]bool{}
	}
	if _, running := w.inflight[id]; running {
		if ask {
			w.inflight[id] = true
		}
		return false
	}
	w.inflight[id] = false
	return true
}

// asked takes the ask for another run of id's work, if one came during the
// run that just ended: true, and id stays in flight for that run.
func (w *work) asked(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	again := w.inflight[id]
	if again {
		w.inflight[id] = false
	}
	return again
}

// finish ends a run of id's work: true when another run was asked for (it
// takes the ask; id stays in flight), else id is no longer in flight.
func (w *work) finish(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight[id] {
		w.inflight[id] = false
		return true
	}
	delete(w.inflight, id)
	return false
}

// release ends id's work, any ask for another run with it (its context
// ended).
func (w *work) release(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inflight, id)
}

// loop runs id's work, claimed by the caller: run, holding one of tokens,
// then again as long as a Kick asked for it during the run; after the last
// run, tail (kickLater: the timer for the next try), which a Kick during
// it also follows with one more run. A run asked for is not started once
// ctx ends.
func (w *work) loop(ctx context.Context, id string, tokens chan struct{}, run, tail func(context.Context)) {
	for {
		select {
		case tokens <- struct{}{}:
		case <-ctx.Done():
			w.release(id)
			return
		}
		run(ctx)
		<-tokens
		if ctx.Err() != nil {
			w.release(id)
			return
		}
		if w.asked(id) {
			continue // that run's end arms what is still due (tail)
		}
		tail(ctx)
		if !w.finish(id) {
			return
		}
	}
}

// arm records a timer for id's work firing at at; false when one is armed
// for that very time already (its run is the one due then).
func (w *work) arm(id string, at time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if slices.ContainsFunc(w.timers[id], at.Equal) {
		return false
	}
	if w.timers == nil {
		w.timers = map[string][]time.Time{}
	}
	w.timers[id] = append(w.timers[id], at)
	return true
}

// disarm forgets id's timer for at (it fired, or its context ended).
func (w *work) disarm(id string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	left := slices.DeleteFunc(w.timers[id], at.Equal)
	if len(left) == 0 {
		delete(w.timers, id)
		return
	}
	w.timers[id] = left
}

// armedBy reports whether a timer for id's work fires at or before at:
// the run it starts (or asks for) ends with kickLater, which looks again
// at what is due, so no other timer is needed for at.
func (w *work) armedBy(id string, at time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.ContainsFunc(w.timers[id], func(t time.Time) bool { return !t.After(at) })
}

func (pr *Processor) workTokens() chan struct{} {
	pr.work.mu.Lock()
	defer pr.work.mu.Unlock()
	if pr.work.tokens == nil {
		n := 4
		if pr.GatewayConcurrency != nil {
			n = max(1, pr.GatewayConcurrency())
		}
		pr.work.tokens = make(chan struct{}, n)
	}
	return pr.work.tokens
}

// Kick starts the gateway work of payment id in the background; if it is
// already running in this process, it runs once more when the run under
// way ends (work). If the process stops first, the payment is still
// PENDING in the pending index and reconciliation does it.
func (pr *Processor) Kick(id string) {
	if !pr.work.claim(id, true) {
		return
	}
	go pr.kicked(id)
}

// kicked runs payment id's gateway work, claimed, as Kick does.
func (pr *Processor) kicked(id string) {
	ctx := pr.Background
	if ctx == nil {
		ctx = context.Background()
	}
	pr.work.loop(ctx, id, pr.workTokens(), func(ctx context.Context) {
		if err := pr.gatewayWork(ctx, id, nil); err != nil && ctx.Err() == nil {
			pr.Log.WarnContext(ctx, "gateway work of a payment not done yet", "payment_id", id, "err", err.Error())
		}
	}, func(ctx context.Context) { pr.kickLater(ctx, id) })
}

// kickLater starts payment id's gateway work again once its next try is
// due (RetryAt, at least RetryPolicy.Base from now), when that work is the
// confirmation or the settling of a capture of its own order
// (needsDriving) and a try just left it undone (no answer, billing down,
// or another instance's try still holding its lease): a webhook handed it
// over (ApplyResult), so it is not left to reconciliation alone, which
// asks only about payments PENDING for a while. Work that Razorpay never
// answers ends parked (giveUp), and is then reconciliation's. No timer is
// armed when one for id fires by then already (the try's own retryLater
// armed it, or an earlier run's kickLater): its run looks again.
func (pr *Processor) kickLater(ctx context.Context, id string) {
	wait := time.Second
	if pr.Retry.Base != nil {
		wait = pr.Retry.Base()
	}
	now := pr.Now()
	if p, err := pr.Store.Get(ctx, id); err == nil {
		if !p.needsDriving() || p.GatewayRetries >= maxAttempts(pr) {
			return
		}
		wait = max(wait, p.RetryAt.Sub(now))
	}
	if at := now.Add(wait); !pr.work.armedBy(id, at) {
		pr.kickAt(ctx, id, at)
	}
}

// kickAt starts payment id's gateway work again at at, in this process,
// unless ctx ends first: a retry recorded for then (a RetryAt) is made when
// it is due, not at reconciliation's next look, which comes only once the
// payment or its refund has waited payments.reconcile.after_ms (a refund's
// first retry came 30 s after Razorpay's 503, not
// payments.gateway.retry_base_ms). A timer for id at at already armed is
// not armed twice (two Kicks at once would make two runs). With a nil ctx
// (a Processor without a Background: unit tests that drive the work by
// hand) it does nothing; if the process stops first, reconciliation does
// the work.
func (pr *Processor) kickAt(ctx context.Context, id string, at time.Time) {
	if ctx == nil || !pr.work.arm(id, at) {
		return
	}
	t := time.NewTimer(max(0, at.Sub(pr.Now())) + 10*time.Millisecond)
	go func() {
		defer t.Stop()
		select {
		case <-t.C:
			pr.work.disarm(id, at) // first: the run this Kick starts arms the next timer
			pr.Kick(id)
		case <-ctx.Done():
			pr.work.disarm(id, at)
		}
	}()
}

// gatewayWork does what payment id needs from Razorpay, if it is due.
// Only reconciliation passes cfg: an ordinary pending payment's order is
// asked about only there.
func (pr *Processor) gatewayWork(ctx context.Context, id string, cfg *ReconcileConfig) error {
	p, err := pr.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	if p.Status != Pending {
		if len(p.Unconfirmed) > 0 && p.Razorpay != nil {
			// Left by a capture that settled it, or news that ended it:
			// late captures of its order now.
			if err := pr.confirmCaptures(ctx, p); err != nil {
				return err
			}
		}
		return pr.refundWork(ctx, p) // its refunds, if any
	}
	if p.Method != MethodRazorpay {
		return nil
	}
	now := pr.Now()
	if now.Before(p.RetryAt) {
		return nil
	}
	if p.refundToMake() || p.LateCaptureOf != "" || len(p.Unconfirmed) > 0 {
		// Every payment instance runs this work (its subscriber's Kick,
		// its reconciliation): one of them makes each try.
		claimed, ok, err := pr.claimTry(ctx, p, now)
		if err != nil || !ok {
			return err
		}
		p = claimed
	}
	switch {
	case p.refundToMake():
		return pr.makeRefund(ctx, p)
	case p.LateCaptureOf != "":
		return pr.confirmLateCapture(ctx, p)
	case len(p.Unconfirmed) > 0:
		return pr.confirmCaptures(ctx, p)
	case cfg == nil && p.captureRecorded() && p.Refund == nil:
		// Confirmed and recorded, not settled yet (a try that failed, or
		// stopped half way): settling it is idempotent.
		return pr.settleCapture(ctx, p, p.Razorpay.GatewayPaymentID, "confirmed by Razorpay")
	case cfg != nil:
		return pr.reconcile(ctx, p, now, *cfg)
	}
	return nil
}

// claimTry records, by compare-and-swap on the payment, that this process
// makes the next try of p's gateway work now: RetryAt moves a lease ahead
// (twice the step timeout and a second), so that another instance finding
// the work due at the same moment leaves it alone, and the tries are
// counted and bounded once for all instances. If this process dies during
// the try, the lease runs out and any instance tries again. It returns the
// claimed payment, or false when another instance claimed the try (or
// recorded one) first.
func (pr *Processor) claimTry(ctx context.Context, p Payment, now time.Time) (Payment, bool, error) {
	lease := now.Add(2*pr.StepTimeout() + time.Second)
	claimed := false
	q, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		claimed = q.Status == Pending && q.GatewayRetries == p.GatewayRetries && !now.Before(q.RetryAt)
		if claimed {
			q.RetryAt = lease
		}
		return claimed
	})
	return q, claimed && err == nil, err
}

// makeRefund gives the owed refund back through Razorpay, keyed by the
// payment (so a refund whose answer was lost is not made twice), and fails
// the payment with the refund's reason.
func (pr *Processor) makeRefund(ctx context.Context, p Payment) error {
	gw := p.Razorpay.GatewayPaymentID
	op := "the refund of " + gw
	var made contract.Refund
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		made, err = pr.Gateway.Refund(ctx, contract.RefundRequest{PaymentID: p.ID, GatewayPaymentID: gw, Amount: p.Refund.Amount})
		return err
	})
	if g, ok := pr.refusal(op, err); ok {
		// Parked first: a crash after the payment is final must not lose it.
		if err := pr.park(ctx, DeadLetter{EventID: ParkRefundRefused + ":" + p.ID, Kind: ParkRefundRefused, PaymentID: p.ID,
			Reason: fmt.Sprintf("Razorpay refused to refund %d of %s (order %s): %s", p.Refund.Amount, gw, p.Razorpay.OrderID, g.String()),
			Result: GatewayResult{Event: "refund", OrderID: p.Razorpay.OrderID, GatewayPaymentID: gw, PaymentID: p.ID, Amount: p.Refund.Amount, Currency: p.Currency}}); err != nil {
			return err
		}
		parked := false
		final, uerr := pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Status != Pending || !q.refundToMake() {
				return false
			}
			parked = q.Refund.Status == RefundNotMade
			q.Refund.Status, q.Refund.Error = RefundRefused, g.String()
			q.GatewayError = g
			q.note(pr.Now(), "Razorpay refused the refund of "+gw+": "+g.String())
			return q.fail(q.Refund.For, pr.Now())
		})
		if uerr != nil {
			return uerr
		}
		if parked {
			pr.resolveParked(ctx, ParkRefundNotMade+":"+p.ID, p.ID, "Razorpay refused the refund: parked "+ParkRefundRefused)
		}
		if final.Status == Failed {
			pr.releaseClaim(ctx, final)
			pr.noteSettled(ctx, final)
		}
		return nil
	}
	if err != nil {
		return pr.retryLater(ctx, p, "making "+op, err)
	}
	if why := givenBackMismatch(p, made); why != "" {
		// Not an answer about this refund: parked, and tried again as if
		// Razorpay had not answered.
		why = "Razorpay's answer while making " + op + " does not match: " + why
		if err := pr.park(ctx, DeadLetter{EventID: fmt.Sprintf("refund_answer:%s:%s:%s:%d", p.ID, made.RefundID, made.Status, made.Amount), Kind: ParkRefusedResult, PaymentID: p.ID, Reason: why,
			Result: GatewayResult{Event: "refund_answer", Status: made.Status, GatewayPaymentID: made.GatewayPaymentID, PaymentID: made.PaymentID,
				Amount: made.Amount, Currency: p.Currency, RefundKey: made.Key, GatewayRefundID: made.RefundID, At: pr.Now().UTC()}}); err != nil {
			return err
		}
		return pr.retryLater(ctx, p, "making "+op, errors.New(why))
	}
	parked := false
	final, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Status != Pending || q.Refund == nil || q.Refund.Status == RefundRefused {
			return false
		}
		q.Refund.RefundID = made.RefundID
		if q.refundToMake() { // else Razorpay's event told already
			parked = q.Refund.Status == RefundNotMade
			q.Refund.Status, q.Refund.Error = made.Status, ""
		}
		q.note(pr.Now(), fmt.Sprintf("refunded %d of %s as %s", made.Amount, gw, made.RefundID))
		return q.fail(q.Refund.For, pr.Now())
	})
	if err != nil {
		return err
	}
	if parked {
		pr.resolveParked(ctx, ParkRefundNotMade+":"+p.ID, p.ID, fmt.Sprintf("Razorpay made the refund as %s (%s)", made.RefundID, made.Status))
	}
	if final.Status == Failed {
		pr.releaseClaim(ctx, final)
		pr.noteSettled(ctx, final)
		pr.Log.InfoContext(ctx, "captured payment refunded", "payment_id", p.ID, "gateway_payment_id", gw, "refund_id", made.RefundID, "amount", made.Amount)
	}
	return nil
}

// givenBackMismatch says how Razorpay's answer to the refund of p's whole
// capture differs from what was asked (the key is the payment's id): ""
// when it matches.
func givenBackMismatch(p Payment, made contract.Refund) string {
	switch {
	case made.Key != "" && made.Key != p.ID:
		return fmt.Sprintf("it is about refund key %q, not %s", made.Key, p.ID)
	case made.GatewayPaymentID != p.Razorpay.GatewayPaymentID:
		return fmt.Sprintf("it refunds %q, not %s", made.GatewayPaymentID, p.Razorpay.GatewayPaymentID)
	case made.Amount != p.Refund.Amount:
		return fmt.Sprintf("it is of %d, not %d", made.Amount, p.Refund.Amount)
	case made.RefundID == "":
		return "it names no Razorpay refund"
	}
	return ""
}

// confirmLateCapture asks Razorpay about the one gateway payment a late
// payment stands for, and settles it only if Razorpay confirms it is a
// capture of this order, for this amount and currency: then it pays the
// bill if the bill can still be claimed, and is refunded otherwise.
func (pr *Processor) confirmLateCapture(ctx context.Context, p Payment) error {
	gw := p.Razorpay.GatewayPaymentID
	gp, err := pr.fetchPayment(ctx, gw)
	if g, ok := pr.refusal("to confirm the capture "+gw, err); ok {
		return pr.failAndPark(ctx, p, ReasonGatewayRefused, g, ParkCaptureUnknown,
			fmt.Sprintf("a capture %s was reported for order %s, but Razorpay does not confirm it: %s", gw, p.Razorpay.OrderID, g.String()))
	}
	if err != nil {
		return pr.retryLater(ctx, p, "confirming the capture "+gw, err)
	}
	mismatch, _, refunded := describes(gp, gw, p.Razorpay.OrderID, p.Amount, p.Currency)
	if refunded {
		final, err := pr.update(ctx, p.ID, func(q *Payment) bool {
			q.note(pr.Now(), "Razorpay reports "+gw+" fully refunded already (from its dashboard): nothing to settle")
			return q.fail(ReasonRefundedAtGateway, pr.Now())
		})
		if err == nil && final.Status == Failed {
			pr.noteSettled(ctx, final)
		}
		return err
	}
	if mismatch != "" {
		// One answer is not enough to strand a capture: Razorpay's list of
		// the order's payments is asked too, and settles it when it lists
		// it captured on the order for its amount.
		listed, err := pr.listedCapture(ctx, p, gw)
		if err != nil {
			return pr.retryLater(ctx, p, "asking about order "+p.Razorpay.OrderID, err)
		}
		if listed == nil {
			return pr.failAndPark(ctx, p, ReasonCaptureMismatch, nil, ParkCaptureMismatch,
				fmt.Sprintf("a capture %s was reported for order %s, but Razorpay says %s, and its list of the order's payments does not have it captured for %d %s",
					gw, p.Razorpay.OrderID, mismatch, p.Amount, p.Currency))
		}
		gp = *listed
	}
	// Confirmed: bound to its order from Razorpay's answer (never from the
	// webhook alone). What follows (the bill, or the refund owed) starts
	// with all its tries, under this try's claim (RetryAt, the lease, is
	// kept: another instance must not start the refund this one is
	// making).
	if err := pr.bindConfirmed(ctx, p.ID, gp); err != nil {
		return err
	}
	p, err = pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.GatewayRetries == 0 {
			return false
		}
		q.GatewayRetries = 0
		return true
	})
	if err != nil {
		return err
	}
	var claimed *ClaimedError
	switch err := pr.Store.ClaimBill(ctx, p.claimKey(), p.ID); {
	case errors.As(err, &claimed):
		if err := pr.oweRefund(ctx, p.ID, gw, alreadySettled(p)); err != nil {
			return err
		}
		return pr.refundOwedNow(ctx, p.ID)
	case err != nil:
		return err
	}
	if err := pr.settleCapture(ctx, p, gw, "confirmed by Razorpay"); err != nil {
		return err
	}
	return pr.refundOwedNow(ctx, p.ID)
}

// refundOwedNow makes the refund a confirmed capture owes, if it owes one.
// Owing it reset the tries (and the claim with them, so that a refund owed
// by a webhook starts at once): its first try is claimed afresh, and made
// here unless another instance claimed it first.
func (pr *Processor) refundOwedNow(ctx context.Context, id string) error {
	p, err := pr.Store.Get(ctx, id)
	if err != nil || p.Status != Pending || p.Refund == nil || p.Refund.Status != RefundOwed {
		return err
	}
	p, ok, err := pr.claimTry(ctx, p, pr.Now())
	if err != nil || !ok {
		return err
	}
	return pr.makeRefund(ctx, p)
}

// failAndPark parks a pending payment for an operator (first: a crash
// after the payment is final must not lose the dead letter), then ends it
// FAILED with reason (and Razorpay's refusal, if any).
func (pr *Processor) failAndPark(ctx context.Context, p Payment, reason string, g *GatewayError, kind, why string) error {
	if p.captureHeard() {
		return nil // the capture decides (endOrder)
	}
	gw, order := "", ""
	if p.Razorpay != nil {
		gw, order = p.Razorpay.GatewayPaymentID, p.Razorpay.OrderID
	}
	if err := pr.park(ctx, DeadLetter{EventID: kind + ":" + p.ID, Kind: kind, PaymentID: p.ID, Reason: why,
		Result: GatewayResult{Event: kind, OrderID: order, GatewayPaymentID: gw, PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency}}); err != nil {
		return err
	}
	return pr.endOrder(ctx, p.ID, reason, gw, func(q *Payment, failing bool) bool {
		if failing {
			if g != nil {
				q.GatewayError = g
			}
			q.note(pr.Now(), why)
		}
		return false
	})
}

// retryLater records that Razorpay gave no answer while doing something for
// p, and when to try again; after the last attempt the work is parked
// (giveUp).
func (pr *Processor) retryLater(ctx context.Context, p Payment, doing string, cause error) error {
	attempts := maxAttempts(pr)
	n := p.GatewayRetries + 1
	if n >= attempts {
		return pr.giveUp(ctx, p, doing, n, cause)
	}
	wait := pr.retryWait(n)
	at := pr.Now().Add(wait)
	_, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.Status != Pending || q.GatewayRetries != p.GatewayRetries {
			return false // another try recorded itself meanwhile
		}
		q.GatewayRetries, q.RetryAt = n, at
		q.note(pr.Now(), fmt.Sprintf("no answer from Razorpay while %s (try %d of %d): %s; next try in %s", doing, n, attempts, short(cause), wait))
		return true
	})
	if err != nil {
		return err
	}
	pr.kickAt(pr.Background, p.ID, at)
	return fmt.Errorf("%s: %w", doing, cause)
}

// giveUp parks the gateway work Razorpay never answered: a late capture
// ends FAILED, unconfirmed; a refund owed is recorded NOT_MADE and a
// pending payment's order is parked, both once, and tried again at the
// longest interval (FinFlow cannot know whether the refund was made, or
// the order paid; the same refund key never refunds twice). The payment
// owing the refund stays PENDING until Razorpay gives a definite answer.
func (pr *Processor) giveUp(ctx context.Context, p Payment, doing string, n int, cause error) error {
	why := fmt.Sprintf("no answer from Razorpay while %s after %d tries; last: %s", doing, n, short(cause))
	parkedBefore := p.GatewayRetries >= maxAttempts(pr)
	switch {
	case p.refundToMake():
		if !parkedBefore {
			if err := pr.park(ctx, DeadLetter{EventID: ParkRefundNotMade + ":" + p.ID, Kind: ParkRefundNotMade, PaymentID: p.ID,
				Reason: fmt.Sprintf("%s; the payment stays PENDING and the refund is tried again every %s until Razorpay answers or sends refund.processed or refund.failed", why, pr.longestWait()),
				Result: GatewayResult{Event: "refund", OrderID: p.Razorpay.OrderID, GatewayPaymentID: p.Razorpay.GatewayPaymentID, PaymentID: p.ID, Amount: p.Refund.Amount, Currency: p.Currency}}); err != nil {
				return err
			}
		}
		_, err := pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Status != Pending || !q.refundToMake() || q.GatewayRetries != p.GatewayRetries {
				return false
			}
			q.GatewayRetries, q.RetryAt = n, pr.Now().Add(pr.longestWait())
			if q.Refund.Status != RefundNotMade {
				q.Refund.Status, q.Refund.Error = RefundNotMade, why
				q.note(pr.Now(), why+"; parked, and tried again every "+pr.longestWait().String())
			}
			return true
		})
		return err
	case p.LateCaptureOf != "":
		return pr.failAndPark(ctx, p, ReasonCaptureUnconfirmed, nil, ParkCaptureUnknown, why)
	default:
		longest := pr.longestWait()
		updated, err := pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Status != Pending {
				return false
			}
			q.GatewayRetries, q.RetryAt = n, pr.Now().Add(longest)
			if !parkedBefore {
				q.note(pr.Now(), why+"; parked, and asked again every "+longest.String())
			}
			return true
		})
		if err != nil || updated.Status != Pending || parkedBefore {
			return err
		}
		order := ""
		if p.Razorpay != nil {
			order = p.Razorpay.OrderID
		}
		return pr.park(ctx, DeadLetter{EventID: ParkReconcileStuck + ":" + p.ID, Kind: ParkReconcileStuck, PaymentID: p.ID, Reason: why,
			Result: GatewayResult{Event: "reconciliation", OrderID: order, PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency}})
	}
}

func maxAttempts(pr *Processor) int {
	if pr.Retry.MaxAttempts != nil {
		return pr.Retry.MaxAttempts()
	}
	return 12
}

// short cuts an error to one log-friendly line.
func short(err error) string {
	s := err.Error()
	if len(s) > 240 {
		s = s[:240] + "..."
	}
	return s
}

// ReconcileConfig tunes reconciliation; read on every round.
type ReconcileConfig struct {
	Interval      func() time.Duration
	Changed       func() <-chan struct{} // closed when a setting changes (settings.Settings.Changed): Interval is read again; nil: read once per round
	After         func() time.Duration   // PENDING at least this long before the gateway is asked
	OrderLifetime func() time.Duration   // unpaid for this long: FAILED, EXPIRED
}

// Reconcile does, every Interval until ctx is done, the gateway work of
// Razorpay payments that stayed PENDING for After: asking Razorpay about
// an order whose result never came and settling it exactly as the webhook
// would have, and retrying refunds and confirmations that are due.
func (pr *Processor) Reconcile(ctx context.Context, cfg ReconcileConfig) {
	for waitInterval(ctx, cfg.Interval, cfg.Changed) {
		if err := pr.ReconcileOnce(ctx, cfg); err != nil && ctx.Err() == nil {
			pr.Log.WarnContext(ctx, "reconciliation round failed", "err", err.Error())
		}
	}
}

// ReconcileOnce runs one round of reconciliation, Concurrency payments at a
// time, and returns when it is done.
func (pr *Processor) ReconcileOnce(ctx context.Context, cfg ReconcileConfig) error {
	pending, err := pr.Store.Pending(ctx)
	if err != nil {
		return err
	}
	now := pr.Now()
	tokens := pr.workTokens()
	var wg sync.WaitGroup
	for pid, indexed := range pending {
		// A payment whose work runs (a Kick's) is left to the next round:
		// a Kick's run does all but ask about the order, and the payment
		// stays in the pending index.
		if now.Sub(indexed) < cfg.After() || !pr.work.claim(pid, false) {
			continue
		}
		wg.Add(1)
		tokens <- struct{}{}
		go func(pid string) {
			defer wg.Done()
			err := pr.gatewayWork(ctx, pid, &cfg)
			<-tokens
			if err != nil && ctx.Err() == nil {
				pr.Log.WarnContext(ctx, "reconciling a payment", "payment_id", pid, "err", err.Error())
			}
			switch {
			case ctx.Err() != nil:
				pr.work.release(pid)
			case pr.work.finish(pid):
				// A Kick came during this run, after it read the
				// payment: the Kick's run, now.
				go pr.kicked(pid)
			}
		}(pid)
	}
	wg.Wait()
	return pr.WatchOrders(ctx)
}

// WatchPolicy is the watch of orders' timing (WatchOrders): Window is how
// long after a Razorpay payment was created its order is watched
// (Razorpay's late authorisations, a payment the bank confirms after it was
// reported failed, come within hours; default 24 h), First when a new
// order is first looked at and the shortest time between two looks
// (default a minute). Nil funcs take the defaults.
type WatchPolicy struct {
	Window, First func() time.Duration
}

func (w WatchPolicy) window() time.Duration {
	if w.Window == nil {
		return 24 * time.Hour
	}
	return w.Window()
}

func (w WatchPolicy) first() time.Duration {
	if w.First == nil {
		return time.Minute
	}
	return w.First()
}

// every is how long after a look at an order, elapsed after its payment
// was created, the next look comes: a quarter of the time elapsed, from
// First to an hour (about 40 looks in a day at the defaults).
func (w WatchPolicy) every(elapsed time.Duration) time.Duration {
	return min(max(elapsed/4, w.first()), max(time.Hour, w.first()))
}

// WatchOrders looks again at the Razorpay orders of payments that ended
// FAILED (a failed attempt, the order expired, Razorpay refused it) within
// the watch window of their creation (WatchPolicy), for a capture no webhook reported (the
// webhooks lost, or given up by Razorpay): each one found is applied
// exactly as its webhook would have been (ApplyResult: a payment of its
// own that pays the bill or credits the top-up if it still can, or is
// refunded). A PENDING payment's order is the pending reconciliation's;
// a SUCCESS payment is taken off the watch (a second capture on its order
// is reported by webhook only). Each look is claimed by compare-and-swap
// on the watch, so instances do not repeat it, and the looks thin out
// (WatchPolicy.every). Source of the rule: issue 15 (lost webhooks behave for
// top-ups as for bills) and the late-capture faults of issue 12.
func (pr *Processor) WatchOrders(ctx context.Context) error {
	watched, err := pr.Store.Watched(ctx)
	if err != nil {
		return err
	}
	now := pr.Now()
	for pid, next := range watched {
		if now.Before(next) {
			continue
		}
		if err := pr.watchOrder(ctx, pid, next, now); err != nil && ctx.Err() == nil {
			pr.Log.WarnContext(ctx, "watching a Razorpay order", "payment_id", pid, "err", err.Error())
		}
	}
	return nil
}

// watchOrder is one look of WatchOrders at payment pid's order, due since
// next.
func (pr *Processor) watchOrder(ctx context.Context, pid string, next, now time.Time) error {
	p, err := pr.Store.Get(ctx, pid)
	switch {
	case errors.Is(err, ErrPaymentNotFound):
		return pr.Store.Unwatch(ctx, pid)
	case err != nil:
		return err
	case p.Status == Success || p.Method != MethodRazorpay || p.LateCaptureOf != "" || now.Sub(p.CreatedAt) > pr.Watch.window():
		return pr.Store.Unwatch(ctx, pid)
	}
	ok, err := pr.Store.ClaimWatch(ctx, pid, next, now.Add(pr.Watch.every(now.Sub(p.CreatedAt))))
	if err == nil && ok && p.needsDriving() {
		// A capture heard by webhook and not yet confirmed (or settled):
		// the process that heard it stopped, or Razorpay did not answer.
		pr.Kick(pid)
		return nil
	}
	if err != nil || !ok || p.Status == Pending || p.Razorpay == nil {
		return err // PENDING: the pending reconciliation asks; no order: nothing to ask about yet
	}
	attempts, err := pr.orderPayments(ctx, p.Razorpay.OrderID)
	if err != nil {
		return fmt.Errorf("asking about order %s: %w (asked again later)", p.Razorpay.OrderID, err)
	}
	for _, a := range attempts {
		if a.Status != "captured" || a.ID == p.Razorpay.GatewayPaymentID {
			continue
		}
		// A capture known already (its webhook came, and a payment
		// stands for it) is no news: only one nothing reported is.
		if _, err := pr.Store.Get(ctx, lateCaptureID(p, a.ID)); err == nil {
			continue
		} else if !errors.Is(err, ErrPaymentNotFound) {
			return err
		}
		pr.reconciledAction("watched")
		pr.Log.WarnContext(ctx, "a capture no webhook reported, on the order of a payment that ended", "payment_id", p.ID, "status", p.Status,
			"order_id", p.Razorpay.OrderID, "gateway_payment_id", a.ID)
		if _, _, err := pr.ApplyResult(ctx, pr.reconciled(p, a, contract.ResultCaptured)); err != nil {
			return err
		}
	}
	return nil
}

// reconcile asks Razorpay about a pending payment's order and settles what
// it finds exactly as the webhook would have: the order's captured
// attempt, or its failed one; an order never paid expires.
func (pr *Processor) reconcile(ctx context.Context, p Payment, now time.Time, cfg ReconcileConfig) error {
	if p.captureRecorded() {
		// A capture recorded and not settled: the instance settling it
		// stopped half way, and its result is not delivered again (or not
		// yet). It was verified; settling it is idempotent.
		pr.reconciledAction("resumed")
		return pr.settleCapture(ctx, p, p.Razorpay.GatewayPaymentID, "reconciliation")
	}
	expired := now.Sub(p.CreatedAt) > cfg.OrderLifetime()
	if p.Razorpay == nil {
		if expired {
			pr.reconciledAction("expired")
			return pr.endOrder(ctx, p.ID, ReasonExpired, "", nil) // an error is retried next round
		}
		return nil
	}
	op := "to list the payments of order " + p.Razorpay.OrderID
	attempts, err := pr.orderPayments(ctx, p.Razorpay.OrderID)
	if g, ok := pr.refusal(op, err); ok {
		pr.reconciledAction("refused")
		return pr.failAndPark(ctx, p, ReasonGatewayRefused, g, ParkOrderRefused,
			fmt.Sprintf("Razorpay refused to tell about order %s of payment %s: %s", p.Razorpay.OrderID, p.ID, g.String()))
	}
	if err != nil {
		return pr.retryLater(ctx, p, "asking about order "+p.Razorpay.OrderID, err)
	}
	var failed *GatewayPayment
	for i, a := range attempts {
		switch {
		case a.Status == "captured" && slices.Contains(p.Disowned, a.ID) && !capturesOrder(a, p):
			continue // Razorpay said it is not this order's capture for this amount, and its list agrees; parked then
		case a.Status == "captured":
			// Razorpay's own list of the order's payments: a confirmed
			// answer, as GET /v1/payments/{id} would give. It is taken
			// over an earlier answer that disowned the capture: one wrong
			// answer must not strand captured money, left neither settled
			// nor refunded while the order expires (the outside tester's
			// report: a bill then paid twice).
			pr.reconciledAction("captured")
			return pr.decideCapture(ctx, p, a.ID, a, "reconciliation: listed captured by Razorpay")
		case a.Status == "refunded":
			// Captured, then refunded at Razorpay before FinFlow heard of
			// it: the money went back, nothing pays the bill.
			pr.reconciledAction("refunded")
			return pr.endOrder(ctx, p.ID, ReasonRefundedAtGateway, a.ID, func(q *Payment, failing bool) bool {
				if failing {
					q.Razorpay.GatewayPaymentID = a.ID
					q.note(pr.Now(), "reconciliation: Razorpay reports "+a.ID+" captured and refunded already")
				}
				return false
			})
		case a.Status == "failed":
			failed = &attempts[i]
		}
	}
	if failed != nil {
		pr.reconciledAction("failed")
		_, _, err := pr.ApplyResult(ctx, pr.reconciled(p, *failed, contract.ResultFailed))
		return err
	}
	if expired {
		pr.reconciledAction("expired")
		return pr.endOrder(ctx, p.ID, ReasonExpired, "", nil) // an error is retried next round
	}
	return nil
}

// listedCapture is gw as Razorpay's list of p's order's payments describes
// it, when that list has it captured on the order for p's amount and
// currency; nil when it does not, or Razorpay refuses to list them. An
// error is no answer (ask again later).
func (pr *Processor) listedCapture(ctx context.Context, p Payment, gw string) (*GatewayPayment, error) {
	attempts, err := pr.orderPayments(ctx, p.Razorpay.OrderID)
	if _, refused := pr.refusal("to list the payments of order "+p.Razorpay.OrderID, err); refused {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, a := range attempts {
		if a.ID == gw && a.Status == "captured" && capturesOrder(a, p) {
			return &a, nil
		}
	}
	return nil, nil
}

// capturesOrder reports whether a, from Razorpay's list of p's order's
// payments, describes a capture of that order for p's amount and currency.
func capturesOrder(a GatewayPayment, p Payment) bool {
	mismatch, _, _ := describes(a, a.ID, p.Razorpay.OrderID, p.Amount, p.Currency)
	return mismatch == ""
}

// orderPayments asks Razorpay for the payments (attempts) of an order,
// within one step's timeout. An attempt that names no order is the
// order's: the list is of that order's payments.
func (pr *Processor) orderPayments(ctx context.Context, orderID string) ([]GatewayPayment, error) {
	var attempts []GatewayPayment
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		attempts, err = pr.Gateway.OrderPayments(ctx, orderID)
		return err
	})
	for i := range attempts {
		if attempts[i].OrderID == "" {
			attempts[i].OrderID = orderID
		}
	}
	return attempts, err
}

func (pr *Processor) reconciledAction(action string) {
	if pr.OnReconcile != nil {
		pr.OnReconcile(action)
	}
}

func (pr *Processor) reconciled(p Payment, a GatewayPayment, status string) GatewayResult {
	return GatewayResult{EventID: "recon:" + a.ID, Event: "reconciliation", Status: status, OrderID: p.Razorpay.OrderID,
		GatewayPaymentID: a.ID, PaymentID: p.ID, Amount: a.Amount, Currency: a.Currency,
		ErrorCode: a.ErrorCode, ErrorDescription: a.ErrorDescription, At: pr.Now().UTC()}
}
