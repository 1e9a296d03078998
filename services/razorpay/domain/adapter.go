package domain

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
)

// Gateway is Razorpay (or the simulator). Every method returns
// contract.ErrGatewayRefused for Razorpay's definite refusal and
// contract.ErrGatewayUnavailable when Razorpay gave no definite answer
// (see ClassifyAnswer). What it returns is Razorpay's answer as Razorpay
// gave it; the Adapter holds it to what was asked (answered.go).
type Gateway interface {
	// CreateOrder makes an order with the payment id as receipt and in
	// notes (NoteOrderPayment).
	CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (OrderAnswer, error)
	OrderPayments(ctx context.Context, orderID string) ([]contract.GatewayPayment, error)
	Payment(ctx context.Context, gatewayPaymentID string) (contract.GatewayPayment, error)
	// Refund refunds amount of a captured payment with Razorpay's
	// X-Refund-Idempotency key and notes (which Razorpay's refund events
	// carry back).
	Refund(ctx context.Context, gatewayPaymentID string, amount int64, idempotencyKey string, notes map[string]string) (RefundAnswer, error)
	// FetchRefund returns a refund as Razorpay has it now (its status:
	// pending, processed, failed).
	FetchRefund(ctx context.Context, gatewayRefundID string) (RefundAnswer, error)
}

// OrderAnswer is Razorpay's order entity as it answered the order's
// creation: the fields FinFlow holds to its request.
type OrderAnswer struct {
	ID       string
	Amount   int64 // paise
	Currency string
	Receipt  string
	Notes    map[string]string // nil when Razorpay answered none
}

// RefundAnswer is Razorpay's refund entity as it answered making or
// fetching a refund: the fields FinFlow holds to the refund.
type RefundAnswer struct {
	ID        string
	PaymentID string // Razorpay's payment id
	Amount    int64  // paise
	Currency  string
	Status    string            // pending, processed, failed
	Notes     map[string]string // nil when Razorpay answered none
}

// Store keeps what the adapter did with the gateway.
type Store interface {
	// SaveOrder records an order for its payment; if the payment already has
	// one, it returns that one instead (and found true). An order id
	// already recorded for another payment is never overwritten: it returns
	// ErrOrderIDInUse.
	SaveOrder(ctx context.Context, o Order) (kept Order, found bool, err error)
	// OrderForPayment returns the payment's order, if any.
	OrderForPayment(ctx context.Context, paymentID string) (Order, bool, error)
	// Order returns an order by id. Returns ErrOrderNotFound.
	Order(ctx context.Context, orderID string) (Order, error)
	// EventSeen reports whether a webhook event was already handled.
	EventSeen(ctx context.Context, eventID string) (bool, error)
	// MarkEvent records that a webhook event was handled, and how, if no
	// delivery of it recorded that first: first is false when one did (a
	// delivery racing this one).
	MarkEvent(ctx context.Context, eventID string, r Result) (first bool, err error)
	// SaveRefund records a refund under its key (one per key).
	SaveRefund(ctx context.Context, r contract.Refund) error
	// RefundByKey returns the refund made with a key, if any.
	RefundByKey(ctx context.Context, key string) (contract.Refund, bool, error)
}

// Publisher publishes events durably (a 2xx from Razorpay's point of view
// only follows a successful publish).
type Publisher interface {
	Publish(ctx context.Context, pubsub, topic string, data any, eventID string) error
}

// DeliveryLog keeps the recent webhook deliveries for the ops console.
type DeliveryLog interface {
	Add(v any)
	Entries(ctx context.Context) ([]json.RawMessage, error)
}

