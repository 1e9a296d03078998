// Package http is the razorpay service's HTTP API (Fiber):
//
//	POST /razorpay/webhook   public (through the gateway): Razorpay's webhook.
//	                         The signature is checked over the raw body, in
//	                         constant time, before anything is parsed; a
//	                         repeated event id changes nothing; a verified
//	                         result is answered 2xx only once it is durably
//	                         published for the payment service.
//
// and the internal routes the payment service calls:
//
//	POST /razorpay/create-order             {"payment_id","amount","currency"} -> the order
//	POST /razorpay/refund                   {"payment_id","gateway_payment_id","amount"}
//	GET  /razorpay/orders/{orderId}/payments  the gateway's payments of an order (reconciliation)
package http

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/ringlog"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// SettingAPIBaseURL is the gateway's address: the simulator by default,
// https://api.razorpay.com with real test-mode keys in the secret store.
const SettingAPIBaseURL = "razorpay.api_base_url"

// TextSettings declares the razorpay service's runtime settings.
var TextSettings = []settings.String{{
	Key: SettingAPIBaseURL, Default: "http://127.0.0.1:8090",
	Valid: func(v string) bool {
		u, err := url.Parse(v)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	},
}}

// API serves the razorpay routes.
type API struct {
	gw            domain.Gateway
	store         domain.Store
	pub           domain.Publisher
	keyID         string
	webhookSecret string
	log           *slog.Logger
	now           func() time.Time
	// OnWebhook, when set, is told the outcome of every webhook delivery:
	// accepted, duplicate, ignored, refused (bad signature or event id) or
	// error (retried by Razorpay). For metrics.
	OnWebhook func(outcome string)
	// Deliveries, when set, keeps the recent webhook deliveries for the ops
	// console (GET /ops/webhooks).
	Deliveries *ringlog.Log
}

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
	RequestID string    `json:"request_id"`
}

// localResult is where webhook leaves the result it published.
const localResult = "razorpay.result"

// New returns the API. keyID is the public key id clients use at checkout;
// webhookSecret signs Razorpay's webhooks.
func New(gw domain.Gateway, store domain.Store, pub domain.Publisher, keyID, webhookSecret string, log *slog.Logger) *API {
	return &API{gw: gw, store: store, pub: pub, keyID: keyID, webhookSecret: webhookSecret, log: log, now: time.Now}
}

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/razorpay/webhook", a.countedWebhook)
	app.Post("/razorpay/create-order", a.createOrder)
	app.Post("/razorpay/refund", a.refund)
	app.Get("/razorpay/orders/:orderId/payments", a.orderPayments)
	app.Get("/ops/webhooks", a.deliveries)
}

