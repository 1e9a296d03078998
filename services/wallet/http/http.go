// Package http is the wallet service's HTTP API (Fiber), as the contract
// specifies it:
//
//	POST /wallet/create/{userId}        -> 201 wallet; 404 USER_NOT_FOUND; 409 WALLET_EXISTS
//	GET  /wallet/balance/{userId}       -> 200 {"user_id","balance","currency"}
//	POST /wallet/add                    {"user_id","amount","reference"?} -> 200 balance + transaction
//	GET  /wallet/transactions/{userId}  ?limit=&cursor= -> newest first
//
// and the internal routes the payment service calls (never routed by the
// gateway):
//
//	POST /wallet/deduct   {"user_id","amount","reference"} -> 200; 422 INSUFFICIENT_FUNDS
//	POST /wallet/reverse  {"user_id","reference"} -> gives the debit with that reference back, once
package http

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/services/wallet/domain"
)

// Runtime settings of the wallet service.
const (
	SettingTxDefaultLimit = "wallet.transactions.default_limit"
	SettingTxMaxLimit     = "wallet.transactions.max_limit"
)

// Settings declares the wallet service's runtime settings.
var Settings = []settings.Int{
	{Key: SettingTxDefaultLimit, Default: 20, Min: 1, Max: 1000},
	{Key: SettingTxMaxLimit, Default: 100, Min: 1, Max: 1000},
}

// API serves the wallet routes.
type API struct {
	svc      *domain.Service
	settings *settings.Settings
	log      *slog.Logger
}

// New returns the API.
func New(svc *domain.Service, s *settings.Settings, log *slog.Logger) *API {
	return &API{svc: svc, settings: s, log: log}
}

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/wallet/create/:userId", a.create)
	app.Get("/wallet/balance/:userId", a.balance)
	app.Post("/wallet/add", a.add)
	app.Get("/wallet/transactions/:userId", a.transactions)
	app.Post("/wallet/deduct", a.deduct)
	app.Post("/wallet/reverse", a.reverse)
}

type walletJSON struct {
	UserID    string `json:"user_id"`
	Balance   int64  `json:"balance"`
	Currency  string `json:"currency"`
	CreatedAt string `json:"created_at,omitempty"`
}

type txJSON struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Amount       int64   `json:"amount"`
	BalanceAfter int64   `json:"balance_after"`
	Reference    *string `json:"reference"`
	CreatedAt    string  `json:"created_at"`
}

func toTx(t domain.Transaction) txJSON {
	out := txJSON{ID: t.ID, Type: string(t.Type), Amount: t.Amount, BalanceAfter: t.BalanceAfter, CreatedAt: stamp(t.CreatedAt)}
	if t.Reference != "" {
		out.Reference = &t.Reference
	}
	return out
}

