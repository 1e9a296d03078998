// Package http is the billing service's HTTP API (Fiber):
//
//	POST /billing/create        {"user_id","amount","description","due_date"?} -> 201 bill
//	GET  /billing/{billId}      -> 200 bill; 404 BILL_NOT_FOUND
//	PUT  /billing/updateStatus  {"bill_id","status":"PAID","payment_id"} (internal: the
//	                            payment service) -> 200 bill; 409 BILL_ALREADY_PAID
package http

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/billing/domain"
)

// API serves the billing routes.
type API struct {
	bills domain.Store
	users domain.Users
	log   *slog.Logger
	now   func() time.Time
}

// New returns the API.
func New(bills domain.Store, users domain.Users, log *slog.Logger) *API {
	return &API{bills: bills, users: users, log: log, now: time.Now}
}

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/billing/create", a.create)
	app.Put("/billing/updateStatus", a.updateStatus)
	app.Get("/billing/:billId", a.get)
}

// billJSON is the contract's bill object.
type billJSON struct {
	ID          string  `json:"id"`
	UserID      string  `json:"user_id"`
	Amount      int64   `json:"amount"`
	Currency    string  `json:"currency"`
	Description string  `json:"description"`
	DueDate     *string `json:"due_date"`
	Status      string  `json:"status"`
	PaymentID   *string `json:"payment_id"`
	CreatedAt   string  `json:"created_at"`
	PaidAt      *string `json:"paid_at"`
}

func toJSON(b domain.Bill) billJSON {
	out := billJSON{ID: b.ID, UserID: b.UserID, Amount: b.Amount, Currency: b.Currency, Description: b.Description,
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
	if !id.Valid(id.User, req.UserID) {
		return apperr.Invalid("user_id", "user_id must be a user id (usr_...)")
	}
	if err := authz.Owner(c, req.UserID); err != nil {
		return err
	}
	if err := money.CheckCurrency(req.Currency); err != nil {
		return err
	}
	due := ""
	if req.DueDate != nil {
		due = *req.DueDate
	}
	b, err := domain.NewBill(req.UserID, req.Amount, req.Description, due, a.now())
	if err != nil {
		return err
	}
	ok, err := a.users.Exists(c.UserContext(), req.UserID)
	if err != nil {
		return err
	}
	if !ok {
		return domain.ErrUserNotFound
	}
	if token := c.Get(id.HeaderIdempotencyToken); token != "" {
		// A keyed create always proposes the same id, so a retry whose
		// first answer was lost finds its bill instead of making another.
		b.ID = id.Derive(id.Bill, token)
	}
	if err := a.bills.Create(c.UserContext(), b); errors.Is(err, domain.ErrBillExists) {
		prev, gerr := a.bills.Get(c.UserContext(), b.ID)
		if gerr != nil {
			return gerr
		}
		if !prev.SameRequest(b) {
			return domain.ErrKeyReused
		}
		return c.Status(fiber.StatusCreated).JSON(toJSON(prev))
	} else if err != nil {
		return err
	}
	server.Log(c, a.log).Info("bill created", "bill_id", b.ID, "user_id", b.UserID, "amount", b.Amount)
	return c.Status(fiber.StatusCreated).JSON(toJSON(b))
}

func (a *API) get(c *fiber.Ctx) error {
	bid := c.Params("billId")
	if !id.Valid(id.Bill, bid) {
		return domain.ErrBillNotFound
	}
	b, err := a.bills.Get(c.UserContext(), bid)
	if err != nil {
		return err
	}
	if err := authz.OwnerOrApp(c, b.UserID, "payment"); err != nil {
		return err
	}
	return c.JSON(toJSON(b))
}

type updateStatusRequest struct {
	BillID    string `json:"bill_id"`
	Status    string `json:"status"`
	PaymentID string `json:"payment_id"`
}

func (a *API) updateStatus(c *fiber.Ctx) error {
	if err := authz.App(c, "payment"); err != nil {
		return err
	}
	var req updateStatusRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	if !id.Valid(id.Bill, req.BillID) {
		return apperr.Invalid("bill_id", "bill_id must be a bill id (bill_...)")
	}
	if req.Status != string(domain.Paid) {
		return apperr.Invalid("status", "status can only be set to PAID")
	}
	if !id.Valid(id.Payment, req.PaymentID) {
		return apperr.Invalid("payment_id", "payment_id must be a payment id (pay_...)")
	}
	var changed bool
	b, err := a.bills.Update(c.UserContext(), req.BillID, func(b *domain.Bill) (bool, error) {
		var err error
		changed, err = b.MarkPaid(req.PaymentID, a.now())
		return changed, err
	})
	if err != nil {
		return err
	}
	if changed {
		server.Log(c, a.log).Info("bill paid", "bill_id", b.ID, "payment_id", b.PaymentID)
	}
	return c.JSON(toJSON(b))
}
