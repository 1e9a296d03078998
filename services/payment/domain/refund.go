package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/text"
)

// RefundRequest is an admin's request to refund a SUCCESS payment: Amount
// in paise (nil: what is left to refund), Reason required.
// IdempotencyToken, when the request carried an Idempotency-Key, is the
// gateway's token of it.
type RefundRequest struct {
	PaymentID        string
	Amount           *money.Amount
	Reason           string
	IdempotencyToken string
}

// MaxRefundReasonLen bounds a refund's reason.
const MaxRefundReasonLen = 200

// MaxRefunds is the most refunds one payment can have that did not fail
// (PENDING or SUCCESS), and MaxRefundRecords the most it keeps in all,
// FAILED ones included: they are kept in the payment's record, which every
// refund and every event about the payment reads and writes whole, so it
// is bounded. FAILED refunds count only towards the second bound, so
// refunds Razorpay refused cannot use up a payment's refunds while nothing
// was refunded. A request for one more is ErrTooManyRefunds (422
// REFUND_LIMIT_REACHED).
const (
	MaxRefunds       = 100
	MaxRefundRecords = 2 * MaxRefunds
)

// MinRazorpayAmount is the least Razorpay takes in one order, payment or
// refund: ₹1.00 in paise (Razorpay's orders API: "The minimum is 100";
// its refund rules: "The minimum is INR 1.00"). A Razorpay payment of a
// bill for less is ErrBelowRazorpayMinimum and a top-up of less is 400 on
// amount, both before anything is recorded or asked (Razorpay would refuse
// the order, and the attempt would be left FAILED for nothing).
const MinRazorpayAmount = 100

// MinRazorpayRefund is Razorpay's smallest refund, MinRazorpayAmount. A refund of a
// Razorpay payment for less, or one that would leave less than this (but
// more than nothing) to refund, is refused before anything is asked
// (ErrRefundBelowMinimum): Razorpay would refuse the first, and the rest
// the second leaves could never be refunded, so the bill could never
// become REFUNDED. A wallet payment's refunds have no minimum.
const MinRazorpayRefund = MinRazorpayAmount

// RefundClaim binds the refund id a keyed refund request derives from its
// Idempotency-Key to the one payment and the one request it was asked for.
type RefundClaim struct {
	PaymentID string `json:"payment_id"`
	// Request is the amount asked ("rest" when none was) and the reason.
	Request string `json:"request"`
}

