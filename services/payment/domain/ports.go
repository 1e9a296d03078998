package domain

import (
	"context"
	"time"

	"github.com/finflow/finflow/platform/contract"
)

// Store keeps payments, the claims that keep one active payment per bill,
// and the index of payments that may still need driving.
type Store interface {
	// Create stores a new payment and returns it as stored: with its place
	// in its user's list (Seq) when its user is known, so that the caller
	// need not read it back to learn that it is listed. The store must
	// make it findable by Pending before the payment itself exists, so
	// that no PENDING payment can be lost. Returns ErrPaymentExists.
	Create(ctx context.Context, p Payment) (Payment, error)
	// CreateClaimed is Create that also claims p's bill for p, in the same
	// write where the store can (its claim is never without its payment).
	// claimed reports whether p holds the claim when it returns; when it
	// does not (the bill was claimed already, or the store could not tell),
	// the caller claims it with ClaimBill, which decides between a racing
	// payment and a claim to take over. Returns ErrPaymentExists.
	CreateClaimed(ctx context.Context, p Payment) (created Payment, claimed bool, err error)
	// Get returns a payment. Returns ErrPaymentNotFound.
	Get(ctx context.Context, id string) (Payment, error)
	// Update reads the payment, applies fn and writes it back atomically;
	// fn reports whether it changed anything. Returns ErrPaymentNotFound.
	Update(ctx context.Context, id string, fn func(*Payment) bool) (Payment, error)
	// ClaimBill makes paymentID the bill's active payment, unless another
	// payment holds the claim and is not FAILED: then it returns
	// *ClaimedError naming the holder, and keeps returning it for
	// paymentID even once the claim is free (every driver of a refused
	// payment gets the same answer). Claiming again for the same payment
	// succeeds.
	ClaimBill(ctx context.Context, billID, paymentID string) error
	// ReleaseBill drops paymentID's claim on the bill, if it holds it.
	ReleaseBill(ctx context.Context, billID, paymentID string) error
	// BillClaim returns the payment holding the bill's claim, if any.
	BillClaim(ctx context.Context, billID string) (paymentID string, found bool, err error)
	// EventApplied reports whether a gateway result was applied already.
	EventApplied(ctx context.Context, eventID string) (bool, error)
	// MarkEventApplied records that a gateway result was applied.
	MarkEventApplied(ctx context.Context, eventID string) error
	// AddDeadLetter keeps a refused gateway result for operators (once per
	// event id).
	AddDeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetters returns the kept results, newest first.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// ResolveDeadLetter marks the dead letter eventID resolved (how: the
	// resolution, at: when), once; no such dead letter, or one resolved
	// already, changes nothing. It stays listed, for the record.
	ResolveDeadLetter(ctx context.Context, eventID, resolution string, at time.Time) error
	// Pending returns the ids of payments that may not be final yet, with
	// the time each was indexed.
	Pending(ctx context.Context) (map[string]time.Time, error)
	// Forget removes ids from the pending index, each unless it was
	// indexed again since the time given (as Pending read it).
	Forget(ctx context.Context, ids map[string]time.Time) error
	// Track puts id back in the pending index (a SUCCESS payment with a
	// refund to drive).
	Track(ctx context.Context, id string) error
	// Enlist gives a payment whose user became known its place in the
	// user's list (Create does it for a payment whose user is known).
	// Returns ErrPaymentNotFound.
	Enlist(ctx context.Context, id string) (Payment, error)
	// List reads up to n places of a user's list of payments of purpose,
	// newest first, below position before (0: from the newest).
	List(ctx context.Context, purpose Purpose, userID string, before int64, n int) (Listed, error)
	// Watch puts payment id on the watch of orders (WatchOrders), to be
	// looked at from next on.
	Watch(ctx context.Context, id string, next time.Time) error
	// Watched returns the watched payments, each with when it is next due.
	Watched(ctx context.Context) (map[string]time.Time, error)
	// ClaimWatch moves id's next look from next (as Watched read it) to
	// then, by compare-and-swap, and reports whether it did: false when
	// another instance moved it first, or it is no longer watched.
	ClaimWatch(ctx context.Context, id string, next, then time.Time) (bool, error)
	// Unwatch takes id off the watch.
	Unwatch(ctx context.Context, id string) error
	// ClaimRefund binds refundID (a keyed refund's, derived from its
	// Idempotency-Key) to c, once (insert-if-absent), and returns the
	// binding that holds: c, or the one made first.
	ClaimRefund(ctx context.Context, refundID string, c RefundClaim) (RefundClaim, error)
	// BindCapture binds gateway payment gw (a Razorpay capture) to the
	// Razorpay order it was captured on, once (insert-if-absent), and
	// returns the order that holds it: orderID, or the one bound first.
	// The payment service binds only from Razorpay's confirmed answer
	// (bindConfirmed), never from a webhook.
	BindCapture(ctx context.Context, gw, orderID string) (string, error)
}

// Listed is a stretch of a user's list: the payments in it (an entry whose
// payment does not carry its place, from a retried create, is left out),
// and the position to read on from (0 when the list ends).
type Listed struct {
	Items []Payment
	Next  int64
}

// ClaimedError is returned by ClaimBill when another active payment holds
// the bill.
type ClaimedError struct{ Holder string }

func (e *ClaimedError) Error() string { return "bill is claimed by payment " + e.Holder }

