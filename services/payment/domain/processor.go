package domain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
)

// Processor runs wallet payments: from the request, and again from the
// recovery loop for any payment left PENDING.
type Processor struct {
	Store   Store
	Bills   Bills
	Wallets Wallets
	Gateway Gateway
	// Users tells whether a user exists (asked only for a listing whose
	// list is empty).
	Users Users
	Log   *slog.Logger
	Now   func() time.Time
	// StepTimeout bounds each call to another service.
	StepTimeout func() time.Duration
	// OnSettled, when set, is told about every payment this process moves
	// out of PENDING, and OnReconcile about every reconciliation action
	// (captured, failed, expired). For metrics.
	OnSettled   func(Payment)
	OnReconcile func(action string)
	// OnParked, when set, is told the kind of every dead letter (Park*).
	// For metrics.
	OnParked func(kind string)
	// Retry bounds the retries of gateway work Razorpay does not answer;
	// GatewayConcurrency bounds how much of it runs at once (read once).
	Retry RetryPolicy
	// Watch times the watch of orders (WatchOrders).
	Watch              WatchPolicy
	GatewayConcurrency func() int
	// MaxResultDeliveries bounds how many times one gateway result may fail
	// to apply before it is parked (nil: no bound).
	MaxResultDeliveries func() int
	// Background is the context of the gateway work Kick starts (the
	// service's lifetime); context.Background() when nil.
	Background context.Context
	// RecentLog, when set, keeps recent payments for the ops console.
	RecentLog RecentPayments

	settled    settled
	work       work
	deliveries deliveryFailures
}

// settled remembers the payments this process moved out of PENDING, and
// when, so that the recovery loop drops them from the pending index without
// reading each one back. Every entry is removed by the round that forgets
// it.
type settled struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

func (s *settled) add(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]time.Time{}
	}
	s.ids[id] = at
}

// prune forgets what it remembers of payments the pending index no longer
// holds, settled before horizon: another instance's round dropped their
// entries (so no round here ever removes them), and without this an
// instance of several would remember them for ever.
func (s *settled) prune(pending map[string]time.Time, horizon time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, at := range s.ids {
		if _, indexed := pending[id]; !indexed && at.Before(horizon) {
			delete(s.ids, id)
		}
	}
}

// covers reports whether the pending index entry of id, written at
// indexed, is one this process saw settled: an entry written before the
// payment left PENDING. An entry written after it (a refund put the
// payment back to be driven, on this instance or another: Track) is work,
// not a leftover, and is not covered.
func (s *settled) covers(id string, indexed time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.ids[id]
	return ok && !indexed.After(at)
}

func (s *settled) remove(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.ids, id)
	}
}

// update is Store.Update that notes a payment leaving PENDING.
func (pr *Processor) update(ctx context.Context, id string, fn func(*Payment) bool) (Payment, error) {
	var was Status
	p, err := pr.Store.Update(ctx, id, func(q *Payment) bool {
		was = q.Status
		return fn(q)
	})
	if err == nil && was == Pending && p.Status != Pending {
		// The wall clock, not pr.Now: the pending index stamps its
		// entries with the wall clock, and covers compares the two.
		pr.settled.add(id, time.Now())
		if pr.OnSettled != nil {
			pr.OnSettled(p)
		}
	}
	return p, err
}