// Webhook outcomes, as the delivery log, the metrics and the answer to
// Razorpay name them.
const (
	OutcomeAccepted     = "accepted"      // published for the payment service
	OutcomeDuplicate    = "duplicate"     // the event id was handled before
	OutcomeIgnored      = "ignored"       // verified, not FinFlow's to act on
	OutcomeMalformed    = "malformed"     // verified, not what Razorpay documents: parked
	OutcomeUnknownOrder = "unknown_order" // verified, for an order FinFlow never made: parked
	OutcomeForeign      = "foreign"       // verified, a refund FinFlow did not make (the dashboard): parked
	OutcomeRefused      = "refused"       // not verified (forged or unsigned): 400, metrics only
	OutcomeError        = "error"         // FinFlow could not record or publish it: 503, Razorpay retries
)

// Delivery is one webhook delivery as the ops console shows it.
type Delivery struct {
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	Event     string    `json:"event,omitempty"`
	OrderID   string    `json:"order_id,omitempty"`
	PaymentID string    `json:"payment_id,omitempty"`
	Result    string    `json:"result,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"request_id"`
}

// ErrRefundNotFound is a refund key FinFlow made no refund with.
var ErrRefundNotFound = apperr.New(apperr.KindNotFound, "REFUND_NOT_FOUND", "FinFlow made no Razorpay refund with this key")

// Adapter is the razorpay service's use cases.
type Adapter struct {
	Gateway   Gateway
	Store     Store
	Publisher Publisher
	// KeyID is the public key id clients use at checkout; WebhookSecret
	// signs Razorpay's webhooks.
	KeyID         string
	WebhookSecret string
	Log           *slog.Logger
	Now           func() time.Time
	// OnWebhook, when set, is told the outcome of every webhook delivery
	// (the Outcome* names). For metrics.
	OnWebhook func(outcome string)
	// Deliveries, when set, keeps the recent webhook deliveries.
	Deliveries DeliveryLog
}

// CreateOrder makes the payment's order at Razorpay, once: asking again for
// the same payment returns the same order (ErrOrderExists if the amount
// differs). Razorpay's refusal comes back as contract.ErrGatewayRefused,
// no answer as contract.ErrGatewayUnavailable.
func (a *Adapter) CreateOrder(ctx context.Context, req contract.CreateOrderRequest) (contract.Order, error) {
	if !id.Valid(id.Payment, req.PaymentID) && !id.Valid(id.TopUp, req.PaymentID) {
		return contract.Order{}, apperr.Invalid("payment_id", "payment_id must be a FinFlow payment or top-up id (pay_..., top_...)")
	}
	if err := money.Amount(req.Amount).Validate(); err != nil {
		return contract.Order{}, err
	}
	if err := money.CheckCurrency(&req.Currency); err != nil {
		return contract.Order{}, err
	}
	o, found, err := a.Store.OrderForPayment(ctx, req.PaymentID)
	if err != nil {
		return contract.Order{}, err
	}
	if !found {
		answer, err := a.Gateway.CreateOrder(ctx, req.PaymentID, req.Amount, req.Currency)
		if err == nil {
			err = a.checkAnswer(ctx, checkOrderAnswer(req, answer), "payment_id", req.PaymentID)
		}
		if err != nil {
			a.Log.WarnContext(ctx, "razorpay order not made", "payment_id", req.PaymentID, "amount", req.Amount, "err", err.Error())
			return contract.Order{}, err
		}
		o, _, err = a.Store.SaveOrder(ctx, Order{OrderID: answer.ID, PaymentID: req.PaymentID, Amount: answer.Amount, Currency: answer.Currency, CreatedAt: a.Now().UTC()})
		if errors.Is(err, ErrOrderIDInUse) {
			// Razorpay never makes one order twice: an answer naming an order
			// of another payment is not Razorpay's (a proxy rewrote it, or
			// Razorpay's account is shared); recording it would hand that
			// payment's customer's capture to this one.
			a.Log.ErrorContext(ctx, "razorpay order answer names an order FinFlow made for another payment; not recorded, the payment stays pending", "payment_id", req.PaymentID, "order_id", answer.ID, "err", err.Error())
			a.parkOrderInUse(ctx, req, answer.ID, err)
			return contract.Order{}, Unanswered(OpCreateOrder, err)
		}
		if err != nil {
			return contract.Order{}, err
		}
		a.Log.InfoContext(ctx, "razorpay order created", "payment_id", req.PaymentID, "order_id", o.OrderID, "amount", o.Amount)
	}
	if o.Amount != req.Amount {
		return contract.Order{}, ErrOrderExists
	}
	return contract.Order{OrderID: o.OrderID, KeyID: a.KeyID, Amount: o.Amount, Currency: o.Currency}, nil
}