// RequestRefund refunds a SUCCESS payment, in part or whole, on an admin's
// request. The refund is recorded PENDING on the payment by compare-and-swap
// only if the payment's refunds, FAILED ones aside, stay within its amount
// (so racing refunds never exceed it), then made: a wallet payment's money
// goes back into the wallet at once (ledger reference: the refund id) and
// the refund is SUCCESS; a Razorpay payment's goes back through Razorpay's
// refund API with the refund id as its idempotency key, and the refund is
// SUCCESS when Razorpay says it is processed (its answer, refund.processed,
// or reconciliation), FAILED on a refusal or refund.failed. A keyed request
// derives the refund id, bound to this payment and this request (amount as
// asked, reason) before anything is recorded, so a retry returns the same
// refund and the same key for another refund is ErrRefundKeyReused. When
// the whole amount is refunded, the bill is marked REFUNDED. The payment
// stays SUCCESS. A request refused changes nothing (the payment is read
// before it is tracked).
//
// Returns VALIDATION_FAILED, auth errors, ErrPaymentNotFound,
// ErrNotRefundable (the payment is not SUCCESS), ErrRefundExceeds,
// ErrTooManyRefunds (MaxRefunds made already), ErrRefundBelowMinimum (a
// Razorpay refund under ₹1.00, or leaving less), ErrRefundKeyReused.
func (pr *Processor) RequestRefund(ctx context.Context, caller auth.Caller, req RefundRequest) (RefundRecord, Payment, error) {
	if err := caller.Admin(); err != nil {
		return RefundRecord{}, Payment{}, err
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return RefundRecord{}, Payment{}, ErrPaymentNotFound
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxRefundReasonLen {
		return RefundRecord{}, Payment{}, apperr.Invalid("reason", "reason is required: text of at most %d characters", MaxRefundReasonLen)
	}
	if problem := text.Problem(reason); problem != "" {
		return RefundRecord{}, Payment{}, apperr.Invalid("reason", "reason %s", problem)
	}
	if req.Amount != nil {
		if err := req.Amount.Validate(); err != nil {
			return RefundRecord{}, Payment{}, err
		}
	}
	refundID := id.New(id.Refund)
	if req.IdempotencyToken != "" {
		refundID = id.Derive(id.Refund, req.IdempotencyToken)
	}
	// Read first: a request refused (no such payment, not refundable, too
	// much) changes nothing, not even the pending index.
	p, err := pr.Store.Get(ctx, req.PaymentID)
	if err != nil {
		return RefundRecord{}, Payment{}, err
	}
	if _, refusal := refundDecision(&p, refundID, req.Amount, reason); refusal != nil {
		return RefundRecord{}, p, refusal
	}
	if req.IdempotencyToken != "" {
		if err := pr.bindRefundID(ctx, refundID, RefundClaim{PaymentID: p.ID, Request: refundAsked(req.Amount, reason)}); err != nil {
			return RefundRecord{}, p, err
		}
	}
	// Tracked before the refund is recorded: a refund recorded but not yet
	// made is driven by reconciliation even if this process stops right
	// after.
	if err := pr.Store.Track(ctx, p.ID); err != nil {
		return RefundRecord{}, Payment{}, err
	}
	pr.settled.remove([]string{p.ID})
	var refusal error
	p, err = pr.update(ctx, p.ID, func(q *Payment) bool {
		var found bool
		found, refusal = refundDecision(q, refundID, req.Amount, reason)
		if found || refusal != nil {
			return false // a retry (the refund already asked for), or refused
		}
		left := q.Amount - q.Reserved()
		amount := left
		if req.Amount != nil {
			amount = req.Amount.Paise()
		}
		now := pr.Now().UTC().Truncate(timeMillis)
		q.Refunds = append(q.Refunds, RefundRecord{ID: refundID, Amount: amount, Reason: reason, Status: Pending, CreatedAt: now, UpdatedAt: now})
		q.note(pr.Now(), fmt.Sprintf("refund %s of %d asked: %s", refundID, amount, reason))
		return true
	})
	if err != nil {
		return RefundRecord{}, Payment{}, err
	}
	if refusal != nil {
		return RefundRecord{}, p, refusal
	}
	if err := pr.makeRefundOf(ctx, p, refundID); err != nil {
		pr.Log.WarnContext(ctx, "refund not made yet; reconciliation goes on", "payment_id", p.ID, "refund_id", refundID, "err", err.Error())
	}
	p, err = pr.Store.Get(ctx, p.ID)
	if err != nil {
		return RefundRecord{}, Payment{}, err
	}
	for _, r := range p.Refunds {
		if r.ID == refundID {
			return r, p, nil
		}
	}
	return RefundRecord{}, p, fmt.Errorf("refund %s of %s vanished", refundID, p.ID)
}

// refundDecision decides a refund request on payment q: found when q has
// the refund refundID already (a retry of the same request; the same id
// asked with another amount or reason is ErrRefundKeyReused), else the
// refusal of a new refund, if it is refused.
func refundDecision(q *Payment, refundID string, amount *money.Amount, reason string) (found bool, refusal error) {
	for _, r := range q.Refunds {
		if r.ID == refundID {
			if r.Reason != reason || (amount != nil && amount.Paise() != r.Amount) {
				return true, ErrRefundKeyReused
			}
			return true, nil
		}
	}
	if q.Status != Success || q.Purpose != PurposeBill {
		msg := fmt.Sprintf("payment %s is %s: only a SUCCESS payment can be refunded", q.ID, q.Status)
		if q.Purpose != PurposeBill {
			msg = fmt.Sprintf("%s is a wallet top-up: only a bill's payment can be refunded", q.ID)
		}
		return false, ErrNotRefundable.With(msg, map[string]any{DetailPayment: q.ID, "status": string(q.Status)})
	}
	left := q.Amount - q.Reserved()
	asked := left
	if amount != nil {
		asked = amount.Paise()
	}
	if left <= 0 || asked > left {
		msg := fmt.Sprintf("payment %s has %d of %d paise left to refund; %d asked", q.ID, left, q.Amount, asked)
		if left <= 0 {
			msg = fmt.Sprintf("payment %s is refunded in full already (%d paise, or asked for): nothing is left to refund", q.ID, q.Amount)
		}
		return false, ErrRefundExceeds.With(msg, map[string]any{DetailPayment: q.ID, "amount_refundable": max(left, 0)})
	}
	if q.Method == MethodRazorpay {
		if asked < MinRazorpayRefund {
			return false, ErrRefundBelowMinimum.With(fmt.Sprintf("a refund through Razorpay is at least %d paise (₹1.00); %d asked", MinRazorpayRefund, asked),
				map[string]any{DetailPayment: q.ID, "amount_min": MinRazorpayRefund, "amount_refundable": left})
		}
		if rest := left - asked; rest > 0 && rest < MinRazorpayRefund {
			return false, ErrRefundBelowMinimum.With(fmt.Sprintf("refunding %d of the %d paise left would leave %d, less than Razorpay's smallest refund (₹1.00), which could never be refunded: refund all %d, or leave at least %d",
				asked, left, rest, left, MinRazorpayRefund), map[string]any{DetailPayment: q.ID, "amount_min": MinRazorpayRefund, "amount_refundable": left})
		}
	}
	live := 0
	for _, r := range q.Refunds {
		if r.Status != Failed {
			live++
		}
	}
	if live >= MaxRefunds || len(q.Refunds) >= MaxRefundRecords {
		msg := fmt.Sprintf("payment %s has %d refunds, the most a payment can have", q.ID, live)
		if live < MaxRefunds {
			msg = fmt.Sprintf("payment %s keeps %d refunds already (%d of them FAILED), the most a payment's record keeps", q.ID, len(q.Refunds), len(q.Refunds)-live)
		}
		return false, ErrTooManyRefunds.With(msg, map[string]any{DetailPayment: q.ID, "max_refunds": MaxRefunds, "max_refund_records": MaxRefundRecords})
	}
	return false, nil
}

// refundAsked is a refund request as its key binds it: the amount asked
// ("rest" for what is left) and the reason.
func refundAsked(amount *money.Amount, reason string) string {
	asked := "rest"
	if amount != nil {
		asked = fmt.Sprint(amount.Paise())
	}
	return asked + "|" + reason
}

// bindRefundID binds a keyed refund's id to its payment and request before
// the refund is recorded anywhere. The binding is written once and only
// read after: a process stopping right after it leaves nothing that could
// refuse the retry of the same request, while the key used for another
// payment (whose refund list cannot tell) or another request is refused.
func (pr *Processor) bindRefundID(ctx context.Context, refundID string, c RefundClaim) error {
	held, err := pr.Store.ClaimRefund(ctx, refundID, c)
	if err != nil {
		return fmt.Errorf("binding refund id %s: %w", refundID, err)
	}
	if held != c {
		return ErrRefundKeyReused
	}
	return nil
}

// RefundListing is a request for a page of a payment's refunds, as the
// query gave it: Limit "" for 50 (1 to 200); Cursor "" for the newest.
type RefundListing struct {
	PaymentID string
	Limit     string
	Cursor    string
}

// RefundPage is one page of a payment's refunds, newest first, with the
// payment they are of (each refund's JSON names its payment and currency);
// Next is the cursor of the next page ("" when there is none).
type RefundPage struct {
	Payment Payment
	Items   []RefundRecord
	Next    string
}

// refundCursorKind keeps refund cursors from being used on other lists.
const refundCursorKind = "r"

// Refunds returns a page of a payment's refunds, newest first, to its
// owner or an admin, with the contract's cursor paging: the refunds are
// kept in the payment's record in the order they were asked for, so
// refund n (from 1) is at position n, and a cursor names the position
// its page reads below. One state read, whatever the page. Returns
// VALIDATION_FAILED (a bad limit, or a cursor not issued for a list of
// refunds this long: page.ErrInvalidCursor), ErrPaymentNotFound and auth
// errors.
func (pr *Processor) Refunds(ctx context.Context, caller auth.Caller, q RefundListing) (RefundPage, error) {
	// The payment and its owner first, as every route's 404 and 403 come
	// before its input's 400.
	p, err := pr.Payment(ctx, caller, q.PaymentID)
	if err != nil {
		return RefundPage{}, err
	}
	limit, err := page.Limit(q.Limit, 50, 200)
	if err != nil {
		return RefundPage{}, err
	}
	var before int64
	if q.Cursor != "" {
		if before, err = page.Decode(refundCursorKind, q.Cursor); err != nil {
			return RefundPage{}, err
		}
	}
	last := int64(len(p.Refunds))
	if before == 0 {
		before = last + 1
	} else if err := page.Within(before, last); err != nil {
		return RefundPage{}, err
	}
	out := RefundPage{Payment: p, Items: []RefundRecord{}}
	for before > 1 && len(out.Items) < limit {
		before--
		out.Items = append(out.Items, p.Refunds[before-1])
	}
	out.Next = page.Below(refundCursorKind, before)
	return out, nil
}

// makeRefundOf makes the PENDING refund refundID of p: into the wallet for
// a wallet payment, through Razorpay for a Razorpay one (razorpayRefund).
// A definite refusal fails it; no definite answer leaves it PENDING (an
// error, for the log), for reconciliation.
func (pr *Processor) makeRefundOf(ctx context.Context, p Payment, refundID string) error {
	var r RefundRecord
	for _, x := range p.Refunds {
		if x.ID == refundID {
			r = x
		}
	}
	if r.Status != Pending {
		return nil
	}
	if p.Method == MethodWallet {
		err := pr.step(ctx, func(ctx context.Context) error { return pr.Wallets.Credit(ctx, p.UserID, r.Amount, r.ID) })
		if err != nil && pr.decided("wallet", "the refund "+r.ID+" into the wallet", err, ErrWalletNotFound) {
			return pr.settleRefund(ctx, p.ID, r.ID, Failed, "", "the wallet refused it: "+apperr.From(err).Code, nil)
		}
		if err != nil {
			return err
		}
		return pr.settleRefund(ctx, p.ID, r.ID, Success, "", "", nil)
	}
	if p.Razorpay == nil || p.Razorpay.GatewayPaymentID == "" {
		return pr.settleRefund(ctx, p.ID, r.ID, Failed, "", "the payment has no captured gateway payment to refund", nil)
	}
	return pr.razorpayRefund(ctx, p, r)
}

// razorpayRefund does the gateway work of a PENDING Razorpay refund, if it
// is due: makes it at Razorpay, or, once made, asks its status. Like a
// payment's gateway work, every try is claimed first (by compare-and-swap
// on the refund, so that instances do not make the same try), a definite
// refusal ends it, and no answer is tried again after RetryPolicy's
// backoff; after MaxAttempts tries it is parked for an operator and still
// tried, every RetryPolicy.Max: parking tells an operator, it does not
// stop the work (the same key never refunds twice).
func (pr *Processor) razorpayRefund(ctx context.Context, p Payment, r RefundRecord) error {
	if r.refusedToTell() || pr.Now().Before(r.RetryAt) {
		return nil
	}
	p, r, ok, err := pr.claimRefundTry(ctx, p.ID, r)
	if err != nil || !ok {
		return err
	}
	if r.GatewayRefundID == "" {
		return pr.makeRazorpayRefund(ctx, p, r)
	}
	return pr.askRefundStatus(ctx, p, r)
}

// claimRefundTry records, by compare-and-swap, that this process makes the
// next try of refund seen's gateway work now: its RetryAt moves a lease
// ahead (as claimTry's). It returns the payment and the refund claimed, or
// false when the try was claimed, or the refund changed, meanwhile.
func (pr *Processor) claimRefundTry(ctx context.Context, paymentID string, seen RefundRecord) (Payment, RefundRecord, bool, error) {
	now := pr.Now()
	lease := now.Add(2*pr.StepTimeout() + time.Second)
	var claimed RefundRecord
	ok := false
	p, err := pr.updateRefund(ctx, paymentID, seen.ID, func(_ *Payment, x *RefundRecord) bool {
		ok = !x.refusedToTell() && !now.Before(x.RetryAt) &&
			x.GatewayRetries == seen.GatewayRetries && x.Asks == seen.Asks && x.GatewayRefundID == seen.GatewayRefundID
		if ok {
			x.RetryAt = lease
			claimed = *x
		}
		return ok
	})
	return p, claimed, ok && err == nil, err
}

// makeRazorpayRefund asks Razorpay to make refund r of p's capture, keyed
// by the refund id (so a try whose answer was lost does not refund twice).
func (pr *Processor) makeRazorpayRefund(ctx context.Context, p Payment, r RefundRecord) error {
	gw := p.Razorpay.GatewayPaymentID
	op := fmt.Sprintf("the refund %s of %d of %s", r.ID, r.Amount, gw)
	var made contract.Refund
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		made, err = pr.Gateway.Refund(ctx, contract.RefundRequest{PaymentID: p.ID, GatewayPaymentID: gw, Amount: r.Amount, Key: r.ID})
		return err
	})
	if g, ok := pr.refusal(op, err); ok {
		return pr.settleRefund(ctx, p.ID, r.ID, Failed, "", "Razorpay refused it: "+g.String(), g)
	}
	if err != nil {
		return pr.refundRetryLater(ctx, p, r, "making "+op, err)
	}
	if why := refundAnswerMismatch(p, r, made); why != "" {
		return pr.refusedRefundAnswer(ctx, p, r, made, "making "+op, why)
	}
	return pr.razorpayRefundStatus(ctx, p, r, made)
}

