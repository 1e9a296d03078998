// Package http is the razorpay service's HTTP API (Fiber). Each handler
// decodes, makes one call to the domain's Adapter, and encodes:
//
//	POST /razorpay/webhook   public (through the gateway): Razorpay's webhook
//	                         (domain.Adapter.HandleWebhook: signature first;
//	                         every verified event answered 2xx once recorded)
//
// and the internal routes the payment service calls (contract.Path*):
//
//	POST /razorpay/create-order               contract.CreateOrderRequest -> contract.Order
//	POST /razorpay/refund                     contract.RefundRequest -> contract.Refund
//	GET  /razorpay/orders/{orderId}/payments  the gateway's payments of an order (reconciliation)
//	GET  /razorpay/payments/{paymentId}       one gateway payment, fetched from Razorpay
//	GET  /razorpay/refunds/{key}              a refund FinFlow made, its status fetched from Razorpay
//	GET  /ops/webhooks                        recent webhook deliveries (admins, the ops console)
//
// Razorpay's definite refusals answer 422 GATEWAY_REFUSED with Razorpay's
// words in details; no definite answer is 503 GATEWAY_UNAVAILABLE.
package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// API serves the razorpay routes.
type API struct{ adapter *domain.Adapter }

// New returns the API over the adapter's use cases.
func New(a *domain.Adapter) *API { return &API{adapter: a} }

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/razorpay/webhook", a.webhook)
	app.Post(contract.PathCreateOrder, a.createOrder)
	app.Post(contract.PathRefund, a.refund)
	app.Get("/razorpay/orders/:orderId/payments", a.orderPayments)
	app.Get("/razorpay/payments/:paymentId", a.payment)
	app.Get("/razorpay/refunds/:key", a.refundStatus)
	app.Get("/ops/webhooks", a.deliveries)
}

func (a *API) webhook(c *fiber.Ctx) error {
	answer, err := a.adapter.HandleWebhook(c.UserContext(), domain.WebhookDelivery{
		Body:      c.Body(),
		Signature: c.Get("X-Razorpay-Signature"),
		EventID:   c.Get("X-Razorpay-Event-Id"),
		RequestID: server.RequestID(c),
	})
	if err != nil {
		return err
	}
	return c.JSON(answer)
}

// createOrderRequest is contract.CreateOrderRequest with the contract's
// strict amount (integer paise).
type createOrderRequest struct {
	PaymentID string       `json:"payment_id"`
	Amount    money.Amount `json:"amount"`
	Currency  string       `json:"currency"`
}

func (a *API) createOrder(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	var req createOrderRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	o, err := a.adapter.CreateOrder(c.UserContext(), contract.CreateOrderRequest{PaymentID: req.PaymentID, Amount: req.Amount.Paise(), Currency: req.Currency})
	if err != nil {
		return err
	}
	return c.JSON(o)
}

// refundRequest is contract.RefundRequest with the contract's strict
// amount.
type refundRequest struct {
	PaymentID        string       `json:"payment_id"`
	GatewayPaymentID string       `json:"gateway_payment_id"`
	Amount           money.Amount `json:"amount"`
	Key              string       `json:"key"`
}

func (a *API) refund(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	var req refundRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	r, err := a.adapter.Refund(c.UserContext(), contract.RefundRequest{PaymentID: req.PaymentID, GatewayPaymentID: req.GatewayPaymentID, Amount: req.Amount.Paise(), Key: req.Key})
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) orderPayments(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	o, items, err := a.adapter.OrderPayments(c.UserContext(), c.Params("orderId"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"order": o, "items": items})
}

func (a *API) payment(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	p, err := a.adapter.Payment(c.UserContext(), c.Params("paymentId"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (a *API) refundStatus(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	r, err := a.adapter.RefundStatus(c.UserContext(), c.Params("key"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// deliveries lists the recent webhook deliveries, newest first, for admins
// (the gateway's ops console).
func (a *API) deliveries(c *fiber.Ctx) error {
	if err := authz.Admin(c); err != nil {
		return err
	}
	items, err := a.adapter.RecentDeliveries(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}