// parkOrderInUse parks, for an operator, an order answer that named an
// order FinFlow made for another payment (once per order and payment: the
// dead letter's id says both). Parking is best effort: the payment stays
// PENDING and is asked again either way.
func (a *Adapter) parkOrderInUse(ctx context.Context, req contract.CreateOrderRequest, orderID string, cause error) {
	eventID := "order_in_use:" + orderID + ":" + req.PaymentID
	r := Result{EventID: eventID, Event: "order.created", OrderID: orderID, PaymentID: req.PaymentID, Amount: req.Amount, Currency: req.Currency,
		At: a.Now().UTC(), Reason: "Razorpay's answer to creating the order names order " + orderID + ", which FinFlow made for another payment: " + cause.Error()}
	if err := a.Publisher.Publish(ctx, contract.PubSub, contract.TopicGatewayParked, r, eventID); err != nil {
		a.Log.WarnContext(ctx, "parking an order answer naming another payment's order", "payment_id", req.PaymentID, "order_id", orderID, "err", err.Error())
	}
}

// Refund gives amount of a captured gateway payment back, once per key:
// a FinFlow refund id (rfd_...), or for a capture FinFlow gives back whole,
// the FinFlow payment's own id (req.Key empty). Asking again returns the
// refund made (ErrRefundExists if the gateway payment or amount differ).
// The key is Razorpay's X-Refund-Idempotency, so a refund whose answer was
// lost is not made twice, and it travels in the refund's notes, so
// Razorpay's refund.processed and refund.failed events name it.
func (a *Adapter) Refund(ctx context.Context, req contract.RefundRequest) (contract.Refund, error) {
	if !id.Valid(id.Payment, req.PaymentID) && !id.Valid(id.TopUp, req.PaymentID) {
		return contract.Refund{}, apperr.Invalid("payment_id", "payment_id must be a FinFlow payment or top-up id")
	}
	key := req.Key
	if key == "" {
		key = req.PaymentID
	} else if !id.Valid(id.Refund, key) {
		return contract.Refund{}, apperr.Invalid("key", "key must be a FinFlow refund id (rfd_...)")
	}
	if !ValidPaymentID(req.GatewayPaymentID) {
		return contract.Refund{}, apperr.Invalid("gateway_payment_id", "gateway_payment_id must be a Razorpay payment id")
	}
	if err := money.Amount(req.Amount).Validate(); err != nil {
		return contract.Refund{}, err
	}
	if r, found, err := a.Store.RefundByKey(ctx, key); err != nil {
		return contract.Refund{}, err
	} else if found {
		if r.GatewayPaymentID != req.GatewayPaymentID || r.Amount != req.Amount {
			return contract.Refund{}, ErrRefundExists
		}
		return r, nil
	}
	// Razorpay's refund idempotency key: 10+ characters of [A-Za-z0-9_-];
	// FinFlow's ids are 30.
	notes := map[string]string{NoteRefundKey: key, NotePaymentID: req.PaymentID}
	answer, err := a.Gateway.Refund(ctx, req.GatewayPaymentID, req.Amount, key, notes)
	if err == nil {
		err = a.checkAnswer(ctx, checkRefundAnswer(OpRefund, refundAsked{Key: key, PaymentID: req.PaymentID, GatewayPaymentID: req.GatewayPaymentID, Amount: req.Amount}, answer), "key", key)
	}
	if err != nil {
		a.Log.WarnContext(ctx, "razorpay refund not made", "key", key, "payment_id", req.PaymentID, "gateway_payment_id", req.GatewayPaymentID, "amount", req.Amount, "err", err.Error())
		return contract.Refund{}, err
	}
	r := answer.refund(key, req.PaymentID, a.Now().UTC())
	if err := a.Store.SaveRefund(ctx, r); err != nil {
		return contract.Refund{}, err
	}
	a.Log.InfoContext(ctx, "refund made", "key", key, "payment_id", r.PaymentID, "refund_id", r.RefundID, "amount", r.Amount, "status", r.Status)
	return r, nil
}