// askRefundStatus asks Razorpay the status of refund r, made as
// r.GatewayRefundID (reconciliation of a refund whose event never came).
// A refusal to tell (a definite answer: not asked again), or no answer
// after every try (asked again every RetryPolicy.Max), parks the refund
// (ParkRefundUnconfirmed): it stays PENDING, for Razorpay's event.
func (pr *Processor) askRefundStatus(ctx context.Context, p Payment, r RefundRecord) error {
	op := fmt.Sprintf("the status of refund %s (%s)", r.ID, r.GatewayRefundID)
	var now contract.Refund
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		now, err = pr.Gateway.RefundStatus(ctx, r.ID)
		return err
	})
	if g, ok := pr.refusal(op, err); ok {
		return pr.parkRefundWork(ctx, p, r, r.GatewayRetries, ParkRefundUnconfirmed, "UNCONFIRMED", "Razorpay refused to tell "+op+": "+g.String(), g)
	}
	if err != nil {
		return pr.refundRetryLater(ctx, p, r, "asking "+op, err)
	}
	if why := refundAnswerMismatch(p, r, now); why != "" {
		return pr.refusedRefundAnswer(ctx, p, r, now, "asking "+op, why)
	}
	return pr.razorpayRefundStatus(ctx, p, r, now)
}