// PayFromWallet pays a bill from its owner's wallet. It returns the payment
// as it stands when the request's work ends: SUCCESS, or PENDING when a
// step could not be completed now (the recovery loop finishes it). A bill
// that does not exist or is already paid is refused without recording a
// payment; a payment that fails (insufficient funds, a racing payment) is
// recorded FAILED and returned with its error.
//
// paymentID is "" for a fresh payment, or the id derived from the request's
// idempotency token: then a retry finds the payment it started and returns
// (and, if needed, finishes) that one.
//
// payer is the user paying ("" for an admin, who may pay any bill); a user
// may only pay their own bills (ErrForbidden, nothing recorded).
func (pr *Processor) PayFromWallet(ctx context.Context, billID, paymentID, payer string) (Payment, error) {
	// A retry of a keyed request is found when its payment cannot be
	// created (the id is taken), so the common first attempt reads nothing
	// it does not need. Only a bill that looks done needs a look first: it
	// may be done by this very request's payment.
	bill, err := pr.getBill(ctx, billID)
	if paymentID != "" && (errors.Is(err, ErrBillNotFound) || err == nil && (bill.Paid || payer != "" && bill.UserID != payer)) {
		if p, gerr := pr.Store.Get(ctx, paymentID); gerr == nil {
			return pr.retried(ctx, p, billID)
		} else if !errors.Is(gerr, ErrPaymentNotFound) {
			return Payment{}, gerr
		}
	}
	var p Payment
	switch {
	case errors.Is(err, ErrBillNotFound):
		return Payment{}, err
	case err != nil:
		// Billing is not answering: accept the payment as PENDING; the
		// recovery loop reads the bill when billing is back.
		p = NewWalletPayment(paymentID, Bill{ID: billID}, pr.Now())
		p.UserID = payer // checked against the bill's owner once it is read
		p.note(pr.Now(), "bill not readable yet: "+err.Error())
	case payer != "" && bill.UserID != payer:
		return Payment{}, ErrForbidden
	case bill.Paid:
		return Payment{}, billPaid(bill)
	default:
		p = NewWalletPayment(paymentID, bill, pr.Now())
	}
	// A payment whose bill is known is created holding its bill's claim
	// (one write where the store can); one accepted before its bill could
	// be read claims it when driven.
	// The payment as created carries its place in its user's list, so the
	// drive below does not read it back to list it (Enlist).
	var created Payment
	claimed := false
	if p.knowsBill() {
		created, claimed, err = pr.Store.CreateClaimed(ctx, p)
	} else {
		created, err = pr.Store.Create(ctx, p)
	}
	if errors.Is(err, ErrPaymentExists) {
		existing, gerr := pr.Store.Get(ctx, p.ID)
		if gerr != nil {
			return Payment{}, gerr
		}
		return pr.retried(ctx, existing, billID)
	} else if err != nil {
		return Payment{}, err
	}
	p = created
	if !p.knowsBill() {
		return p, nil
	}
	return pr.driveFrom(ctx, p, claimed)
}

// retried answers a repeat of the request that created p.
func (pr *Processor) retried(ctx context.Context, p Payment, billID string) (Payment, error) {
	if p.BillID != billID {
		return Payment{}, ErrKeyReused
	}
	p, err := pr.drive(ctx, p)
	if err == nil && p.Status == Failed {
		err = p.Err("")
	}
	return p, err
}

// Drive moves the payment with the given id as far as it can now. It is
// safe to call at any time, concurrently, and repeatedly.
func (pr *Processor) Drive(ctx context.Context, id string) (Payment, error) {
	p, err := pr.Store.Get(ctx, id)
	if err != nil {
		return Payment{}, err
	}
	return pr.drive(ctx, p)
}

// drive runs the steps. A definite refusal ends the payment FAILED; any
// other failure leaves it PENDING and returns it without error.
func (pr *Processor) drive(ctx context.Context, p Payment) (Payment, error) {
	return pr.driveFrom(ctx, p, false)
}

