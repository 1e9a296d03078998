package domain

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/finflow/finflow/platform/contract"
)

// Confirming captures. A webhook is trusted for its signature only: the
// signature proves the body was made with the webhook secret, not that
// Razorpay holds the money it names. So a capture moves money (a payment
// SUCCESS, a bill PAID, a top-up credited, a late payment, a refund owed)
// only once Razorpay's own API has described that very gateway payment as
// captured, on the payment's order, for its amount and currency: GET
// /v1/payments/{id} through the razorpay service (confirmCapture, and
// confirmLateCapture for late captures), or the order's payments list
// reconciliation reads (GET /v1/orders/{id}/payments). The binding of a
// capture to its order (Store.BindCapture) is made from that answer, never
// from a webhook.
//
// The subscriber does not wait for it (ApplyResult): it records the capture
// on the payment as unconfirmed and hands it to the gateway work (Kick),
// which asks Razorpay and settles. So a capture costs one Razorpay call
// more than the webhook alone, and the client sees the payment PENDING
// until that call has been answered (about 12 ms more with the simulator
// on one host, docs/correctness.md; Razorpay's own API latency for one
// fetch in production). Should the call
// get no answer (408, 429, 5xx, a timeout, the razorpay service down), the
// confirmation is retried with the gateway work's backoff, in this process
// (kickLater) and from reconciliation and the watch of orders, which also
// pick it up after a crash; after every try it is parked (reconcile_stuck)
// and still asked every RetryPolicy.Max. Nothing is failed meanwhile: a
// payment with an unconfirmed capture cannot be ended by news that no
// capture came (captureHeard).

// awaitConfirmation records capture gw, reported by a verified result on
// p's order, on p (its order's own PENDING payment with no capture
// recorded) as unconfirmed, starts the gateway work that confirms it, and
// puts p on the watch of orders for a look once a try's lease has run out
// (so that the confirmation is resumed if this process stops before it
// ends; the webhook is acknowledged by then).
func (pr *Processor) awaitConfirmation(ctx context.Context, p Payment, gw, event string) error {
	q, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		if slices.Contains(q.Unconfirmed, gw) || len(q.Unconfirmed) >= MaxUnconfirmed {
			return false
		}
		q.Unconfirmed = append(q.Unconfirmed, gw)
		// A new capture is asked about at once, not after the backoff
		// of an earlier question about the order.
		q.GatewayRetries, q.RetryAt = 0, time.Time{}
		q.note(pr.Now(), fmt.Sprintf("gateway %s: %s reported captured; to be confirmed with Razorpay before it settles anything", event, gw))
		return true
	})
	if err != nil {
		return err
	}
	pr.Kick(p.ID)
	if q.Status == Pending && slices.Contains(q.Unconfirmed, gw) {
		return pr.Store.Watch(ctx, p.ID, pr.Now().Add(pr.lease()))
	}
	return nil
}

// lease is how long a claimed try of a payment's gateway work may take
// before another instance may make it (claimTry).
func (pr *Processor) lease() time.Duration { return 2*pr.StepTimeout() + time.Second }

// confirmCaptures asks Razorpay about p's unconfirmed captures, one after
// the other, and settles or parks each as confirmCapture does; it stops at
// the first that Razorpay does not answer (retried later). Once p is not
// its order's PENDING payment without a capture any more (one of them
// settled it, or it ended), the captures left are late captures of its
// order: each becomes a payment of its own (lateCapture), confirmed the
// same way before it settles anything.
func (pr *Processor) confirmCaptures(ctx context.Context, p Payment) error {
	for len(p.Unconfirmed) > 0 {
		gw := p.Unconfirmed[0]
		var err error
		if p.Status == Pending && p.Razorpay.GatewayPaymentID == "" {
			err = pr.confirmCapture(ctx, p, gw)
		} else {
			err = pr.handOver(ctx, p, gw)
		}
		if err != nil {
			return err
		}
		q, err := pr.Store.Get(ctx, p.ID)
		if err != nil {
			return err
		}
		if slices.Contains(q.Unconfirmed, gw) {
			return nil // not answered: a retry is recorded
		}
		p = q
	}
	return nil
}