// refusedToTell reports whether Razorpay definitely refused to tell the
// status of refund r (parked with its refusal): a definite answer, so it is
// not asked again; Razorpay's event (or an operator) settles it.
func (r RefundRecord) refusedToTell() bool {
	return r.Parked == ParkRefundUnconfirmed && r.GatewayError != nil
}

// refundAnswerMismatch says how Razorpay's answer about refund r of p
// (making it, or its status) differs from what FinFlow asked for: another
// key, payment, gateway payment or amount, or another Razorpay refund than
// the one r was made as. "" when it matches.
func refundAnswerMismatch(p Payment, r RefundRecord, a contract.Refund) string {
	switch {
	case a.Key != r.ID:
		return fmt.Sprintf("it is about refund key %q, not %s", a.Key, r.ID)
	case a.PaymentID != p.ID:
		return fmt.Sprintf("it is about payment %q, not %s", a.PaymentID, p.ID)
	case a.GatewayPaymentID != p.Razorpay.GatewayPaymentID:
		return fmt.Sprintf("it refunds %q, not %s", a.GatewayPaymentID, p.Razorpay.GatewayPaymentID)
	case a.Amount != r.Amount:
		return fmt.Sprintf("it is of %d, not %d", a.Amount, r.Amount)
	case a.RefundID == "":
		return "it names no Razorpay refund"
	case r.GatewayRefundID != "" && a.RefundID != r.GatewayRefundID:
		return fmt.Sprintf("it names Razorpay refund %s, not %s the refund was made as", a.RefundID, r.GatewayRefundID)
	}
	return ""
}