// RefundStatus asks Razorpay for the current status of the refund FinFlow
// made with key (reconciliation of a refund whose event never came).
// Returns ErrRefundNotFound for a key FinFlow made no refund with.
func (a *Adapter) RefundStatus(ctx context.Context, key string) (contract.Refund, error) {
	if !id.Valid(id.Refund, key) && !ValidFinFlowPayment(key) {
		return contract.Refund{}, ErrRefundNotFound
	}
	r, found, err := a.Store.RefundByKey(ctx, key)
	if err != nil {
		return contract.Refund{}, err
	}
	if !found {
		return contract.Refund{}, ErrRefundNotFound
	}
	answer, err := a.Gateway.FetchRefund(ctx, r.RefundID)
	if err == nil {
		err = a.checkAnswer(ctx, checkRefundAnswer(OpFetchRefund, refundAsked{RefundID: r.RefundID, Key: r.Key, PaymentID: r.PaymentID, GatewayPaymentID: r.GatewayPaymentID, Amount: r.Amount}, answer), "key", key)
	}
	if err != nil {
		return contract.Refund{}, err
	}
	return answer.refund(r.Key, r.PaymentID, r.CreatedAt), nil
}

// OrderPayments returns one of FinFlow's orders and Razorpay's payment
// attempts on it (reconciliation). Returns ErrOrderNotFound for an order
// FinFlow did not make.
func (a *Adapter) OrderPayments(ctx context.Context, orderID string) (Order, []contract.GatewayPayment, error) {
	if !ValidOrderID(orderID) {
		return Order{}, nil, ErrOrderNotFound
	}
	o, err := a.Store.Order(ctx, orderID)
	if err != nil {
		return Order{}, nil, err
	}
	items, err := a.Gateway.OrderPayments(ctx, orderID)
	if err != nil {
		return o, nil, err
	}
	for _, p := range items {
		if err := a.checkAnswer(ctx, checkOrderPaymentAnswer(o, p), "order_id", orderID); err != nil {
			return o, nil, err
		}
	}
	return o, items, nil
}

// Payment fetches one gateway payment from Razorpay, so that a late capture
// is settled only by the payment it names.
func (a *Adapter) Payment(ctx context.Context, gatewayPaymentID string) (contract.GatewayPayment, error) {
	if !ValidPaymentID(gatewayPaymentID) {
		return contract.GatewayPayment{}, apperr.Invalid("gateway_payment_id", "gateway_payment_id must be a Razorpay payment id")
	}
	p, err := a.Gateway.Payment(ctx, gatewayPaymentID)
	if err == nil {
		err = a.checkAnswer(ctx, checkFetchedPaymentAnswer(gatewayPaymentID, p), "gateway_payment_id", gatewayPaymentID)
	}
	if err != nil {
		return contract.GatewayPayment{}, err
	}
	return p, nil
}

// RecentDeliveries lists the recent webhook deliveries, newest first.
func (a *Adapter) RecentDeliveries(ctx context.Context) ([]json.RawMessage, error) {
	if a.Deliveries == nil {
		return nil, apperr.New(apperr.KindNotFound, apperr.CodeRouteNotFound, "this razorpay service keeps no delivery log")
	}
	return a.Deliveries.Entries(ctx)
}