// confirmCapture asks Razorpay about gateway payment gw, reported captured
// on the order of p (PENDING, no capture recorded), and acts on the answer:
//
//   - captured on p's order, for p's amount and currency: it is bound to
//     the order (bindConfirmed) and settled (captureOrder): SUCCESS and the
//     bill PAID, or the top-up credited, or a refund owed;
//   - fully refunded already (from Razorpay's dashboard): p ends FAILED
//     REFUNDED_AT_GATEWAY, as reconciliation ends it;
//   - Razorpay's definite refusal ("The id provided does not exist"):
//     parked once as capture_unconfirmed, nothing settled;
//   - another order, amount or currency: parked once as capture_mismatch,
//     remembered (Payment.Disowned), nothing settled; not captured (only
//     authorized, failed): parked once as capture_mismatch, nothing
//     settled (its capture, if it comes, is reported again);
//   - no answer: retried later (retryLater), never parked before every try.
//
// A capture taken off p this way leaves p PENDING, to be ended by
// reconciliation as it would have been without it.
func (pr *Processor) confirmCapture(ctx context.Context, p Payment, gw string) error {
	order := p.Razorpay.OrderID
	gp, err := pr.fetchPayment(ctx, gw)
	if g, ok := pr.refusal("to confirm the capture "+gw, err); ok {
		return pr.dropCapture(ctx, p, gw, false, ParkCaptureUnknown,
			fmt.Sprintf("a capture %s was reported for order %s of payment %s, but Razorpay does not confirm it: %s; nothing was settled with it", gw, order, p.ID, g.String()))
	}
	if err != nil {
		return pr.retryLater(ctx, p, "confirming the capture "+gw, err)
	}
	if mismatch, permanent, _ := describes(gp, gw, order, p.Amount, p.Currency); mismatch != "" && permanent {
		// Before a capture is disowned, Razorpay's list of the order's
		// payments is asked too: one wrong answer must not strand captured
		// money. A capture it lists on the order for the amount is settled
		// as listed. Without an answer the capture is disowned on the one
		// answer, and reconciliation, listing the order's payments,
		// overrules that if the list has it.
		if listed, err := pr.listedCapture(ctx, p, gw); err == nil && listed != nil {
			return pr.decideCapture(ctx, p, gw, *listed, "listed captured by Razorpay (its answer about the payment said "+mismatch+")")
		}
	}
	return pr.decideCapture(ctx, p, gw, gp, "confirmed by Razorpay")
}

// decideCapture acts on gp, Razorpay's own description of gateway payment
// gw (from GET /v1/payments/{id}, or the order's payments list), reported
// captured on the order of p (PENDING, no capture recorded), as
// confirmCapture says. how names where the description comes from.
func (pr *Processor) decideCapture(ctx context.Context, p Payment, gw string, gp GatewayPayment, how string) error {
	order := p.Razorpay.OrderID
	mismatch, permanent, refunded := describes(gp, gw, order, p.Amount, p.Currency)
	switch {
	case refunded:
		final, err := pr.update(ctx, p.ID, func(q *Payment) bool {
			q.unconfirm(gw)
			if q.Status != Pending || q.Razorpay.GatewayPaymentID != "" {
				return true
			}
			q.Razorpay.GatewayPaymentID = gw
			q.note(pr.Now(), "Razorpay reports "+gw+" captured and fully refunded already (from its dashboard): nothing to settle")
			return q.fail(ReasonRefundedAtGateway, pr.Now())
		})
		if err == nil && final.Status == Failed && final.Razorpay.GatewayPaymentID == gw {
			pr.releaseClaim(ctx, final)
			pr.Log.InfoContext(ctx, "payment failed", "payment_id", p.ID, "reason", ReasonRefundedAtGateway, "gateway_payment_id", gw)
		}
		return err
	case mismatch != "":
		return pr.dropCapture(ctx, p, gw, permanent, ParkCaptureMismatch,
			fmt.Sprintf("a capture %s was reported for order %s of payment %s, but Razorpay says %s; nothing was settled with it", gw, order, p.ID, mismatch))
	}
	if err := pr.bindConfirmed(ctx, p.ID, gp); err != nil {
		return err
	}
	r := GatewayResult{Event: how, Status: contract.ResultCaptured, OrderID: order, GatewayPaymentID: gw, PaymentID: p.ID, Amount: gp.Amount, Currency: gp.Currency}
	if err := pr.captureOrder(ctx, p, r); err != nil {
		return err
	}
	if err := pr.forgetUnconfirmed(ctx, p.ID, gw); err != nil {
		return err
	}
	// A bill paid by another payment meanwhile owes the capture back: made
	// now, by this work (its own Kick would find it in flight).
	return pr.refundOwedNow(ctx, p.ID)
}

