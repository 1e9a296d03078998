// Package http is the wallet service's HTTP API (Fiber), as the contract
// specifies it. Each handler decodes, makes one call to the domain's
// Service, and encodes:
//
//	POST /wallet/create/{userId}        -> 201 wallet; 404 USER_NOT_FOUND; 409 WALLET_EXISTS
//	GET  /wallet/balance/{userId}       -> 200 {"user_id","balance","currency"}
//	POST /wallet/add                    {"user_id","amount","reference"?} -> 200 balance + transaction
//	GET  /wallet/transactions/{userId}  ?limit=&cursor= -> newest first
//
// and the internal routes the payment service calls (contract.PathWallet*,
// never routed by the gateway):
//
//	POST /wallet/deduct   contract.DebitRequest -> 200; 422 INSUFFICIENT_FUNDS
//	POST /wallet/reverse  contract.ReverseRequest -> gives the debit with that reference back, once
//	POST /wallet/credit   contract.CreditRequest -> a top-up or refund credited, once per reference
//
// The two public POSTs, when keyed (the gateway's X-Idempotency-Token),
// answer 422 IDEMPOTENCY_KEY_REUSED to a key first used for another
// request, and a keyed retry of an opening gets 201 and the wallet it
// opened.
package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/wallet/domain"
)

// API serves the wallet routes.
type API struct{ svc *domain.Service }

// New returns the API over the service's use cases.
func New(svc *domain.Service) *API { return &API{svc: svc} }

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/wallet/create/:userId", a.create)
	app.Get("/wallet/balance/:userId", a.balance)
	app.Post("/wallet/add", a.add)
	app.Get("/wallet/transactions/:userId", a.transactions)
	app.Post(contract.PathWalletDebit, a.deduct)
	app.Post(contract.PathWalletReverse, a.reverse)
	app.Post(contract.PathWalletCredit, a.credit)
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
	out := txJSON{ID: t.ID, Type: string(t.Type), Amount: t.Amount, BalanceAfter: t.BalanceAfter, CreatedAt: contract.Stamp(t.CreatedAt)}
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

func (a *API) create(c *fiber.Ctx) error {
	w, err := a.svc.Create(c.UserContext(), authz.Caller(c), c.Params("userId"), c.Get(id.HeaderIdempotencyToken))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(walletJSON{UserID: w.UserID, Balance: w.Balance, Currency: w.Currency, CreatedAt: contract.Stamp(w.CreatedAt)})
}

func (a *API) balance(c *fiber.Ctx) error {
	w, err := a.svc.Balance(c.UserContext(), authz.Caller(c), c.Params("userId"))
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

// decodeChange reads a top-up or debit request.
func decodeChange(c *fiber.Ctx) (domain.ChangeRequest, error) {
	var req changeRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return domain.ChangeRequest{}, err
	}
	return domain.ChangeRequest{UserID: req.UserID, Amount: req.Amount, Currency: req.Currency, Reference: req.Reference,
		IdempotencyToken: c.Get(id.HeaderIdempotencyToken)}, nil
}

func changed(c *fiber.Ctx, res domain.Result) error {
	return c.JSON(changeJSON{UserID: res.Wallet.UserID, Balance: res.Wallet.Balance, Currency: res.Wallet.Currency, Transaction: toTx(res.Tx), Replayed: res.Replayed})
}

// add is a top-up: admins only (users top up through Razorpay).
func (a *API) add(c *fiber.Ctx) error {
	req, err := decodeChange(c)
	if err != nil {
		return err
	}
	res, err := a.svc.TopUp(c.UserContext(), authz.Caller(c), req)
	if err != nil {
		return err
	}
	return changed(c, res)
}

// deduct is internal: only the payment service may debit a wallet.
func (a *API) deduct(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	req, err := decodeChange(c)
	if err != nil {
		return err
	}
	res, err := a.svc.Debit(c.UserContext(), req)
	if err != nil {
		return err
	}
	return changed(c, res)
}

// credit is internal: only the payment service credits a wallet (top-ups
// captured through Razorpay, refunds of wallet payments).
func (a *API) credit(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	req, err := decodeChange(c)
	if err != nil {
		return err
	}
	res, err := a.svc.Credit(c.UserContext(), req)
	if err != nil {
		return err
	}
	return changed(c, res)
}

type reverseJSON struct {
	UserID      string  `json:"user_id"`
	Reversed    bool    `json:"reversed"`
	Transaction *txJSON `json:"transaction"`
}

func (a *API) reverse(c *fiber.Ctx) error {
	if err := authz.App(c, contract.AppPayment); err != nil {
		return err
	}
	var req contract.ReverseRequest
	if err := server.DecodeJSON(c, &req); err != nil {
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
	}
	return c.JSON(out)
}

type txPageJSON struct {
	Items      []txJSON `json:"items"`
	NextCursor *string  `json:"next_cursor"`
}

func (a *API) transactions(c *fiber.Ctx) error {
	txs, err := a.svc.Transactions(c.UserContext(), authz.Caller(c), c.Params("userId"), c.Query("cursor"), c.Query("limit"))
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