// driveFrom is drive for a payment that may hold its bill's claim already
// (claimed: created with it), which then is not claimed again.
func (pr *Processor) driveFrom(ctx context.Context, p Payment, claimed bool) (Payment, error) {
	if p.Status != Pending || p.Method != MethodWallet {
		return p, nil
	}
	if !p.knowsBill() {
		bill, err := pr.getBill(ctx, p.BillID)
		switch {
		case errors.Is(err, ErrBillNotFound):
			return pr.failUnread(ctx, p, ReasonBillNotFound, err)
		case err != nil:
			return pr.stillPending(ctx, p, "reading the bill", err)
		case p.UserID != "" && bill.UserID != p.UserID:
			return pr.failUnread(ctx, p, ReasonForbidden, nil)
		case bill.Paid && bill.PaymentID != p.ID:
			return pr.failUnread(ctx, p, ReasonBillAlreadyPaid, nil)
		}
		p, err = pr.update(ctx, p.ID, func(q *Payment) bool {
			if q.Status != Pending || q.knowsBill() {
				return false
			}
			q.setBill(bill)
			q.note(pr.Now(), "bill read: amount "+fmt.Sprint(bill.Amount))
			return true
		})
		if err != nil {
			return pr.stillPending(ctx, p, "recording the bill", err)
		}
		if p.Status != Pending {
			// Another driver ended it first (failUnread).
			return p, nil
		}
	}
	if p.Seq == 0 {
		// Accepted before its user was known: list it now, whichever
		// driver gets here (the one that recorded the bill may have died
		// before listing it), and before anything moves, so that a payment
		// that could not be listed stays PENDING until a later drive lists
		// it (Enlist lists a payment once).
		listed, err := pr.Store.Enlist(ctx, p.ID)
		if err != nil {
			return pr.stillPending(ctx, p, "listing the payment", err)
		}
		p = listed
	}

	// 1. Claim the bill: a racing payment of the same bill is refused here,
	// before any money moves.
	var held *ClaimedError
	if claimed {
		// Created holding it.
	} else if err := pr.Store.ClaimBill(ctx, p.BillID, p.ID); errors.As(err, &held) {
		return pr.finishFailed(ctx, p, ReasonBillAlreadyPaid, false, pr.billHeld(ctx, p.BillID, held.Holder))
	} else if err != nil {
		return pr.stillPending(ctx, p, "claiming the bill", err)
	}

	// 2. Debit the wallet, keyed by the payment id.
	err := pr.step(ctx, func(ctx context.Context) error { return pr.Wallets.Debit(ctx, p.UserID, p.Amount, p.ID) })
	switch {
	case errors.Is(err, ErrInsufficientFunds):
		return pr.finishFailed(ctx, p, ReasonInsufficientFunds, false, err)
	case errors.Is(err, ErrWalletNotFound):
		return pr.finishFailed(ctx, p, ReasonWalletNotFound, false, err)
	case err != nil:
		return pr.stillPending(ctx, p, "debiting the wallet", err)
	}

	// 3. Mark the bill PAID by this payment.
	err = pr.step(ctx, func(ctx context.Context) error { return pr.Bills.MarkPaid(ctx, p.BillID, p.ID) })
	switch {
	case errors.Is(err, ErrBillAlreadyPaid):
		return pr.finishFailed(ctx, p, ReasonBillAlreadyPaid, true, err)
	case errors.Is(err, ErrBillNotFound):
		return pr.finishFailed(ctx, p, ReasonBillNotFound, true, err)
	case err != nil:
		return pr.stillPending(ctx, p, "marking the bill paid", err)
	}

	final, err := pr.update(ctx, p.ID, func(q *Payment) bool { return q.succeed(pr.Now()) })
	if err != nil {
		return pr.stillPending(ctx, p, "recording success", err)
	}
	if final.Status == Success {
		pr.Log.InfoContext(ctx, "payment succeeded", "payment_id", p.ID, "bill_id", p.BillID, "amount", p.Amount)
	}
	return final, nil
}

// finishFailed ends the payment FAILED. When debited is true the wallet may
// have been debited for it, and the debit is given back first; if that is
// not possible now the payment stays PENDING and is failed on a later try.
// cause, when not nil, is the answer that decided it; its message (for
// example "wallet balance 500 is below 1200") reaches the client.
func (pr *Processor) finishFailed(ctx context.Context, p Payment, reason string, debited bool, cause error) (Payment, error) {
	if debited {
		if err := pr.step(ctx, func(ctx context.Context) error { return pr.Wallets.Reverse(ctx, p.UserID, p.ID) }); err != nil {
			return pr.stillPending(ctx, p, "giving the debit back", err)
		}
	}
	final, err := pr.update(ctx, p.ID, func(q *Payment) bool { return q.fail(reason, pr.Now()) })
	if err != nil {
		return pr.stillPending(ctx, p, "recording the failure", err)
	}
	return pr.failed(ctx, final, reason, debited, cause)
}