// deliveries lists the recent webhook deliveries, newest first, for admins
// (the gateway's ops console).
func (a *API) deliveries(c *fiber.Ctx) error {
	if err := authz.Admin(c); err != nil {
		return err
	}
	if a.Deliveries == nil {
		return apperr.New(apperr.KindNotFound, apperr.CodeRouteNotFound, "this razorpay service keeps no delivery log")
	}
	items, err := a.Deliveries.Entries(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

type createOrderRequest struct {
	PaymentID string       `json:"payment_id"`
	Amount    money.Amount `json:"amount"`
	Currency  *string      `json:"currency"`
}

type orderJSON struct {
	OrderID  string `json:"order_id"`
	KeyID    string `json:"key_id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// createOrder creates the payment's order at the gateway, once: asking
// again for the same payment returns the same order.
func (a *API) createOrder(c *fiber.Ctx) error {
	if err := authz.App(c, "payment"); err != nil {
		return err
	}
	var req createOrderRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return apperr.Invalid("payment_id", "payment_id must be a FinFlow payment id (pay_...)")
	}
	if err := req.Amount.Validate(); err != nil {
		return err
	}
	if err := money.CheckCurrency(req.Currency); err != nil {
		return err
	}
	ctx := c.UserContext()
	o, found, err := a.store.OrderForPayment(ctx, req.PaymentID)
	if err != nil {
		return err
	}
	if !found {
		orderID, err := a.gw.CreateOrder(ctx, req.PaymentID, req.Amount.Paise(), money.INR)
		if err != nil {
			return err
		}
		o, _, err = a.store.SaveOrder(ctx, domain.Order{OrderID: orderID, PaymentID: req.PaymentID, Amount: req.Amount.Paise(), Currency: money.INR, CreatedAt: a.now().UTC()})
		if err != nil {
			return err
		}
		server.Log(c, a.log).Info("razorpay order created", "payment_id", req.PaymentID, "order_id", o.OrderID, "amount", o.Amount)
	}
	if o.Amount != req.Amount.Paise() {
		return apperr.New(apperr.KindConflict, "ORDER_EXISTS", "this payment already has an order for another amount")
	}
	return c.JSON(orderJSON{OrderID: o.OrderID, KeyID: a.keyID, Amount: o.Amount, Currency: o.Currency})
}

// validEventID accepts Razorpay's event ids (evt_ and base62) and little else.
func validEventID(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// countedWebhook is webhook, reporting to OnWebhook the deliveries that
// end in an error (the answered ones report themselves, in answerWebhook).
func (a *API) countedWebhook(c *fiber.Ctx) error {
	err := a.webhook(c)
	if err != nil {
		outcome := "error"
		if apperr.From(err).Kind == apperr.KindInvalid {
			outcome = "refused"
		}
		if a.OnWebhook != nil {
			a.OnWebhook(outcome)
		}
		// Refused deliveries (unsigned: anyone can send them) are counted
		// in the metrics only, so that they cannot push real deliveries
		// out of the log.
		if outcome != "refused" {
			a.record(c, outcome, apperr.From(err).Kind.Status())
		}
	}
	return err
}

// record notes a delivery in the delivery log. The event id is the
// sender's header, cut to a printable 64 characters.
func (a *API) record(c *fiber.Ctx, outcome string, status int) {
	if a.Deliveries == nil {
		return
	}
	d := Delivery{At: a.now().UTC(), EventID: printable(c.Get("X-Razorpay-Event-Id"), 64), Outcome: outcome, Status: status, RequestID: server.RequestID(c)}
	if r, ok := c.Locals(localResult).(domain.Result); ok {
		d.Event, d.OrderID, d.PaymentID, d.Result = r.Event, r.OrderID, r.PaymentID, r.Status
	}
	a.Deliveries.Add(d)
}

// printable keeps at most n printable ASCII characters of s.
func printable(s string, n int) string {
	out := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(out) < n; i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// answerWebhook answers a webhook delivery 200 with its outcome (accepted,
// duplicate or ignored) and reports it to OnWebhook.
func (a *API) answerWebhook(c *fiber.Ctx, outcome, eventID string) error {
	if a.OnWebhook != nil {
		a.OnWebhook(outcome)
	}
	a.record(c, outcome, fiber.StatusOK)
	return c.JSON(fiber.Map{"status": outcome, "event_id": eventID})
}

func (a *API) webhook(c *fiber.Ctx) error {
	body := c.Body()
	// Nothing in the request is trusted, or even parsed, before this.
	if err := domain.VerifySignature(body, c.Get("X-Razorpay-Signature"), a.webhookSecret); err != nil {
		server.Log(c, a.log).Warn("webhook refused", "reason", apperr.From(err).Message)
		return err
	}
	eventID := c.Get("X-Razorpay-Event-Id")
	if !validEventID(eventID) {
		return domain.ErrEventIDMissing
	}
	ctx := c.UserContext()
	seen, err := a.store.EventSeen(ctx, eventID)
	if err != nil {
		return err
	}
	if seen {
		return a.answerWebhook(c, "duplicate", eventID)
	}
	result, handled, err := domain.ParseEvent(eventID, body, a.now())
	if err != nil {
		return err
	}
	log := server.Log(c, a.log).With("event_id", eventID)
	if !handled {
		if err := a.store.MarkEvent(ctx, eventID, domain.Result{EventID: eventID, Event: "ignored", At: a.now().UTC()}); err != nil {
			return err
		}
		log.Info("webhook event ignored")
		return a.answerWebhook(c, "ignored", eventID)
	}
	order, err := a.store.Order(ctx, result.OrderID)
	switch {
	case err == nil:
		result.PaymentID = order.PaymentID
	case apperr.From(err).Code == domain.ErrOrderNotFound.Code:
		// Not an order FinFlow made: published all the same, so the payment
		// service refuses it and keeps it for inspection.
		log.Warn("webhook for an unknown order", "order_id", result.OrderID)
	default:
		return err
	}
	// Durably published (a Redis stream entry) before Razorpay gets its 2xx:
	// a crash before this point makes Razorpay deliver again.
	if err := a.pub.Publish(ctx, domain.PubSub, domain.ResultsTopic, result, eventID); err != nil {
		return err
	}
	if err := a.store.MarkEvent(ctx, eventID, result); err != nil {
		// Published already; a redelivery would be published again and
		// de-duplicated by the payment service.
		log.Warn("recording a published event", "err", err.Error())
	}
	c.Locals(localResult, result)
	log.Info("webhook verified and published", "event", result.Event, "order_id", result.OrderID, "payment_id", result.PaymentID, "status", result.Status)
	return a.answerWebhook(c, "accepted", eventID)
}

type refundRequest struct {
	PaymentID        string       `json:"payment_id"`
	GatewayPaymentID string       `json:"gateway_payment_id"`
	Amount           money.Amount `json:"amount"`
}

// refund gives a captured gateway payment back, once per FinFlow payment.
func (a *API) refund(c *fiber.Ctx) error {
	if err := authz.App(c, "payment"); err != nil {
		return err
	}
	var req refundRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return apperr.Invalid("payment_id", "payment_id must be a FinFlow payment id (pay_...)")
	}
	if !strings.HasPrefix(req.GatewayPaymentID, "pay_") || !validEventID(req.GatewayPaymentID) {
		return apperr.Invalid("gateway_payment_id", "gateway_payment_id must be a Razorpay payment id")
	}
	if err := req.Amount.Validate(); err != nil {
		return err
	}
	ctx := c.UserContext()
	if r, found, err := a.store.RefundForPayment(ctx, req.PaymentID); err != nil {
		return err
	} else if found {
		return c.JSON(r)
	}
	// Razorpay's refund idempotency key: 10+ characters of [A-Za-z0-9_-].
	refundID, status, err := a.gw.Refund(ctx, req.GatewayPaymentID, req.Amount.Paise(), "finflow_"+req.PaymentID)
	if err != nil {
		return err
	}
	r := domain.Refund{RefundID: refundID, PaymentID: req.PaymentID, GatewayPaymentID: req.GatewayPaymentID, Amount: req.Amount.Paise(), Status: status, CreatedAt: a.now().UTC()}
	if err := a.store.SaveRefund(ctx, r); err != nil {
		return err
	}
	server.Log(c, a.log).Info("refund made", "payment_id", r.PaymentID, "refund_id", r.RefundID, "amount", r.Amount)
	return c.JSON(r)
}

func (a *API) orderPayments(c *fiber.Ctx) error {
	if err := authz.App(c, "payment"); err != nil {
		return err
	}
	orderID := c.Params("orderId")
	if !strings.HasPrefix(orderID, "order_") || !validEventID(orderID) {
		return domain.ErrOrderNotFound
	}
	o, err := a.store.Order(c.UserContext(), orderID)
	if err != nil {
		return err
	}
	items, err := a.gw.OrderPayments(c.UserContext(), orderID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"order": o, "items": items})
}