// refusedRefundAnswer parks an answer of Razorpay about refund r that does
// not match it (refused_result, once per answer) and counts it as no
// answer: the refund is untouched.
func (pr *Processor) refusedRefundAnswer(ctx context.Context, p Payment, r RefundRecord, a contract.Refund, doing, why string) error {
	why = fmt.Sprintf("Razorpay's answer while %s does not match: %s", doing, why)
	if err := pr.park(ctx, DeadLetter{EventID: fmt.Sprintf("refund_answer:%s:%s:%s:%d", r.ID, a.RefundID, a.Status, a.Amount), Kind: ParkRefusedResult, PaymentID: p.ID, Reason: why,
		Result: GatewayResult{Event: "refund_answer", Status: a.Status, GatewayPaymentID: a.GatewayPaymentID, PaymentID: a.PaymentID,
			Amount: a.Amount, Currency: p.Currency, RefundKey: a.Key, GatewayRefundID: a.RefundID, At: pr.Now().UTC()}}); err != nil {
		return err
	}
	return pr.refundRetryLater(ctx, p, r, doing, errors.New(why))
}

// razorpayRefundStatus records what Razorpay says of a refund it made (an
// answer that matches it): processed is SUCCESS, failed is FAILED; pending
// records Razorpay's refund id and asks again after a backoff, for
// refund.processed or reconciliation.
func (pr *Processor) razorpayRefundStatus(ctx context.Context, p Payment, r RefundRecord, made contract.Refund) error {
	switch made.Status {
	case "processed":
		return pr.settleRefund(ctx, p.ID, r.ID, Success, made.RefundID, "", nil)
	case "failed":
		return pr.settleRefund(ctx, p.ID, r.ID, Failed, made.RefundID, "Razorpay reports the refund failed", nil)
	}
	n := r.Asks + 1
	wait := pr.retryWait(n)
	parked := ""
	_, err := pr.updateRefund(ctx, p.ID, r.ID, func(q *Payment, x *RefundRecord) bool {
		if x.Asks != r.Asks {
			return false
		}
		if x.GatewayRefundID == "" {
			x.GatewayRefundID = made.RefundID
			q.note(pr.Now(), fmt.Sprintf("refund %s made at Razorpay as %s: %s", x.ID, made.RefundID, made.Status))
		}
		if parked = x.Parked; parked != "" {
			// Razorpay answers again: what was parked is done with; the
			// refund is asked about as a fresh one (and parked afresh if
			// Razorpay stops answering).
			x.Parked, x.Error = "", ""
			q.note(pr.Now(), fmt.Sprintf("refund %s: Razorpay answers again (%s), after being parked (%s)", x.ID, made.Status, parked))
		}
		x.GatewayRetries, x.Asks, x.RetryAt = 0, n, pr.Now().Add(wait)
		return true
	})
	if err == nil {
		pr.kickAt(pr.Background, p.ID, pr.Now().Add(wait))
	}
	if err == nil && parked != "" {
		pr.resolveParked(ctx, parked+":"+r.ID, p.ID, fmt.Sprintf("Razorpay answered: refund %s is %s", made.RefundID, made.Status))
	}
	return err
}

// refundRetryLater records that Razorpay gave no answer while doing refund
// r's gateway work, and when to try again; after the last attempt the work
// is parked for an operator: refund_not_made when it was never made (its
// error says NOT_MADE), refund_unconfirmed when its status cannot be read.
// Either way the refund stays PENDING, holding its amount, and is tried
// again every RetryPolicy.Max: Razorpay may have made it and lost the
// answer, so it is settled only by a definite answer (Razorpay's to the
// next try, its refund.processed or refund.failed), never failed here,
// which would let the same money be refunded again.
func (pr *Processor) refundRetryLater(ctx context.Context, p Payment, r RefundRecord, doing string, cause error) error {
	attempts := maxAttempts(pr)
	n := r.GatewayRetries + 1
	if n >= attempts {
		why := fmt.Sprintf("no answer from Razorpay while %s after %d tries; last: %s", doing, n, short(cause))
		if r.GatewayRefundID == "" {
			return pr.parkRefundWork(ctx, p, r, n, ParkRefundNotMade, "NOT_MADE", why, nil)
		}
		return pr.parkRefundWork(ctx, p, r, n, ParkRefundUnconfirmed, "UNCONFIRMED", why, nil)
	}
	wait := pr.retryWait(n)
	at := pr.Now().Add(wait)
	_, err := pr.updateRefund(ctx, p.ID, r.ID, func(q *Payment, x *RefundRecord) bool {
		if x.GatewayRetries != r.GatewayRetries {
			return false // another try recorded itself meanwhile
		}
		x.GatewayRetries, x.RetryAt = n, at
		q.note(pr.Now(), fmt.Sprintf("no answer from Razorpay while %s (try %d of %d): %s; next try in %s", doing, n, attempts, short(cause), wait))
		return true
	})
	if err != nil {
		return err
	}
	pr.kickAt(pr.Background, p.ID, at)
	return fmt.Errorf("%s: %w", doing, cause)
}