// WebhookDelivery is one POST of Razorpay's webhook.
type WebhookDelivery struct {
	Body      []byte
	Signature string // X-Razorpay-Signature
	EventID   string // X-Razorpay-Event-Id
	RequestID string
}

// WebhookBudget bounds the handling of one webhook delivery. Razorpay
// counts a delivery not answered 2xx within 5 seconds as failed (it is
// retried, and a webhook that keeps failing is disabled), and each sidecar
// call has 5 seconds of its own (a broker down made the answer 503 after
// 5.01 s: a timeout at Razorpay, not FinFlow's 503); the gateway's hop
// needs the rest.
const WebhookBudget = 3500 * time.Millisecond

// WebhookAnswer is what Razorpay is told (with 200).
type WebhookAnswer struct {
	Status  string `json:"status"` // the outcome
	EventID string `json:"event_id"`
}

// HandleWebhook authenticates a delivery and handles it exactly once per
// event id. Nothing in it is trusted, or even parsed, before its signature
// is checked: a bad or missing signature is ErrSignatureInvalid or
// ErrSignatureMissing (400), and nothing changes. Once the signature holds,
// every verified event is answered 2xx, because Razorpay retries anything
// else and disables a webhook that keeps failing: an event FinFlow acts on
// is published for the payment service first (accepted); a repeat is a
// duplicate; an event FinFlow does not use or a payment it did not start is
// ignored; a malformed event or an order FinFlow never made is parked on
// contract.TopicGatewayParked for an operator. A delivery without a usable
// event id is identified by its body (BodyEventID). Only FinFlow's own
// failure to record or publish returns an error (503, and Razorpay delivers
// again). All of it is done within WebhookBudget, so that Razorpay is
// answered (a 503 if FinFlow's store or broker is slow) before it gives up
// on the delivery itself.
func (a *Adapter) HandleWebhook(ctx context.Context, d WebhookDelivery) (WebhookAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, WebhookBudget)
	defer cancel()
	if err := VerifySignature(d.Body, d.Signature, a.WebhookSecret); err != nil {
		a.Log.Warn("webhook refused", "reason", apperr.From(err).Message, "request_id", d.RequestID)
		a.report(d, Delivery{Outcome: OutcomeRefused, Status: http.StatusBadRequest})
		return WebhookAnswer{}, err
	}
	eventID := d.EventID
	if !ValidEventID(eventID) {
		eventID = BodyEventID(d.Body)
		a.Log.Warn("verified webhook without a usable event id; identified by its body", "event_id", eventID, "request_id", d.RequestID)
	}
	answer, rec, err := a.handleVerified(ctx, eventID, d.Body)
	log := a.Log.With("event_id", eventID, "request_id", d.RequestID)
	if err != nil {
		log.Warn("verified webhook not recorded; Razorpay will deliver it again", "err", err.Error())
		rec.Outcome, rec.Status = OutcomeError, apperr.From(err).Kind.Status()
		a.report(d, rec)
		return WebhookAnswer{}, err
	}
	rec.Status = http.StatusOK
	a.report(d, rec)
	switch rec.Outcome {
	case OutcomeAccepted:
		log.Info("webhook verified and published", "event", rec.Event, "order_id", rec.OrderID, "payment_id", rec.PaymentID, "status", rec.Result)
	case OutcomeDuplicate:
		log.Info("webhook event seen before")
	case OutcomeIgnored:
		log.Info("webhook event ignored", "event", rec.Event, "reason", rec.Reason)
	default:
		log.Warn("webhook event parked for an operator", "outcome", rec.Outcome, "event", rec.Event, "order_id", rec.OrderID, "reason", rec.Reason)
	}
	return answer, nil
}