// fetchPayment asks Razorpay for gateway payment gw (GET
// /v1/payments/{id} through the razorpay service), within one step's
// timeout.
func (pr *Processor) fetchPayment(ctx context.Context, gw string) (GatewayPayment, error) {
	var gp GatewayPayment
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		gp, err = pr.Gateway.Payment(ctx, gw)
		return err
	})
	return gp, err
}

// describes says how Razorpay's description gp of gateway payment gw
// differs from a capture of order for amount and currency ("" when it
// is one), whether that difference can never change (another payment,
// order, amount or currency), and whether gp is such a capture fully
// refunded already.
func describes(gp GatewayPayment, gw, order string, amount int64, currency string) (mismatch string, permanent, refunded bool) {
	switch {
	case gp.ID != gw:
		return "Razorpay answered about " + gp.ID, false, false
	case gp.OrderID != order:
		return fmt.Sprintf("it belongs to order %q, not %s", gp.OrderID, order), true, false
	case gp.Amount != amount || gp.Currency != currency:
		return fmt.Sprintf("it is %d %s, not %d %s", gp.Amount, gp.Currency, amount, currency), true, false
	case gp.Status == "refunded" && gp.AmountRefunded >= gp.Amount:
		return "", false, true
	case gp.Status != "captured" || gp.AmountRefunded != 0:
		return fmt.Sprintf("its status is %s with %d refunded, not captured", gp.Status, gp.AmountRefunded), false, false
	}
	return "", false, false
}

// bindConfirmed binds capture gp, confirmed by Razorpay's API, to the order
// Razorpay names (Store.BindCapture; first binding wins). A binding to
// another order cannot come from a confirmed capture (Razorpay names one
// order for a gateway payment); it is one made from a webhook alone before
// captures were confirmed, such as a forged, correctly signed capture
// naming this gateway payment on another order. Razorpay's API is
// trusted over it: the capture is settled on the order Razorpay names, and
// one dead letter (capture_mismatch, keyed by the gateway payment) names
// both orders, for an operator to check what the other order's payment
// settled with it. Source of the rule: the outside tester's report of a
// payment left PENDING for ever by a capture bound to another order.
func (pr *Processor) bindConfirmed(ctx context.Context, paymentID string, gp GatewayPayment) error {
	held, err := pr.Store.BindCapture(ctx, gp.ID, gp.OrderID)
	if err != nil || held == gp.OrderID {
		return err
	}
	return pr.park(ctx, DeadLetter{EventID: ParkCaptureMismatch + ":bound:" + gp.ID, Kind: ParkCaptureMismatch, PaymentID: paymentID,
		Reason: fmt.Sprintf("Razorpay confirms capture %s on order %s (payment %s), but it was bound to order %s from a webhook alone, before captures were confirmed: "+
			"it is settled on order %s as Razorpay says; check what the payment of order %s settled with it", gp.ID, gp.OrderID, paymentID, held, gp.OrderID, held),
		Result: GatewayResult{Event: "capture_binding", Status: gp.Status, OrderID: gp.OrderID, GatewayPaymentID: gp.ID, PaymentID: paymentID,
			Amount: gp.Amount, Currency: gp.Currency, At: pr.Now().UTC()}})
}