// failUnread ends FAILED, for reason, a payment that was accepted before
// its bill could be read, on this driver's read of the bill (cause: its
// answer), unless another driver has recorded the bill on the payment
// meanwhile: that read is newer than this one (a bill reported missing
// may exist by now), so the payment is driven on from the record instead.
// The payment record decides between the two drivers: it is either failed
// without a bill or given one, never both, so no driver claims the bill or
// debits the wallet for a payment another is failing.
func (pr *Processor) failUnread(ctx context.Context, p Payment, reason string, cause error) (Payment, error) {
	final, err := pr.update(ctx, p.ID, func(q *Payment) bool { return !q.knowsBill() && q.fail(reason, pr.Now()) })
	if err != nil {
		return pr.stillPending(ctx, p, "recording the failure", err)
	}
	if final.Status == Pending && final.knowsBill() {
		pr.Log.InfoContext(ctx, "payment's bill read by another driver; driving on", "payment_id", p.ID, "bill_id", p.BillID, "answer_here", reason)
		return pr.driveFrom(ctx, final, false)
	}
	return pr.failed(ctx, final, reason, false, cause)
}

// failed is what finishFailed and failUnread do once final is recorded:
// the claim let go and the log line when it is FAILED, and the error for
// the caller.
func (pr *Processor) failed(ctx context.Context, final Payment, reason string, debited bool, cause error) (Payment, error) {
	if final.Status == Failed {
		pr.releaseClaim(ctx, final)
		pr.Log.InfoContext(ctx, "payment failed", "payment_id", final.ID, "bill_id", final.BillID, "reason", reason, "debit_given_back", debited)
	}
	message := ""
	var ae *apperr.Error
	if errors.As(cause, &ae) && final.FailureReason == reason {
		message = ae.Message
	}
	err := final.Err(message)
	var out *apperr.Error
	if message != "" && ae.Code == ReasonBillAlreadyPaid && errors.As(err, &out) {
		// Which payment holds or paid the bill (billHeld).
		for k, v := range ae.Details {
			if _, taken := out.Details[k]; !taken {
				out.Details[k] = v
			}
		}
	}
	return final, err
}

// billPaid is the refusal of a payment of a bill that billing reports
// PAID: ErrBillAlreadyPaid naming the bill and, when billing says, the
// payment that paid it (details bill_id, other_payment_id).
func billPaid(bill Bill) error {
	details := map[string]any{"bill_id": bill.ID}
	by := ""
	if bill.PaymentID != "" {
		details[DetailOtherPayment] = bill.PaymentID
		by = " by payment " + bill.PaymentID
	}
	msg := "bill " + bill.ID + " is already paid" + by
	if bill.Refunded {
		details["bill_status"] = "REFUNDED"
		msg = "bill " + bill.ID + " was paid" + by + " and refunded: a refunded bill cannot be paid again"
	}
	return ErrBillAlreadyPaid.With(msg, details)
}

// The details of a BILL_ALREADY_PAID refusal that name the payment
// holding or having paid the bill, and its status when it was read:
// PENDING while it is under way (the bill is UNPAID: it can be paid once
// that payment fails, as a Razorpay payment does when its order expires),
// SUCCESS once it paid the bill.
const (
	DetailOtherPayment       = "other_payment_id"
	DetailOtherPaymentStatus = "other_payment_status"
)

// billHeld is the refusal of a payment of billID whose claim payment
// holderID holds: ErrBillAlreadyPaid saying, from one read of the holder,
// whether the bill is paid or only being paid (DetailOtherPayment,
// DetailOtherPaymentStatus; no status when the holder cannot be read).
func (pr *Processor) billHeld(ctx context.Context, billID, holderID string) error {
	if h, err := pr.Store.Get(ctx, holderID); err == nil {
		return billHeldBy(billID, holderID, &h)
	}
	return billHeldBy(billID, holderID, nil)
}

