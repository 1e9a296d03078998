// Package http is the billing service's HTTP API (Fiber). Each handler
// decodes, makes one call to the domain's Service, and encodes:
//
//	POST /billing/create        {"user_id","amount","description","due_date"?} -> 201 bill
//	GET  /billing/{billId}      -> 200 bill; 404 BILL_NOT_FOUND
//	PUT  /billing/updateStatus  contract.MarkPaidRequest (internal: the payment
//	                            service) -> 200 bill; 409 BILL_ALREADY_PAID
//	PUT  /billing/refunded      contract.MarkRefundedRequest (internal: the
//	                            payment service) -> 200 bill REFUNDED
//
// The customer routes (docs/api-contract.md, "Customer routes"), under the
// service paths the gateway sends them to (an id last, and no rule for a
// path above another's, so that Dapr 1.14's access policies can name them):
//
//	GET  /bills/of/{userId}                  (GET /billing/user/{userId}) ?status=&limit=&cursor=
//	                                         -> the user's bills, newest first
//	POST /subscriptions/create               (POST /billing/subscriptions) (admin) -> 201 subscription
//	GET  /subscriptions/one/{subscriptionId} (GET /billing/subscriptions/{subscriptionId}) -> subscription
//	GET  /subscriptions/of/{userId}          (GET /billing/user/{userId}/subscriptions) ?limit=&cursor=
//	                                         -> the user's subscriptions, newest first
//	POST /subscriptions/cancel/{id}          (POST /billing/subscriptions/{subscriptionId}/cancel)
//	                                         -> subscription CANCELLED; 409 SUBSCRIPTION_ALREADY_CANCELLED
//
// and, for the sidecar, POST /billing-schedule (the cron input binding of
// that name: one scheduler tick) and GET /dapr/subscribe (no topics).
package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/billing/domain"
)

// API serves the billing routes.
type API struct{ svc *domain.Service }

// New returns the API over the service's use cases.
func New(svc *domain.Service) *API { return &API{svc: svc} }

// ScheduleBinding is the name of the cron input binding that drives the
// scheduler (components/binding-billing-schedule.yaml); the sidecar POSTs to
// the route of that name on every tick.
const ScheduleBinding = "billing-schedule"

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/billing/create", a.create)
	app.Put(contract.PathBillMarkPaid, a.markPaid)
	app.Put(contract.PathBillMarkRefunded, a.markRefunded)
	app.Get("/bills/of/:userId", a.listBills)
	app.Post("/subscriptions/create", a.createSubscription)
	app.Get("/subscriptions/one/:subscriptionId", a.getSubscription)
	app.Get("/subscriptions/of/:userId", a.listSubscriptions)
	app.Post("/subscriptions/cancel/:subscriptionId", a.cancelSubscription)
	app.Post("/"+ScheduleBinding, server.Quiet, a.tick)
	// The sidecar loads the pub/sub component to publish autopay requests,
	// and asks which topics the app takes: none.
	app.Get("/dapr/subscribe", func(c *fiber.Ctx) error { return c.JSON([]any{}) })
	app.Get("/billing/:billId", a.get)
}

// ToJSON is the contract's bill object.
func ToJSON(b domain.Bill) contract.Bill {
	out := contract.Bill{ID: b.ID, UserID: b.UserID, Amount: b.Amount, Currency: b.Currency, Description: b.Description,
		Status: string(b.Status), CreatedAt: contract.Stamp(b.CreatedAt)}
	if b.DueDate != "" {
		out.DueDate = &b.DueDate
	}
	if b.PaymentID != "" {
		out.PaymentID = &b.PaymentID
	}
	if !b.PaidAt.IsZero() {
		p := contract.Stamp(b.PaidAt)
		out.PaidAt = &p
	}
	if b.SubscriptionID != "" {
		out.SubscriptionID, out.Period = &b.SubscriptionID, &b.Period
	}
	return out
}

type createRequest struct {
	UserID      string       `json:"user_id"`
	Amount      money.Amount `json:"amount"`
	Currency    *string      `json:"currency"`
	Description string       `json:"description"`
	DueDate     *string      `json:"due_date"`
}

func (a *API) create(c *fiber.Ctx) error {
	var req createRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := domain.NewBillRequest{UserID: req.UserID, Amount: req.Amount, Currency: req.Currency, Description: req.Description,
		IdempotencyToken: c.Get(id.HeaderIdempotencyToken)}
	if req.DueDate != nil {
		in.DueDate = *req.DueDate
	}
	b, err := a.svc.Create(c.UserContext(), authz.Caller(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(ToJSON(b))
}

func (a *API) get(c *fiber.Ctx) error {
	b, err := a.svc.Get(c.UserContext(), authz.Caller(c), c.Params("billId"))
	if err != nil {
		return err
	}
	return c.JSON(ToJSON(b))
}

func (a *API) markPaid(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	var req contract.MarkPaidRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	b, err := a.svc.MarkPaid(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.JSON(ToJSON(b))
}

func (a *API) markRefunded(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	var req contract.MarkRefundedRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	b, err := a.svc.MarkRefunded(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.JSON(ToJSON(b))
}
