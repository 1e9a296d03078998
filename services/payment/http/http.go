// Package http is the payment service's HTTP API (Fiber):
//
//	POST /Payment/pay          {"bill_id"} -> 201 SUCCESS; 202 PENDING (finishes by itself);
//	                           422 INSUFFICIENT_FUNDS; 409 BILL_ALREADY_PAID
//	POST /Payment/rozarpay     {"bill_id"} -> 201 PENDING Razorpay payment with its order
//	GET  /Payment/{paymentId}  -> 200 payment; 404 PAYMENT_NOT_FOUND
//
// and, for Dapr (never routed by the gateway):
//
//	GET  /dapr/subscribe         the subscriptions below
//	POST /Payment/confirm        verified gateway results (topic razorpay-results)
//	POST /Payment/dead-letter    results dropped by /Payment/confirm (the dead-letter topic)
//	GET  /Payment/dead-letters   the refused results kept for operators
package http

import (
	"encoding/json"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/tracectx"
	"github.com/finflow/finflow/services/payment/domain"
)

// API serves the payment routes.
type API struct {
	pr  *domain.Processor
	log *slog.Logger
}

// New returns the API over the processor's use cases.
func New(pr *domain.Processor, log *slog.Logger) *API {
	return &API{pr: pr, log: log}
}

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/Payment/pay", a.pay)
	app.Post("/Payment/rozarpay", a.payRazorpay)
	app.Get("/dapr/subscribe", a.subscriptions)
	app.Post("/Payment/confirm", a.confirm)
	app.Post("/Payment/dead-letter", a.deadLetter)
	app.Get("/Payment/dead-letters", a.deadLetters)
	app.Get("/ops/payments", a.recentPayments)
	app.Post("/Payment/autopay", a.autopay)
	app.Get("/payments/of/:userId", a.listPayments)
	app.Post("/refunds/of/:paymentId", a.refund)
	app.Get("/refunds/of/:paymentId", a.refunds)
	app.Post("/topups/create", a.topUp)
	app.Get("/topups/one/:topupId", a.getTopUp)
	app.Get("/topups/of/:userId", a.listTopUps)
	app.Get("/Payment/:paymentId", a.get)
}

// paymentJSON is the contract's payment object.
type paymentJSON struct {
	ID            string                `json:"id"`
	BillID        string                `json:"bill_id"`
	UserID        *string               `json:"user_id"`
	Amount        *int64                `json:"amount"`
	Currency      *string               `json:"currency"`
	Method        string                `json:"method"`
	Status        string                `json:"status"`
	FailureReason *string               `json:"failure_reason"`
	CreatedAt     string                `json:"created_at"`
	UpdatedAt     string                `json:"updated_at"`
	Razorpay      *domain.RazorpayOrder `json:"razorpay,omitempty"`
	Refund        *domain.Refund        `json:"refund,omitempty"`
	LateCaptureOf *string               `json:"late_capture_of,omitempty"`
	SettledBy     *string               `json:"settled_by,omitempty"`
	GatewayError  *domain.GatewayError  `json:"gateway_error,omitempty"`
	// AmountRefunded is what its SUCCESS refunds gave back, in paise.
	AmountRefunded int64 `json:"amount_refunded"`
}

func toJSON(p domain.Payment) paymentJSON {
	out := paymentJSON{ID: p.ID, BillID: p.BillID, Method: string(p.Method), Status: string(p.Status),
		CreatedAt: contract.Stamp(p.CreatedAt), UpdatedAt: contract.Stamp(p.UpdatedAt)}
	if p.UserID != "" {
		out.UserID, out.Amount, out.Currency = &p.UserID, &p.Amount, &p.Currency
	}
	if p.FailureReason != "" {
		out.FailureReason = &p.FailureReason
	}
	out.Razorpay, out.Refund, out.GatewayError = p.Razorpay, p.Refund, p.GatewayError
	out.AmountRefunded = p.AmountRefunded()
	if p.LateCaptureOf != "" {
		out.LateCaptureOf = &p.LateCaptureOf
	}
	if p.SettledBy != "" {
		out.SettledBy = &p.SettledBy
	}
	return out
}

type payRequest struct {
	BillID string `json:"bill_id"`
}