// billHeldBy is billHeld with the holder h as read (nil: not read).
func billHeldBy(billID, holderID string, h *Payment) error {
	details := map[string]any{"bill_id": billID, DetailOtherPayment: holderID}
	msg := "bill " + billID + " is already paid, or being paid, by payment " + holderID
	if h != nil {
		details[DetailOtherPaymentStatus] = string(h.Status)
		switch h.Status {
		case Pending:
			msg = fmt.Sprintf("bill %s is not paid yet, but payment %s (%s) of it is under way; the bill can be paid again if that payment fails",
				billID, holderID, strings.ToLower(string(h.Method)))
			if h.Method == MethodRazorpay {
				msg += " (a Razorpay payment fails when its order expires unpaid)"
			}
		case Success:
			msg = "bill " + billID + " is already paid by payment " + holderID
		case Failed:
			msg = "bill " + billID + " was being paid by payment " + holderID + ", which has just failed; try again"
		}
	}
	return ErrBillAlreadyPaid.With(msg, details)
}

func (pr *Processor) stillPending(ctx context.Context, p Payment, doing string, err error) (Payment, error) {
	pr.Log.WarnContext(ctx, "payment left pending", "payment_id", p.ID, "while", doing, "err", err.Error())
	return p, nil
}

func (pr *Processor) step(ctx context.Context, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, pr.StepTimeout())
	defer cancel()
	return call(ctx)
}

func (pr *Processor) getBill(ctx context.Context, billID string) (Bill, error) {
	var b Bill
	err := pr.step(ctx, func(ctx context.Context) error {
		var err error
		b, err = pr.Bills.Get(ctx, billID)
		return err
	})
	return b, err
}

// RecoveryConfig tunes the recovery loop; the functions are read on every
// round, so runtime settings apply at once.
type RecoveryConfig struct {
	Interval    func() time.Duration
	Changed     func() <-chan struct{} // closed when a setting changes (settings.Settings.Changed): Interval is read again; nil: read once per round
	MinAge      func() time.Duration   // leave younger payments to their request
	Concurrency func() int
}

// Recover drives every payment of the pending index that is older than
// MinAge until ctx is done, and drops final (or never created) payments from
// the index.
func (pr *Processor) Recover(ctx context.Context, cfg RecoveryConfig) {
	for waitInterval(ctx, cfg.Interval, cfg.Changed) {
		if err := pr.RecoverOnce(ctx, cfg); err != nil && ctx.Err() == nil {
			pr.Log.WarnContext(ctx, "payment recovery round failed", "err", err.Error())
		}
	}
}

// RecoverOnce runs one round of the recovery loop.
func (pr *Processor) RecoverOnce(ctx context.Context, cfg RecoveryConfig) error {
	pending, err := pr.Store.Pending(ctx)
	if err != nil {
		return err
	}
	pr.settled.prune(pending, time.Now().Add(-time.Minute))
	now := pr.Now()
	var (
		mu     sync.Mutex
		done   = map[string]time.Time{}
		wg     sync.WaitGroup
		tokens = make(chan struct{}, max(1, cfg.Concurrency()))
	)
	for id, indexed := range pending {
		if pr.settled.covers(id, indexed) {
			mu.Lock()          // the round's goroutines write done too
			done[id] = indexed // final, as this process saw
			mu.Unlock()
			continue
		}
		if now.Sub(indexed) < cfg.MinAge() {
			continue
		}
		wg.Add(1)
		tokens <- struct{}{}
		go func(id string, indexed time.Time) {
			defer wg.Done()
			defer func() { <-tokens }()
			p, err := pr.Drive(ctx, id)
			var final bool
			switch {
			case err == nil:
				final = !p.NeedsWork()
			case errors.Is(err, ErrPaymentNotFound):
				final = now.Sub(indexed) > time.Minute // indexed, then never created
			default:
				final = p.Status == Failed && !p.NeedsWork() // failed for good; err is the client's error
			}
			if final {
				mu.Lock()
				done[id] = indexed
				mu.Unlock()
			}
		}(id, indexed)
	}
	wg.Wait()
	if len(done) == 0 {
		return nil
	}
	if err := pr.Store.Forget(ctx, done); err != nil {
		return err
	}
	ids := make([]string, 0, len(done))
	for id := range done {
		ids = append(ids, id)
	}
	pr.settled.remove(ids)
	return nil
}