// dropCapture takes capture gw off p's unconfirmed captures (and, when
// permanent, remembers Razorpay disowned it: Payment.Disowned), with why
// in p's history, and parks it (kind, why) if this call is the one that
// took it off or first remembered it: one dead letter per capture and
// payment. Nothing is settled; p stays as it is.
func (pr *Processor) dropCapture(ctx context.Context, p Payment, gw string, permanent bool, kind, why string) error {
	dropped := false
	_, err := pr.update(ctx, p.ID, func(q *Payment) bool {
		dropped = q.unconfirm(gw)
		if permanent && !slices.Contains(q.Disowned, gw) && len(q.Disowned) < MaxUnconfirmed {
			q.Disowned = append(q.Disowned, gw)
			dropped = true
		}
		if dropped {
			q.GatewayRetries, q.RetryAt = 0, time.Time{}
			q.note(pr.Now(), why)
		}
		return dropped
	})
	if err != nil || !dropped {
		return err
	}
	return pr.park(ctx, DeadLetter{EventID: captureLetterID(kind, gw, p.ID), Kind: kind, PaymentID: p.ID, Reason: why,
		Result: GatewayResult{Event: kind, OrderID: p.Razorpay.OrderID, GatewayPaymentID: gw, PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency, At: pr.Now().UTC()}})
}

// captureLetterID is the id of the one dead letter of kind that capture gw
// of payment paymentID is parked with (dropCapture).
func captureLetterID(kind, gw, paymentID string) string { return kind + ":" + gw + ":" + paymentID }

// forgetUnconfirmed takes capture gw off payment id's unconfirmed captures,
// once it is settled or handed over, and restarts the count of tries.
func (pr *Processor) forgetUnconfirmed(ctx context.Context, id, gw string) error {
	_, err := pr.update(ctx, id, func(q *Payment) bool {
		if !q.unconfirm(gw) {
			return false
		}
		q.GatewayRetries, q.RetryAt = 0, time.Time{}
		return true
	})
	return err
}

// handOver makes capture gw, unconfirmed on p, which is no longer its
// order's PENDING payment without a capture, a late capture of p's order
// (a payment of its own, confirmed before it settles anything), then
// takes it off p.
func (pr *Processor) handOver(ctx context.Context, p Payment, gw string) error {
	if gw != p.Razorpay.GatewayPaymentID {
		r := GatewayResult{Event: "unconfirmed capture", Status: contract.ResultCaptured, OrderID: p.Razorpay.OrderID,
			GatewayPaymentID: gw, PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency}
		if err := pr.lateCapture(ctx, p, r); err != nil {
			return err
		}
	}
	return pr.forgetUnconfirmed(ctx, p.ID, gw)
}

// unconfirm takes capture gw off p's unconfirmed captures, and reports
// whether it was there.
func (p *Payment) unconfirm(gw string) bool {
	n := len(p.Unconfirmed)
	p.Unconfirmed = slices.DeleteFunc(p.Unconfirmed, func(u string) bool { return u == gw })
	return len(p.Unconfirmed) < n
}

// needsDriving reports whether p's gateway work is the confirmation or the
// settling of a capture of its own order, which this process retries by
// itself (kickLater) after a try that did not end it, besides
// reconciliation.
func (p Payment) needsDriving() bool {
	return p.Method == MethodRazorpay && p.LateCaptureOf == "" && !p.refundToMake() &&
		(len(p.Unconfirmed) > 0 || p.Status == Pending && p.captureRecorded() && p.Refund == nil)
}
