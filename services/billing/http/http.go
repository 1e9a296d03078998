// Package http is the billing service's HTTP API (Fiber). Each handler
// decodes, makes one call to the domain's Service, and encodes:
//
//	POST /billing/create        {"user_id","amount","description","due_date"?} -> 201 bill
//	GET  /billing/{billId}      -> 200 bill; 404 BILL_NOT_FOUND
//	PUT  /billing/updateStatus  contract.MarkPaidRequest (internal: the payment
//	                            service) -> 200 bill; 409 BILL_ALREADY_PAID
package http

import (
	"time"

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

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/billing/create", a.create)
	app.Put(contract.PathBillMarkPaid, a.markPaid)
	app.Get("/billing/:billId", a.get)
}

// ToJSON is the contract's bill object.
func ToJSON(b domain.Bill) contract.Bill {
	out := contract.Bill{ID: b.ID, UserID: b.UserID, Amount: b.Amount, Currency: b.Currency, Description: b.Description,
		Status: string(b.Status), CreatedAt: b.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if b.DueDate != "" {
		out.DueDate = &b.DueDate
	}
	if b.PaymentID != "" {
		out.PaymentID = &b.PaymentID
	}
	if !b.PaidAt.IsZero() {
		p := b.PaidAt.UTC().Format(time.RFC3339Nano)
		out.PaidAt = &p
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
