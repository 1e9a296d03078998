// Package http is the payment service's HTTP API (Fiber):
//
//	POST /Payment/pay          {"bill_id"} -> 201 SUCCESS; 202 PENDING (finishes by itself);
//	                           422 INSUFFICIENT_FUNDS; 409 BILL_ALREADY_PAID
//	GET  /Payment/{paymentId}  -> 200 payment; 404 PAYMENT_NOT_FOUND
package http

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/services/payment/domain"
)

// Runtime settings of the payment service.
const (
	SettingStepTimeoutMS       = "payments.step_timeout_ms"
	SettingRecoveryIntervalMS  = "payments.recovery.interval_ms"
	SettingRecoveryMinAgeMS    = "payments.recovery.min_age_ms"
	SettingRecoveryConcurrency = "payments.recovery.concurrency"
)

// Settings declares the payment service's runtime settings.
var Settings = []settings.Int{
	{Key: SettingStepTimeoutMS, Default: 5000, Min: 100, Max: 60000},
	{Key: SettingRecoveryIntervalMS, Default: 1000, Min: 100, Max: 600000},
	{Key: SettingRecoveryMinAgeMS, Default: 5000, Min: 0, Max: 3600000},
	{Key: SettingRecoveryConcurrency, Default: 8, Min: 1, Max: 256},
}

// API serves the payment routes.
type API struct {
	pr    *domain.Processor
	store domain.Store
	log   *slog.Logger
}

// New returns the API.
func New(pr *domain.Processor, log *slog.Logger) *API {
	return &API{pr: pr, store: pr.Store, log: log}
}

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/Payment/pay", a.pay)
	app.Get("/Payment/:paymentId", a.get)
}

// paymentJSON is the contract's payment object.
type paymentJSON struct {
	ID            string  `json:"id"`
	BillID        string  `json:"bill_id"`
	UserID        *string `json:"user_id"`
	Amount        *int64  `json:"amount"`
	Currency      *string `json:"currency"`
	Method        string  `json:"method"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
}

func toJSON(p domain.Payment) paymentJSON {
	out := paymentJSON{ID: p.ID, BillID: p.BillID, Method: string(p.Method), Status: string(p.Status),
		CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: p.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	if p.UserID != "" {
		out.UserID, out.Amount, out.Currency = &p.UserID, &p.Amount, &p.Currency
	}
	if p.FailureReason != "" {
		out.FailureReason = &p.FailureReason
	}
	return out
}

type payRequest struct {
	BillID string `json:"bill_id"`
}

func (a *API) pay(c *fiber.Ctx) error {
	var req payRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.BillID == "" {
		return apperr.Invalid("bill_id", "bill_id is required")
	}
	if !id.Valid(id.Bill, req.BillID) {
		return domain.ErrBillNotFound
	}
	paymentID := ""
	if token := c.Get(id.HeaderIdempotencyToken); token != "" {
		paymentID = id.Derive(id.Payment, token)
	}
	p, err := a.pr.PayFromWallet(c.UserContext(), req.BillID, paymentID)
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
	pid := c.Params("paymentId")
	if !id.Valid(id.Payment, pid) {
		return domain.ErrPaymentNotFound
	}
	p, err := a.store.Get(c.UserContext(), pid)
	if err != nil {
		return err
	}
	return c.JSON(toJSON(p))
}
