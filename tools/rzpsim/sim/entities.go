// Package sim is a Razorpay-compatible gateway simulator for local runs and
// tests: orders, payments and refunds with Razorpay's shapes, ids, error
// envelope and basic auth, and webhooks signed and delivered the way
// Razorpay delivers them (X-Razorpay-Signature, X-Razorpay-Event-Id, a 5 s
// timeout, retries with backoff until a 2xx). Control routes under /sim/
// make payments happen, duplicate or lose their webhooks, and list every
// delivery attempt.
package sim

import (
	"crypto/rand"
	"math/big"
	"time"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns a Razorpay-style id: the prefix, an underscore and 14
// base62 characters (order_RB58MiP5SPFYyM).
func newID(prefix string) string {
	b := make([]byte, 14)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(base62))))
		b[i] = base62[n.Int64()]
	}
	return prefix + "_" + string(b)
}

// notes renders notes as Razorpay does: an empty set is [] rather than {}.
func notes(n map[string]string) any {
	if len(n) == 0 {
		return []any{}
	}
	return n
}

type order struct {
	ID         string
	Amount     int64
	AmountPaid int64
	Currency   string
	Receipt    string
	Status     string // created, attempted, paid
	Attempts   int
	Notes      map[string]string
	CreatedAt  time.Time
}

func (o *order) entity() map[string]any {
	var receipt any
	if o.Receipt != "" {
		receipt = o.Receipt
	}
	return map[string]any{
		"id": o.ID, "entity": "order", "amount": o.Amount, "amount_paid": o.AmountPaid,
		"amount_due": o.Amount - o.AmountPaid, "currency": o.Currency, "receipt": receipt,
		"offer_id": nil, "status": o.Status, "attempts": o.Attempts, "notes": notes(o.Notes),
		"created_at": o.CreatedAt.Unix(),
	}
}

type payment struct {
	ID             string
	OrderID        string
	Amount         int64
	Currency       string
	Status         string // captured, failed, refunded
	Method         string
	AmountRefunded int64
	Notes          map[string]string
	ErrorCode      string
	ErrorDesc      string
	CreatedAt      time.Time
}

func (p *payment) entity() map[string]any {
	e := map[string]any{
		"id": p.ID, "entity": "payment", "amount": p.Amount, "currency": p.Currency, "status": p.Status,
		"order_id": p.OrderID, "invoice_id": nil, "international": false, "method": p.Method,
		"amount_refunded": p.AmountRefunded, "refund_status": nil, "captured": p.Status == "captured" || p.Status == "refunded",
		"description": "FinFlow bill payment", "card_id": nil, "bank": nil, "wallet": nil, "vpa": nil,
		"email": "customer@example.in", "contact": "+919876543210", "notes": notes(p.Notes),
		"fee": nil, "tax": nil, "error_code": nil, "error_description": nil, "error_source": nil,
		"error_step": nil, "error_reason": nil, "acquirer_data": map[string]any{}, "created_at": p.CreatedAt.Unix(),
	}
	if p.Method == "upi" {
		e["vpa"] = "customer@okbank"
	}
	if p.Status == "captured" || p.Status == "refunded" {
		fee := p.Amount * 2 / 100
		e["fee"], e["tax"] = fee, fee*18/118
	}
	if p.AmountRefunded > 0 {
		e["refund_status"] = "partial"
		if p.AmountRefunded == p.Amount {
			e["refund_status"] = "full"
		}
	}
	if p.ErrorCode != "" {
		e["error_code"], e["error_description"] = p.ErrorCode, p.ErrorDesc
		e["error_source"], e["error_step"], e["error_reason"] = "customer", "payment_authorization", "payment_failed"
	}
	return e
}

type refund struct {
	ID        string
	PaymentID string
	Amount    int64
	Currency  string
	Status    string // pending, processed, failed
	Notes     map[string]string
	CreatedAt time.Time
}

func (r *refund) entity() map[string]any {
	return map[string]any{
		"id": r.ID, "entity": "refund", "amount": r.Amount, "currency": r.Currency, "payment_id": r.PaymentID,
		"notes": notes(r.Notes), "receipt": nil, "acquirer_data": map[string]any{"arn": nil},
		"created_at": r.CreatedAt.Unix(), "batch_id": nil, "status": r.Status,
		"speed_processed": "normal", "speed_requested": "normal",
	}
}

// apiError is Razorpay's error envelope.
func apiError(description, field string) map[string]any {
	e := map[string]any{
		"code": "BAD_REQUEST_ERROR", "description": description, "source": "business",
		"step": "payment_initiation", "reason": "input_validation_failed", "metadata": map[string]any{},
	}
	if field != "" {
		e["field"] = field
	}
	return map[string]any{"error": e}
}