// Payment returns a payment to its owner or an admin. Returns
// ErrPaymentNotFound (a malformed id included) and auth errors.
func (pr *Processor) Payment(ctx context.Context, caller auth.Caller, paymentID string) (Payment, error) {
	if !id.Valid(id.Payment, paymentID) {
		return Payment{}, ErrPaymentNotFound
	}
	p, err := pr.Store.Get(ctx, paymentID)
	if err != nil {
		return Payment{}, err
	}
	if err := caller.Owner(p.UserID); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// resolveEnded marks resolved the dead letters that park a PENDING
// payment's settling (result_gave_up: a result that failed too many
// deliveries; reconcile_stuck: Razorpay never answered about it, still
// asked) whose payment has since ended (reconciliation, or a later
// delivery, settled it): the work they parked was done after all. They are
// checked as they are read, one payment read each while they stay open, so
// no payment's settling pays for it. Failures leave them open, to be tried
// next read.
func (pr *Processor) resolveEnded(ctx context.Context, list []DeadLetter) []DeadLetter {
	for i := range list {
		d := &list[i]
		if d.Kind != ParkResultGaveUp && d.Kind != ParkReconcileStuck || d.Resolved != "" || d.PaymentID == "" {
			continue
		}
		p, err := pr.Store.Get(ctx, d.PaymentID)
		if err != nil || p.Status == Pending {
			continue
		}
		how := fmt.Sprintf("payment %s ended %s after all", p.ID, p.Status)
		pr.resolveParked(ctx, d.EventID, p.ID, how)
		d.Resolved, d.ResolvedAt = how, pr.Now().UTC()
	}
	return list
}

// DeadLetters returns what was parked for operators, newest first, to an
// admin (or the payment service itself).
func (pr *Processor) DeadLetters(ctx context.Context, caller auth.Caller) ([]DeadLetter, error) {
	if caller.FromApp(contract.AppPayment) != nil {
		if err := caller.Admin(); err != nil {
			return nil, err
		}
	}
	list, err := pr.Store.DeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	return pr.resolveEnded(ctx, list), nil
}

// RecentPayments keeps the most recent payments for the ops console.
type RecentPayments interface {
	// Recent returns up to limit recent payments, newest first.
	Recent(ctx context.Context, limit int) ([]Payment, error)
}

// Recent returns up to limit (1 to 200) recent payments with their
// history to an admin (the ops console). Returns ROUTE_NOT_FOUND when this
// process keeps no such list.
func (pr *Processor) Recent(ctx context.Context, caller auth.Caller, limit int) ([]Payment, error) {
	if err := caller.Admin(); err != nil {
		return nil, err
	}
	if pr.RecentLog == nil {
		return nil, apperr.New(apperr.KindNotFound, apperr.CodeRouteNotFound, "this payment service keeps no recent payments log")
	}
	if limit < 1 || limit > 200 {
		return nil, apperr.Invalid("limit", "limit must be 1 to 200")
	}
	return pr.RecentLog.Recent(ctx, limit)
}

// waitInterval waits until interval() has passed since it was called and
// reports true, or false when ctx is done first. The interval is a
// runtime setting: it is read again whenever changed() is closed
// (settings.Settings.Changed, closed on every applied change), so a setting
// changed while the loop waits takes effect at once (an interval set to an
// hour and put back to five seconds had left payments PENDING for the
// hour). changed may be nil: the interval is then read once.
func waitInterval(ctx context.Context, interval func() time.Duration, changed func() <-chan struct{}) bool {
	start := time.Now()
	for {
		var wake <-chan struct{}
		if changed != nil {
			wake = changed() // before reading the interval, so no change is missed
		}
		left := interval() - time.Since(start)
		if left <= 0 {
			return true
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}
