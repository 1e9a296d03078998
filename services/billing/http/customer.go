package http

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/billing/domain"
)

// listJSON is the contract's page: {"items":[...],"next_cursor":string or null}.
type listJSON[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func pageJSON[T, J any](p domain.Page[T], each func(T) J) listJSON[J] {
	out := listJSON[J]{Items: make([]J, 0, len(p.Items))}
	for _, x := range p.Items {
		out.Items = append(out.Items, each(x))
	}
	if p.Next != "" {
		out.NextCursor = &p.Next
	}
	return out
}

func listing(c *fiber.Ctx) domain.Listing {
	return domain.Listing{UserID: c.Params("userId"), Status: c.Query("status"), Limit: c.Query("limit"), Cursor: c.Query("cursor")}
}

func (a *API) listBills(c *fiber.Ctx) error {
	p, err := a.svc.ListBills(c.UserContext(), authz.Caller(c), listing(c))
	if err != nil {
		return err
	}
	return c.JSON(pageJSON(p, ToJSON))
}

// SubscriptionJSON is the contract's subscription object (amount in paise;
// times RFC 3339 UTC; next_bill_at null once CANCELLED).
type SubscriptionJSON struct {
	ID          string  `json:"id"`
	UserID      string  `json:"user_id"`
	Amount      int64   `json:"amount"`
	Currency    string  `json:"currency"`
	Description string  `json:"description"`
	Interval    string  `json:"interval"`
	Autopay     bool    `json:"autopay"`
	Status      string  `json:"status"`
	StartAt     string  `json:"start_at"`
	NextBillAt  *string `json:"next_bill_at"`
	CreatedAt   string  `json:"created_at"`
	CancelledAt *string `json:"cancelled_at"`
}

// SubscriptionToJSON is the contract's subscription object of s.
func SubscriptionToJSON(s domain.Subscription) SubscriptionJSON {
	out := SubscriptionJSON{ID: s.ID, UserID: s.UserID, Amount: s.Amount, Currency: s.Currency, Description: s.Description,
		Interval: string(s.Interval), Autopay: s.Autopay, Status: string(s.Status), StartAt: contract.Stamp(s.StartAt), CreatedAt: contract.Stamp(s.CreatedAt)}
	if at, ok := s.NextBillAt(); ok {
		next := contract.Stamp(at)
		out.NextBillAt = &next
	}
	if !s.CancelledAt.IsZero() {
		at := contract.Stamp(s.CancelledAt)
		out.CancelledAt = &at
	}
	return out
}

type subscriptionRequest struct {
	UserID      string       `json:"user_id"`
	Amount      money.Amount `json:"amount"`
	Currency    *string      `json:"currency"`
	Description string       `json:"description"`
	Interval    string       `json:"interval"`
	StartAt     *string      `json:"start_at"`
	Autopay     *bool        `json:"autopay"`
}

func (a *API) createSubscription(c *fiber.Ctx) error {
	var req subscriptionRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := domain.NewSubscriptionRequest{UserID: req.UserID, Amount: req.Amount, Currency: req.Currency, Description: req.Description,
		Interval: req.Interval, StartAt: req.StartAt, Autopay: req.Autopay != nil && *req.Autopay,
		IdempotencyToken: c.Get(id.HeaderIdempotencyToken)}
	s, err := a.svc.CreateSubscription(c.UserContext(), authz.Caller(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(SubscriptionToJSON(s))
}

func (a *API) getSubscription(c *fiber.Ctx) error {
	s, err := a.svc.GetSubscription(c.UserContext(), authz.Caller(c), c.Params("subscriptionId"))
	if err != nil {
		return err
	}
	return c.JSON(SubscriptionToJSON(s))
}

func (a *API) listSubscriptions(c *fiber.Ctx) error {
	p, err := a.svc.ListSubscriptions(c.UserContext(), authz.Caller(c), listing(c))
	if err != nil {
		return err
	}
	return c.JSON(pageJSON(p, SubscriptionToJSON))
}

func (a *API) cancelSubscription(c *fiber.Ctx) error {
	s, err := a.svc.CancelKeyedSubscription(c.UserContext(), authz.Caller(c), c.Params("subscriptionId"), c.Get(id.HeaderIdempotencyToken))
	if err != nil {
		return err
	}
	return c.JSON(SubscriptionToJSON(s))
}

// tickBudget bounds one scheduler tick, below the server's write timeout;
// what is left waits for the next tick.
const tickBudget = 20 * time.Second

// tick is one tick of the cron binding: the answer (an empty 200, or the
// error) only tells the sidecar whether it went well.
func (a *API) tick(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), tickBudget)
	defer cancel()
	if _, err := a.svc.RunSchedule(ctx, authz.Caller(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusOK)
}