// parkRefundWork parks refund r's gateway work for an operator: the dead
// letter first (a crash after must not lose it), then recorded on the
// refund (state says which: NOT_MADE, UNCONFIRMED), which stays PENDING
// and is tried again every RetryPolicy.Max (n: its tries so far). Parked
// once; the tries after only move RetryAt on.
func (pr *Processor) parkRefundWork(ctx context.Context, p Payment, r RefundRecord, n int, kind, state, why string, g *GatewayError) error {
	gw := p.Razorpay.GatewayPaymentID
	if r.Parked != kind {
		if err := pr.park(ctx, DeadLetter{EventID: kind + ":" + r.ID, Kind: kind, PaymentID: p.ID,
			Reason: fmt.Sprintf("refund %s of %d of %s: %s; it stays PENDING and is tried again every %s until Razorpay answers or sends refund.processed or refund.failed", r.ID, r.Amount, gw, why, pr.longestWait()),
			Result: GatewayResult{Event: "refund", GatewayPaymentID: gw, PaymentID: p.ID, Amount: r.Amount, Currency: p.Currency,
				RefundKey: r.ID, GatewayRefundID: r.GatewayRefundID, At: pr.Now().UTC()}}); err != nil {
			return err
		}
	}
	_, err := pr.updateRefund(ctx, p.ID, r.ID, func(q *Payment, x *RefundRecord) bool {
		if x.GatewayRetries != r.GatewayRetries || x.Asks != r.Asks {
			return false // another try recorded itself meanwhile
		}
		x.GatewayRetries, x.RetryAt = n, pr.Now().Add(pr.longestWait())
		if x.Parked != kind {
			x.Parked, x.Error, x.UpdatedAt = kind, state+": "+why, pr.Now().UTC().Truncate(timeMillis)
			q.note(pr.Now(), fmt.Sprintf("refund %s %s, parked (%s): %s; tried again every %s", x.ID, state, kind, why, pr.longestWait()))
		}
		if g != nil {
			x.GatewayError = g
		}
		return true
	})
	return err
}

// longestWait is the longest backoff of gateway work: how often work
// parked for an operator is still tried.
func (pr *Processor) longestWait() time.Duration {
	if pr.Retry.Max == nil {
		return 5 * time.Minute
	}
	return pr.Retry.Max()
}

// resolveParked marks the dead letter eventID resolved: the work it parked
// was settled after all (how). A failure to mark it is only logged: the
// payment says what happened.
func (pr *Processor) resolveParked(ctx context.Context, eventID, paymentID, how string) {
	pr.Log.InfoContext(ctx, "settled after being parked", "dead_letter", eventID, "payment_id", paymentID, "how", how)
	if err := pr.Store.ResolveDeadLetter(ctx, eventID, how, pr.Now().UTC()); err != nil {
		pr.Log.WarnContext(ctx, "marking a dead letter resolved", "dead_letter", eventID, "payment_id", paymentID, "err", err.Error())
	}
}

// updateRefund changes refund refundID of payment paymentID by
// compare-and-swap, if it is PENDING: fn reports whether it changed
// anything.
func (pr *Processor) updateRefund(ctx context.Context, paymentID, refundID string, fn func(q *Payment, r *RefundRecord) bool) (Payment, error) {
	return pr.update(ctx, paymentID, func(q *Payment) bool {
		for i := range q.Refunds {
			if r := &q.Refunds[i]; r.ID == refundID && r.Status == Pending {
				return fn(q, r)
			}
		}
		return false
	})
}

// retryWait is how long the n-th retry of gateway work waits.
func (pr *Processor) retryWait(n int) time.Duration {
	if pr.Retry.Base == nil {
		return time.Second
	}
	return pr.Retry.backoff(n)
}