// Bills is the billing service.
type Bills interface {
	// Get returns a bill. Returns ErrBillNotFound.
	Get(ctx context.Context, billID string) (Bill, error)
	// MarkPaid marks the bill PAID by paymentID (again by the same payment
	// is fine). Returns ErrBillAlreadyPaid, ErrBillNotFound.
	MarkPaid(ctx context.Context, billID, paymentID string) error
	// MarkRefunded marks the bill, PAID by paymentID, REFUNDED (again is
	// fine). Returns ErrBillAlreadyPaid, ErrBillNotFound.
	MarkRefunded(ctx context.Context, billID, paymentID string) error
}

// Wallets is the wallet service.
type Wallets interface {
	// Debit takes amount from the user's wallet, at most once per
	// reference; a reference refused for insufficient funds is refused
	// again, whatever is credited later, so that every driver of a payment
	// gets the same answer. Returns ErrInsufficientFunds,
	// ErrWalletNotFound.
	Debit(ctx context.Context, userID string, amount int64, reference string) error
	// Reverse gives back the debit made with reference, at most once; no
	// debit means nothing to give back.
	Reverse(ctx context.Context, userID, reference string) error
	// Credit puts amount into the user's wallet, at most once per
	// reference (a top-up's id, a refund's id). Returns ErrWalletNotFound.
	Credit(ctx context.Context, userID string, amount int64, reference string) error
	// Exists reports whether the user has a wallet; an error only when it
	// cannot tell.
	Exists(ctx context.Context, userID string) (bool, error)
}

// Users tells whether a user exists; an error only when it cannot tell
// (the user service or a sidecar is down).
type Users interface {
	Exists(ctx context.Context, userID string) (bool, error)
}

// GatewayResult is a verified result from the Razorpay adapter (a webhook,
// or what reconciliation found at the gateway).
type GatewayResult = contract.GatewayResult

// DeadLetter is something FinFlow parked for an operator instead of acting
// on it: a gateway result it refused, a verified event it could not use, a
// refund Razorpay refused or never answered, a late capture Razorpay does
// not confirm. Kind names which (the Park* constants).
type DeadLetter struct {
	EventID   string        `json:"event_id"` // unique: the result's event id, or "<kind>:<payment id>"
	Kind      string        `json:"kind,omitempty"`
	PaymentID string        `json:"payment_id,omitempty"`
	Reason    string        `json:"reason"`
	Result    GatewayResult `json:"result"`
	Received  time.Time     `json:"received"`
	// Resolved says how the work parked was settled after all ("": still
	// for an operator), and ResolvedAt when.
	Resolved   string    `json:"resolved,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Kinds of dead letters.
const (
	ParkRefusedResult = "refused_result"  // a result that does not match what FinFlow created
	ParkEvent         = "parked_event"    // a verified event the razorpay service could not use
	ParkDroppedResult = "dropped_result"  // a result the subscription dropped, seen on the dead-letter topic
	ParkRefundRefused = "refund_refused"  // Razorpay refused a refund FinFlow owes
	ParkRefundNotMade = "refund_not_made" // Razorpay never answered a refund, after every retry: still tried
	// An admin's refund Razorpay made but will not tell the status of (a
	// refusal, or no answer after every retry): the refund stays PENDING,
	// still asked about, until Razorpay tells it or its refund.processed
	// or refund.failed settles it.
	ParkRefundUnconfirmed = "refund_unconfirmed"
	ParkRefundFailed      = "refund_failed"       // Razorpay failed a refund of a capture it had accepted
	ParkCaptureUnknown    = "capture_unconfirmed" // Razorpay does not confirm a capture a webhook reported (or a late capture)
	// A capture Razorpay describes on another order, of another amount or
	// currency, or not captured; or one Razorpay confirms on an order
	// while a binding made before captures were confirmed names another.
	ParkCaptureMismatch = "capture_mismatch"
	ParkOrderRefused    = "order_refused"   // Razorpay refused to tell about a payment's order
	ParkReconcileStuck  = "reconcile_stuck" // Razorpay never answered about a pending payment, after every retry
	ParkResultGaveUp    = "result_gave_up"  // a result that failed too many deliveries
)

// GatewayPayment is one payment at Razorpay, as Razorpay reports it.
type GatewayPayment = contract.GatewayPayment

// Gateway is the Razorpay adapter. Its methods return an error matching
// contract.ErrGatewayRefused for Razorpay's definite refusal; any other
// error means no definite answer (retry later).
type Gateway interface {
	// CreateOrder creates (once per payment) the gateway order.
	CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (RazorpayOrder, error)
	// OrderPayments lists the gateway's payment attempts on an order.
	OrderPayments(ctx context.Context, orderID string) ([]GatewayPayment, error)
	// Payment fetches one gateway payment by its id.
	Payment(ctx context.Context, gatewayPaymentID string) (GatewayPayment, error)
	// Refund gives req.Amount of a captured gateway payment back, once
	// per req.Key (a refund id; "" for the payment id: a capture given back
	// whole).
	Refund(ctx context.Context, req contract.RefundRequest) (contract.Refund, error)
	// RefundStatus asks Razorpay for the current status of the refund made
	// with key (pending, processed, failed).
	RefundStatus(ctx context.Context, key string) (contract.Refund, error)
}