// payRequest reads {"bill_id"} and the payment id a keyed request derives.
func payRequestOf(c *fiber.Ctx) (billID, paymentID string, err error) {
	var req payRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return "", "", err
	}
	if req.BillID == "" {
		return "", "", apperr.Invalid("bill_id", "bill_id is required")
	}
	if !id.Valid(id.Bill, req.BillID) {
		// An id in a body is a field: malformed is 400 naming it (an id in a
		// path is a resource: 404).
		return "", "", apperr.Invalid("bill_id", "bill_id must be a bill id (bill_...)")
	}
	if token := c.Get(id.HeaderIdempotencyToken); token != "" {
		paymentID = id.Derive(id.Payment, token)
	}
	return req.BillID, paymentID, nil
}

func (a *API) payRazorpay(c *fiber.Ctx) error {
	billID, paymentID, err := payRequestOf(c)
	if err != nil {
		return err
	}
	payer, err := authz.Payer(c)
	if err != nil {
		return err
	}
	p, err := a.pr.PayWithRazorpay(c.UserContext(), billID, paymentID, payer)
	if err != nil {
		return err
	}
	if p.Status == domain.Failed {
		return p.Err("")
	}
	return c.Status(fiber.StatusCreated).JSON(toJSON(p))
}

func (a *API) pay(c *fiber.Ctx) error {
	billID, paymentID, err := payRequestOf(c)
	if err != nil {
		return err
	}
	payer, err := authz.Payer(c)
	if err != nil {
		return err
	}
	p, err := a.pr.PayFromWallet(c.UserContext(), billID, paymentID, payer)
	if err != nil {
		return err
	}
	switch p.Status {
	case domain.Success:
		return c.Status(fiber.StatusCreated).JSON(toJSON(p))
	case domain.Pending:
		server.Log(c, a.log).Info("payment accepted, pending", "payment_id", p.ID)
		return c.Status(fiber.StatusAccepted).JSON(toJSON(p))
	}
	return p.Err("")
}

func (a *API) get(c *fiber.Ctx) error {
	p, err := a.pr.Payment(c.UserContext(), authz.Caller(c), c.Params("paymentId"))
	if err != nil {
		return err
	}
	return c.JSON(toJSON(p))
}

type subscription struct {
	PubSubName      string `json:"pubsubname"`
	Topic           string `json:"topic"`
	Route           string `json:"route"`
	DeadLetterTopic string `json:"deadLetterTopic,omitempty"`
}

// subscriptions tells the sidecar what to deliver where. Results refused
// with DROP go to the dead-letter topic, which is consumed too, so that they
// are kept, not lost.
func (a *API) subscriptions(c *fiber.Ctx) error {
	return c.JSON([]subscription{
		{PubSubName: contract.PubSub, Topic: contract.TopicGatewayResults, Route: "/Payment/confirm", DeadLetterTopic: contract.TopicGatewayParked},
		{PubSubName: contract.PubSub, Topic: contract.TopicGatewayParked, Route: "/Payment/dead-letter"},
		{PubSubName: contract.PubSub, Topic: contract.TopicAutopayBills, Route: "/Payment/autopay", DeadLetterTopic: contract.TopicGatewayParked},
	})
}

// cloudEvent is the part of Dapr's CloudEvent envelope FinFlow reads.
type cloudEvent struct {
	ID          string               `json:"id"`
	Data        domain.GatewayResult `json:"data"`
	TraceParent string               `json:"traceparent"`
}

// Dapr's subscriber answers.
func answer(c *fiber.Ctx, status string) error { return c.JSON(fiber.Map{"status": status}) }