type changeJSON struct {
	UserID      string `json:"user_id"`
	Balance     int64  `json:"balance"`
	Currency    string `json:"currency"`
	Transaction txJSON `json:"transaction"`
	Replayed    bool   `json:"replayed,omitempty"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// walletUser checks a path user id; a malformed one has no wallet.
func walletUser(c *fiber.Ctx, notFound *apperr.Error) (string, error) {
	u := c.Params("userId")
	if !id.Valid(id.User, u) {
		return "", notFound
	}
	return u, nil
}

func (a *API) create(c *fiber.Ctx) error {
	user, err := walletUser(c, domain.ErrUserNotFound)
	if err != nil {
		return err
	}
	if err := authz.Owner(c, user); err != nil {
		return err
	}
	w, err := a.svc.Create(c.UserContext(), user)
	if err != nil {
		return err
	}
	server.Log(c, a.log).Info("wallet created", "user_id", user)
	return c.Status(fiber.StatusCreated).JSON(walletJSON{UserID: w.UserID, Balance: w.Balance, Currency: w.Currency, CreatedAt: stamp(w.CreatedAt)})
}

func (a *API) balance(c *fiber.Ctx) error {
	user, err := walletUser(c, domain.ErrWalletNotFound)
	if err != nil {
		return err
	}
	if err := authz.Owner(c, user); err != nil {
		return err
	}
	w, err := a.svc.Store.Get(c.UserContext(), user)
	if err != nil {
		return err
	}
	return c.JSON(walletJSON{UserID: w.UserID, Balance: w.Balance, Currency: w.Currency})
}

type changeRequest struct {
	UserID    string       `json:"user_id"`
	Amount    money.Amount `json:"amount"`
	Currency  *string      `json:"currency"`
	Reference *string      `json:"reference"`
}

// operation validates a top-up or deduct request.
func operation(c *fiber.Ctx, typ domain.TxType) (string, domain.Operation, error) {
	var req changeRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return "", domain.Operation{}, err
	}
	if req.UserID == "" {
		return "", domain.Operation{}, apperr.Invalid("user_id", "user_id is required")
	}
	if !id.Valid(id.User, req.UserID) {
		return "", domain.Operation{}, apperr.Invalid("user_id", "user_id %q is not a user id (usr_...)", req.UserID)
	}
	if err := money.CheckCurrency(req.Currency); err != nil {
		return "", domain.Operation{}, err
	}
	op := domain.Operation{Type: typ, Amount: req.Amount.Paise()}
	if req.Reference != nil {
		op.Reference = *req.Reference
		if op.Reference == "" {
			return "", domain.Operation{}, apperr.Invalid("reference", "reference must not be empty")
		}
	} else if token := c.Get(id.HeaderIdempotencyToken); token != "" && typ == domain.Credit {
		// A keyed top-up without a reference uses the key's token as one, so
		// the wallet itself never applies it twice, even when the gateway
		// kept no record of the key (its answer was lost).
		op.Reference = "idem:" + token
	}
	if err := op.Validate(); err != nil {
		return "", domain.Operation{}, err
	}
	return req.UserID, op, nil
}

// add is a top-up: admins only (users top up through Razorpay).
func (a *API) add(c *fiber.Ctx) error {
	if err := authz.Admin(c); err != nil {
		return err
	}
	return a.change(c, domain.Credit)
}

// deduct is internal: only the payment service may debit a wallet.
func (a *API) deduct(c *fiber.Ctx) error {
	if err := authz.App(c, "payment"); err != nil {
		return err
	}
	return a.change(c, domain.Debit)
}

func (a *API) change(c *fiber.Ctx, typ domain.TxType) error {
	user, op, err := operation(c, typ)
	if err != nil {
		return err
	}
	res, err := a.svc.Store.Apply(c.UserContext(), user, op)
	if err != nil {
		return err
	}
	server.Log(c, a.log).Info("wallet changed", "user_id", user, "type", op.Type, "amount", op.Amount,
		"reference", op.Reference, "replayed", res.Replayed, "balance", res.Wallet.Balance)
	return c.JSON(changeJSON{UserID: user, Balance: res.Wallet.Balance, Currency: res.Wallet.Currency, Transaction: toTx(res.Tx), Replayed: res.Replayed})
}

type reverseRequest struct {
	UserID    string `json:"user_id"`
	Reference string `json:"reference"`
}

type reverseJSON struct {
	UserID      string  `json:"user_id"`
	Reversed    bool    `json:"reversed"`
	Transaction *txJSON `json:"transaction"`
}

func (a *API) reverse(c *fiber.Ctx) error {
	if err := authz.App(c, "payment"); err != nil {
		return err
	}
	var req reverseRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	if !id.Valid(id.User, req.UserID) {
		return apperr.Invalid("user_id", "user_id must be a user id (usr_...)")
	}
	if err := domain.ValidateReference(req.Reference, true); err != nil {
		return err
	}
	res, reversed, err := a.svc.Reverse(c.UserContext(), req.UserID, req.Reference)
	if err != nil {
		return err
	}
	out := reverseJSON{UserID: req.UserID, Reversed: reversed}
	if reversed {
		tx := toTx(res.Tx)
		out.Transaction = &tx
		server.Log(c, a.log).Info("debit reversed", "user_id", req.UserID, "reference", req.Reference, "amount", res.Tx.Amount, "replayed", res.Replayed)
	}
	return c.JSON(out)
}

type txPageJSON struct {
	Items      []txJSON `json:"items"`
	NextCursor *string  `json:"next_cursor"`
}

func (a *API) transactions(c *fiber.Ctx) error {
	user, err := walletUser(c, domain.ErrWalletNotFound)
	if err != nil {
		return err
	}
	if err := authz.Owner(c, user); err != nil {
		return err
	}
	limit, err := page.Limit(c.Query("limit"), a.settings.Get(SettingTxDefaultLimit), a.settings.Get(SettingTxMaxLimit))
	if err != nil {
		return err
	}
	txs, err := a.svc.Store.Transactions(c.UserContext(), user, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	out := txPageJSON{Items: make([]txJSON, 0, len(txs.Items))}
	for _, t := range txs.Items {
		out.Items = append(out.Items, toTx(t))
	}
	if txs.Next != "" {
		out.NextCursor = &txs.Next
	}
	return c.JSON(out)
}