// handleVerified handles a verified event and returns the answer and the
// delivery record.
func (a *Adapter) handleVerified(ctx context.Context, eventID string, body []byte) (WebhookAnswer, Delivery, error) {
	rec := Delivery{EventID: eventID}
	seen, err := a.Store.EventSeen(ctx, eventID)
	if err != nil {
		return WebhookAnswer{}, rec, err
	}
	if seen {
		rec.Outcome = OutcomeDuplicate
		return WebhookAnswer{Status: OutcomeDuplicate, EventID: eventID}, rec, nil
	}
	r, verdict, reason := ParseEvent(eventID, body, a.Now())
	rec.Event, rec.OrderID, rec.Result, rec.Reason = r.Event, r.OrderID, r.Status, reason
	topic := contract.TopicGatewayResults
	switch verdict {
	case Ignore:
		rec.Outcome = OutcomeIgnored
		topic = ""
	case Malformed:
		rec.Outcome = OutcomeMalformed
		topic = contract.TopicGatewayParked
	case Foreign:
		rec.Outcome = OutcomeForeign
		topic = contract.TopicGatewayParked
		if r.OrderID != "" && r.PaymentID == "" {
			// Whose money it was, for the operator (best effort: the
			// refund is parked either way).
			if order, err := a.Store.Order(ctx, r.OrderID); err == nil {
				r.PaymentID = order.PaymentID
				rec.Reason += "; it refunds FinFlow's " + order.PaymentID
			}
		}
	case Act:
		if r.RefundKey != "" {
			rec.Outcome = OutcomeAccepted // a refund FinFlow made: its notes name it
			break
		}
		fallthrough
	default:
		order, err := a.Store.Order(ctx, r.OrderID)
		switch {
		case err == nil:
			r.PaymentID = order.PaymentID
			rec.Outcome = OutcomeAccepted
		case apperr.From(err).Code == ErrOrderNotFound.Code:
			rec.Outcome, rec.Reason = OutcomeUnknownOrder, "order "+r.OrderID+" was not made by FinFlow"
			topic = contract.TopicGatewayParked
		default:
			return WebhookAnswer{}, rec, err
		}
	}
	rec.PaymentID = r.PaymentID
	if topic != "" {
		if topic == contract.TopicGatewayParked {
			r.Reason = rec.Reason
		}
		// Durably published before Razorpay gets its 2xx: a crash before
		// this point makes Razorpay deliver again.
		if err := a.Publisher.Publish(ctx, contract.PubSub, topic, r, eventID); err != nil {
			return WebhookAnswer{}, rec, err
		}
	}
	marked := r
	marked.Reason = rec.Outcome
	if rec.Reason != "" {
		marked.Reason += ": " + rec.Reason
	}
	first, err := a.Store.MarkEvent(ctx, eventID, marked)
	switch {
	case err != nil && topic == "":
		return WebhookAnswer{}, rec, err
	case err != nil:
		// Published already; a redelivery is published again and
		// de-duplicated by its consumer.
		a.Log.WarnContext(ctx, "recording a published event", "event_id", eventID, "err", err.Error())
	case !first:
		// Another delivery of this event, racing this one, recorded it
		// first: this one is the duplicate. Both may have published it;
		// the payment service applies an event once (by its id).
		rec = Delivery{EventID: eventID, Outcome: OutcomeDuplicate}
	}
	return WebhookAnswer{Status: rec.Outcome, EventID: eventID}, rec, nil
}

// report tells the metrics and the delivery log about a delivery. Refused
// deliveries (unsigned: anyone can send them) are counted in the metrics
// only, so that they cannot push real deliveries out of the log.
func (a *Adapter) report(d WebhookDelivery, rec Delivery) {
	if a.OnWebhook != nil {
		a.OnWebhook(rec.Outcome)
	}
	if a.Deliveries == nil || rec.Outcome == OutcomeRefused {
		return
	}
	rec.At, rec.RequestID = a.Now().UTC(), d.RequestID
	if rec.EventID == "" {
		rec.EventID = printable(d.EventID, 64)
	}
	a.Deliveries.Add(rec)
}