// confirm applies a verified gateway result and answers Dapr on purpose:
// SUCCESS when it is applied (or handed to the gateway work) or a
// duplicate; RETRY when FinFlow's own store or billing did not answer (Dapr
// delivers it again, up to the delivery bound); DROP when it does not match
// what FinFlow created, or failed too many deliveries (kept as a dead letter
// first). An undecodable delivery is kept as a dead letter and dropped;
// if even that cannot be recorded, RETRY.
func (a *API) confirm(c *fiber.Ctx) error {
	var ev cloudEvent
	if err := json.Unmarshal(c.Body(), &ev); err != nil {
		server.Log(c, a.log).Warn("undecodable event", "err", err.Error())
		if perr := a.pr.Park(c.UserContext(), domain.GatewayResult{Reason: "not a CloudEvent with a gateway result: " + err.Error()}, "undecodable:"+server.RequestID(c)); perr != nil {
			return answer(c, "RETRY")
		}
		return answer(c, "DROP")
	}
	// Continue the trace of the webhook that published the result (the
	// CloudEvent carries it across the pub/sub hop).
	if tp, ok := tracectx.Parse(ev.TraceParent); ok {
		server.JoinTrace(c, tp)
	}
	outcome, reason, err := a.pr.ApplyResult(c.UserContext(), ev.Data)
	log := server.Log(c, a.log).With("event_id", ev.Data.EventID, "payment_id", ev.Data.PaymentID)
	switch {
	case err != nil:
		log.Warn("gateway result not applied yet; retry", "err", err.Error())
		return answer(c, "RETRY")
	case outcome == domain.Rejected:
		log.Warn("gateway result dropped", "reason", reason)
		return answer(c, "DROP")
	case outcome == domain.Duplicate:
		log.Info("gateway result already applied")
	default:
		log.Info("gateway result applied", "status", ev.Data.Status)
	}
	return answer(c, "SUCCESS")
}

// deadLetter keeps what reaches the dead-letter topic: events the razorpay
// service parked, and results /Payment/confirm dropped.
func (a *API) deadLetter(c *fiber.Ctx) error {
	var ev cloudEvent
	if err := json.Unmarshal(c.Body(), &ev); err != nil {
		ev = cloudEvent{ID: "undecodable:" + server.RequestID(c), Data: domain.GatewayResult{Reason: "an undecodable event on the dead-letter topic: " + err.Error()}}
	}
	if err := a.pr.Park(c.UserContext(), ev.Data, ev.ID); err != nil {
		server.Log(c, a.log).Warn("dead letter not recorded yet; retry", "err", err.Error())
		return answer(c, "RETRY")
	}
	return answer(c, "SUCCESS")
}

func (a *API) deadLetters(c *fiber.Ctx) error {
	items, err := a.pr.DeadLetters(c.UserContext(), authz.Caller(c))
	if err != nil {
		return err
	}
	out := make([]deadLetterJSON, len(items))
	for i, d := range items {
		out[i] = deadLetterOf(d)
	}
	return c.JSON(fiber.Map{"items": out})
}

// deadLetterJSON is a dead letter as GET /admin/dead-letters answers it:
// the stored one with its times written as every public timestamp is
// (contract.Stamp).
type deadLetterJSON struct {
	domain.DeadLetter
	Result     resultJSON `json:"result"`
	Received   string     `json:"received"`
	ResolvedAt string     `json:"resolved_at,omitempty"`
}

// resultJSON is a dead letter's gateway result with its time stamped.
type resultJSON struct {
	domain.GatewayResult
	At string `json:"at"`
}

func deadLetterOf(d domain.DeadLetter) deadLetterJSON {
	out := deadLetterJSON{DeadLetter: d, Result: resultJSON{GatewayResult: d.Result, At: contract.Stamp(d.Result.At)},
		Received: contract.Stamp(d.Received)}
	if !d.ResolvedAt.IsZero() {
		out.ResolvedAt = contract.Stamp(d.ResolvedAt)
	}
	return out
}

// opsPaymentJSON is a payment as the ops console shows it: the contract's
// object and its history.
type opsPaymentJSON struct {
	paymentJSON
	History []domain.Event `json:"history"`
}

// recentPayments lists recent payments with their history, for admins
// (the gateway's ops console).
func (a *API) recentPayments(c *fiber.Ctx) error {
	ps, err := a.pr.Recent(c.UserContext(), authz.Caller(c), c.QueryInt("limit", 50))
	if err != nil {
		return err
	}
	items := make([]opsPaymentJSON, len(ps))
	for i, p := range ps {
		h := p.History
		if h == nil {
			h = []domain.Event{}
		}
		items[i] = opsPaymentJSON{paymentJSON: toJSON(p), History: h}
	}
	return c.JSON(fiber.Map{"items": items})
}