// settleRefund moves a PENDING refund to SUCCESS or FAILED (a later word
// changes nothing), with Razorpay's refusal g if it refused, then marks
// the bill REFUNDED if the whole amount is back.
func (pr *Processor) settleRefund(ctx context.Context, paymentID, refundID string, status Status, gatewayRefundID, why string, g *GatewayError) error {
	parked := ""
	p, err := pr.updateRefund(ctx, paymentID, refundID, func(q *Payment, r *RefundRecord) bool {
		parked = r.Parked
		r.Status, r.UpdatedAt, r.Error = status, pr.Now().UTC().Truncate(timeMillis), why
		if gatewayRefundID != "" {
			r.GatewayRefundID = gatewayRefundID
		}
		if g != nil {
			r.GatewayError = g
		}
		q.note(pr.Now(), fmt.Sprintf("refund %s of %d: %s %s", r.ID, r.Amount, status, why))
		return true
	})
	if err != nil {
		return err
	}
	pr.Log.InfoContext(ctx, "refund settled", "payment_id", paymentID, "refund_id", refundID, "status", status, "why", why)
	if parked != "" {
		pr.resolveParked(ctx, parked+":"+refundID, paymentID, fmt.Sprintf("refund %s %s %s", refundID, status, why))
	}
	return pr.markBillRefunded(ctx, p)
}

// markBillRefunded marks a wholly refunded payment's bill REFUNDED, once.
func (pr *Processor) markBillRefunded(ctx context.Context, p Payment) error {
	if !p.billRefundOwed() {
		return nil
	}
	err := pr.step(ctx, func(ctx context.Context) error { return pr.Bills.MarkRefunded(ctx, p.BillID, p.ID) })
	if err != nil {
		return fmt.Errorf("marking bill %s refunded: %w", p.BillID, err)
	}
	_, err = pr.update(ctx, p.ID, func(q *Payment) bool {
		if q.BillRefunded {
			return false
		}
		q.BillRefunded = true
		q.note(pr.Now(), "bill "+q.BillID+" REFUNDED: the whole amount is back")
		return true
	})
	return err
}

// refundWork drives what is left of a final payment's refunds: makes those
// not made yet (again: idempotent by refund id), asks Razorpay about those
// it made and did not settle (each when its RetryPolicy says it is due),
// and marks the bill REFUNDED when due.
func (pr *Processor) refundWork(ctx context.Context, p Payment) error {
	var errs []error
	for _, r := range p.Refunds {
		if r.Status == Pending {
			errs = append(errs, pr.makeRefundOf(ctx, p, r.ID))
		}
	}
	if p, err := pr.Store.Get(ctx, p.ID); err == nil {
		errs = append(errs, pr.markBillRefunded(ctx, p))
	}
	return errors.Join(errs...)
}

// applyRefundResult applies Razorpay's refund.processed or refund.failed:
// to the admin's refund it names, or to the capture FinFlow gave back (the
// key is the payment's own id). A result that does not match the refund
// FinFlow made (another amount or currency, another Razorpay refund than
// the one it was made as, once known) is refused and parked. What it does
// to a refund that matches is refundEventVerdict's table: it settles one
// not settled yet, whatever its work's state (owed, being retried, parked
// NOT_MADE or UNCONFIRMED, made and pending), changes nothing on one
// settled so already, and is refused and parked when it contradicts how
// the refund is settled. A refund Razorpay failed after accepting a
// capture given back is parked: that money is not back.
func (pr *Processor) applyRefundResult(ctx context.Context, p Payment, r GatewayResult) (Outcome, string, error) {
	status, event := Success, RefundProcessed
	if r.Status == contract.ResultRefundFailed {
		status, event = Failed, RefundFailed
	}
	if r.RefundKey == p.ID {
		if p.Refund == nil {
			return pr.reject(ctx, r, "payment "+p.ID+" gave no capture back")
		}
		if why := refundResultMismatch(r, p.Refund.Amount, p.Currency, p.Refund.RefundID); why != "" {
			return pr.reject(ctx, r, "the refund of the capture "+p.ID+" gave back: "+why)
		}
		switch refundEventVerdict(givenBackSettled(p.Refund.Status), event) {
		case verdictAlready:
			return pr.applied(ctx, r)
		case verdictContradicts:
			return pr.reject(ctx, r, fmt.Sprintf("the refund of the capture %s gave back is %s already; Razorpay's %s for %s contradicts it", p.ID, p.Refund.Status, r.Event, r.GatewayRefundID))
		}
		parked := false
		final, err := pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Refund == nil || refundEventVerdict(givenBackSettled(q.Refund.Status), event) != verdictSettle {
				return false
			}
			parked = q.Refund.Status == RefundNotMade
			q.Refund.Status, q.Refund.Error = event, ""
			if q.Refund.RefundID == "" {
				q.Refund.RefundID = r.GatewayRefundID
			}
			q.note(pr.Now(), "Razorpay: the refund of the capture given back is "+event)
			// The event may come before the refund's own answer (lost, or
			// slower, or never: parked): it is made, so the payment ends.
			q.fail(q.Refund.For, pr.Now())
			return true
		})
		if err != nil {
			return pr.failedDelivery(ctx, r, err)
		}
		if parked {
			pr.resolveParked(ctx, ParkRefundNotMade+":"+p.ID, p.ID, fmt.Sprintf("Razorpay's %s for %s", r.Event, r.GatewayRefundID))
		}
		if final.Status == Failed {
			pr.releaseClaim(ctx, final)
			pr.noteSettled(ctx, final)
		}
		if status == Failed {
			if err := pr.park(ctx, DeadLetter{EventID: r.EventID, Kind: ParkRefundFailed, PaymentID: p.ID, Result: r,
				Reason: fmt.Sprintf("Razorpay failed the refund of %d of %s it had accepted: the money is not back", r.Amount, r.GatewayPaymentID)}); err != nil {
				return pr.failedDelivery(ctx, r, err)
			}
		}
		return pr.applied(ctx, r)
	}
	var x *RefundRecord
	for i := range p.Refunds {
		if p.Refunds[i].ID == r.RefundKey {
			x = &p.Refunds[i]
		}
	}
	if x == nil {
		return pr.reject(ctx, r, fmt.Sprintf("payment %s has no refund %s", p.ID, r.RefundKey))
	}
	if why := refundResultMismatch(r, x.Amount, p.Currency, x.GatewayRefundID); why != "" {
		return pr.reject(ctx, r, fmt.Sprintf("refund %s of payment %s: %s", x.ID, p.ID, why))
	}
	switch refundEventVerdict(adminSettled(x.Status), event) {
	case verdictAlready:
		return pr.applied(ctx, r) // settled so already (its answer, or reconciliation)
	case verdictContradicts:
		return pr.reject(ctx, r, fmt.Sprintf("refund %s of payment %s is %s already; Razorpay's %s for %s contradicts it", x.ID, p.ID, x.Status, r.Event, r.GatewayRefundID))
	}
	why := ""
	if status == Failed {
		why = "Razorpay: refund.failed"
	}
	if err := pr.settleRefund(ctx, p.ID, r.RefundKey, status, r.GatewayRefundID, why, nil); err != nil {
		return pr.failedDelivery(ctx, r, err)
	}
	return pr.applied(ctx, r)
}

