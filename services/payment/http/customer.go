package http

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/payment/domain"
)

// The customer routes (docs/api-contract.md, "Customer routes"), under the
// service paths the gateway sends them to (an id last, and no rule for a
// path above another's, so that Dapr 1.14's access policies can name them):
//
//	GET  /payments/of/{userId}      (GET /Payment/user/{userId}) ?status=&method=&limit=&cursor=
//	                                -> the user's payments, newest first
//	POST /refunds/of/{paymentId}    (POST /Payment/{paymentId}/refund) {"amount"?,"reason"} (admin) -> 201 refund
//	GET  /refunds/of/{paymentId}    (GET /Payment/{paymentId}/refunds) ?limit=&cursor= -> a page of the payment's refunds, newest first
//	POST /topups/create             (POST /wallet/topup) {"user_id","amount"} -> 201 top-up with its Razorpay order
//	GET  /topups/one/{topupId}      (GET /wallet/topup/{topupId}) -> top-up
//	GET  /topups/of/{userId}        (GET /wallet/user/{userId}/topups) ?status=&limit=&cursor=
//	                                -> the user's top-ups, newest first
//
// and, for Dapr, POST /Payment/autopay (topic autopay-bills).

type listJSON[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func page[T any](p domain.Page, each func(domain.Payment) T) listJSON[T] {
	out := listJSON[T]{Items: make([]T, 0, len(p.Items))}
	for _, x := range p.Items {
		out.Items = append(out.Items, each(x))
	}
	if p.Next != "" {
		out.NextCursor = &p.Next
	}
	return out
}

func listing(c *fiber.Ctx, userID string) domain.Listing {
	return domain.Listing{UserID: userID, Status: c.Query("status"), Method: c.Query("method"), Limit: c.Query("limit"), Cursor: c.Query("cursor")}
}

func (a *API) listPayments(c *fiber.Ctx) error {
	p, err := a.pr.ListPayments(c.UserContext(), authz.Caller(c), listing(c, c.Params("userId")))
	if err != nil {
		return err
	}
	return c.JSON(page(p, toJSON))
}

// topUpJSON is the contract's top-up object.
type topUpJSON struct {
	ID            string                `json:"id"`
	UserID        string                `json:"user_id"`
	Amount        int64                 `json:"amount"`
	Currency      string                `json:"currency"`
	Status        string                `json:"status"`
	FailureReason *string               `json:"failure_reason,omitempty"`
	Razorpay      *domain.RazorpayOrder `json:"razorpay"`
	CreatedAt     string                `json:"created_at"`
	UpdatedAt     string                `json:"updated_at"`
	LateCaptureOf *string               `json:"late_capture_of,omitempty"`
	SettledBy     *string               `json:"settled_by,omitempty"`
	Refund        *domain.Refund        `json:"refund,omitempty"`
	GatewayError  *domain.GatewayError  `json:"gateway_error,omitempty"`
}

func topUpOf(p domain.Payment) topUpJSON {
	out := topUpJSON{ID: p.ID, UserID: p.UserID, Amount: p.Amount, Currency: p.Currency, Status: string(p.Status), Razorpay: p.Razorpay,
		CreatedAt: contract.Stamp(p.CreatedAt), UpdatedAt: contract.Stamp(p.UpdatedAt), Refund: p.Refund, GatewayError: p.GatewayError}
	if p.FailureReason != "" {
		out.FailureReason = &p.FailureReason
	}
	if p.LateCaptureOf != "" {
		out.LateCaptureOf = &p.LateCaptureOf
	}
	if p.SettledBy != "" {
		out.SettledBy = &p.SettledBy
	}
	return out
}

type topUpRequest struct {
	UserID string       `json:"user_id"`
	Amount money.Amount `json:"amount"`
}

func (a *API) topUp(c *fiber.Ctx) error {
	var req topUpRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	p, err := a.pr.TopUp(c.UserContext(), authz.Caller(c), req.UserID, req.Amount, c.Get(id.HeaderIdempotencyToken))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(topUpOf(p))
}

func (a *API) getTopUp(c *fiber.Ctx) error {
	p, err := a.pr.GetTopUp(c.UserContext(), authz.Caller(c), c.Params("topupId"))
	if err != nil {
		return err
	}
	return c.JSON(topUpOf(p))
}

func (a *API) listTopUps(c *fiber.Ctx) error {
	p, err := a.pr.ListTopUps(c.UserContext(), authz.Caller(c), listing(c, c.Params("userId")))
	if err != nil {
		return err
	}
	return c.JSON(page(p, topUpOf))
}

// refundJSON is the contract's refund object.
type refundJSON struct {
	ID        string  `json:"id"`
	PaymentID string  `json:"payment_id"`
	Amount    int64   `json:"amount"`
	Currency  string  `json:"currency"`
	Reason    string  `json:"reason"`
	Status    string  `json:"status"`
	Error     *string `json:"error,omitempty"`
	// GatewayError is Razorpay's refusal of the refund (or of telling
	// its status), as a payment's is.
	GatewayError *domain.GatewayError `json:"gateway_error,omitempty"`
	CreatedAt    string               `json:"created_at"`
	UpdatedAt    string               `json:"updated_at"`
}

func refundOf(p domain.Payment, r domain.RefundRecord) refundJSON {
	out := refundJSON{ID: r.ID, PaymentID: p.ID, Amount: r.Amount, Currency: p.Currency, Reason: r.Reason, Status: string(r.Status),
		GatewayError: r.GatewayError, CreatedAt: contract.Stamp(r.CreatedAt), UpdatedAt: contract.Stamp(r.UpdatedAt)}
	if r.Error != "" {
		out.Error = &r.Error
	}
	return out
}

type refundRequest struct {
	Amount *money.Amount `json:"amount"`
	Reason string        `json:"reason"`
}

func (a *API) refund(c *fiber.Ctx) error {
	var req refundRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	r, p, err := a.pr.RequestRefund(c.UserContext(), authz.Caller(c), domain.RefundRequest{PaymentID: c.Params("paymentId"),
		Amount: req.Amount, Reason: req.Reason, IdempotencyToken: c.Get(id.HeaderIdempotencyToken)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(refundOf(p, r))
}

func (a *API) refunds(c *fiber.Ctx) error {
	pg, err := a.pr.Refunds(c.UserContext(), authz.Caller(c), domain.RefundListing{PaymentID: c.Params("paymentId"),
		Limit: c.Query("limit"), Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	out := listJSON[refundJSON]{Items: make([]refundJSON, 0, len(pg.Items))}
	for _, r := range pg.Items {
		out.Items = append(out.Items, refundOf(pg.Payment, r))
	}
	if pg.Next != "" {
		out.NextCursor = &pg.Next
	}
	return c.JSON(out)
}

// autopay pays a subscription's bill from the wallet (topic autopay-bills),
// answering Dapr on purpose as confirm does.
func (a *API) autopay(c *fiber.Ctx) error {
	var ev struct {
		ID   string               `json:"id"`
		Data contract.AutopayBill `json:"data"`
	}
	if err := json.Unmarshal(c.Body(), &ev); err != nil {
		server.Log(c, a.log).Warn("undecodable autopay event", "err", err.Error())
		if perr := a.pr.Park(c.UserContext(), domain.GatewayResult{Reason: "not a CloudEvent with an autopay bill: " + err.Error()}, "undecodable:"+server.RequestID(c)); perr != nil {
			return answer(c, "RETRY")
		}
		return answer(c, "DROP")
	}
	outcome, reason, err := a.pr.Autopay(c.UserContext(), ev.Data)
	switch {
	case err != nil:
		server.Log(c, a.log).Warn("autopay not done yet; retry", "bill_id", ev.Data.BillID, "err", err.Error())
		return answer(c, "RETRY")
	case outcome == domain.Rejected:
		server.Log(c, a.log).Warn("autopay dropped", "bill_id", ev.Data.BillID, "reason", reason)
		return answer(c, "DROP")
	}
	return answer(c, "SUCCESS")
}