// Razorpay's refund events, as refundEventVerdict reads them (and as the
// status of a capture given back records them).
const (
	RefundProcessed = "processed"
	RefundFailed    = "failed"
)

// refundVerdict is what a refund event does to a refund.
type refundVerdict int

const (
	verdictSettle      refundVerdict = iota // settle the refund as the event says
	verdictAlready                          // settled so already: nothing changes
	verdictContradicts                      // contradicts how it is settled: refused and parked
)

// refundEventVerdict is the table of a refund event (RefundProcessed or
// RefundFailed) against a refund settled as settled: "" while it is not
// settled (however its work stands: to make, retried, parked, made and
// pending), RefundProcessed, RefundFailed, or RefundRefused (Razorpay
// refused to make it).
//
//	settled \ event  processed     failed
//	""               settle        settle
//	processed        already       contradicts
//	failed           contradicts   already
//	REFUSED          contradicts   already
func refundEventVerdict(settled, event string) refundVerdict {
	switch {
	case settled == "":
		return verdictSettle
	case settled == event, settled == RefundRefused && event == RefundFailed:
		return verdictAlready
	}
	return verdictContradicts
}

// givenBackSettled is how a capture given back is settled, for
// refundEventVerdict: OWED, NOT_MADE and Razorpay's pending (or any other
// status of a refund in flight) are not settled.
func givenBackSettled(status string) string {
	switch status {
	case RefundProcessed, RefundFailed, RefundRefused:
		return status
	}
	return ""
}

// adminSettled is how an admin's refund is settled, for
// refundEventVerdict: PENDING (parked or not) is not settled; a FAILED one
// failed (refund.failed, or Razorpay refused to make it: then refund.failed
// agrees, refund.processed contradicts).
func adminSettled(status Status) string {
	switch status {
	case Success:
		return RefundProcessed
	case Failed:
		return RefundFailed
	}
	return ""
}

// refundResultMismatch says how a refund result differs from the refund
// FinFlow made: amount and currency, and Razorpay's refund id once FinFlow
// knows it (gatewayRefundID). "" when it matches.
func refundResultMismatch(r GatewayResult, amount int64, currency, gatewayRefundID string) string {
	switch {
	case r.Amount != amount || r.Currency != currency:
		return fmt.Sprintf("%s is of %d %s, the refund of %d %s", r.Event, r.Amount, r.Currency, amount, currency)
	case r.GatewayRefundID == "":
		return r.Event + " names no Razorpay refund"
	case gatewayRefundID != "" && r.GatewayRefundID != gatewayRefundID:
		return fmt.Sprintf("%s names Razorpay refund %s; FinFlow's was made as %s", r.Event, r.GatewayRefundID, gatewayRefundID)
	}
	return ""
}

// applied records that a result was applied.
func (pr *Processor) applied(ctx context.Context, r GatewayResult) (Outcome, string, error) {
	pr.deliveries.forget(r.EventID)
	if err := pr.Store.MarkEventApplied(ctx, r.EventID); err != nil {
		// Applied already; a redelivery is applied again and changes nothing.
		pr.Log.WarnContext(ctx, "recording an applied gateway event", "event_id", r.EventID, "err", err.Error())
	}
	return Applied, "", nil
}
