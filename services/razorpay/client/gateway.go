// Package client talks to Razorpay (or FinFlow's simulator) with
// razorpay-go.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	razorpay "github.com/razorpay/razorpay-go"

	"github.com/finflow/finflow/services/razorpay/domain"
)

// Gateway is a razorpay-go client whose base URL follows a runtime setting,
// so switching between the simulator and Razorpay is configuration.
type Gateway struct {
	keyID, keySecret string
	baseURL          func() string

	mu      sync.Mutex
	client  *razorpay.Client
	current string
}

var _ domain.Gateway = (*Gateway)(nil)

// New returns a Gateway with the given credentials; baseURL is read before
// every call.
func New(keyID, keySecret string, baseURL func() string) *Gateway {
	return &Gateway{keyID: keyID, keySecret: keySecret, baseURL: baseURL}
}

// sdk returns the client for the current base URL. razorpay-go v1.3 keeps a
// package-level request that every NewClient replaces, so clients are made
// under a lock and only when the URL changes.
func (g *Gateway) sdk() *razorpay.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	url := g.baseURL()
	if g.client == nil || url != g.current {
		c := razorpay.NewClient(g.keyID, g.keySecret)
		c.Order.Request.BaseURL = url
		// razorpay-go's errors do not carry the HTTP status; any error is
		// treated as "the gateway did not accept it".
		c.Order.Request.HTTPClient = &http.Client{Timeout: 10 * time.Second}
		g.client, g.current = c, url
	}
	return g.client
}

// call runs f, giving up when ctx ends (razorpay-go takes no context).
func call(ctx context.Context, f func() (map[string]any, error)) (map[string]any, error) {
	type out struct {
		m   map[string]any
		err error
	}
	done := make(chan out, 1)
	go func() { m, err := f(); done <- out{m, err} }()
	select {
	case o := <-done:
		if o.err != nil {
			return nil, domain.ErrGateway.Wrap(o.err)
		}
		return o.m, nil
	case <-ctx.Done():
		return nil, domain.ErrGateway.Wrap(ctx.Err())
	}
}

// CreateOrder implements domain.Gateway: amount in paise, the payment id as
// receipt and in notes.
func (g *Gateway) CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (string, error) {
	c := g.sdk()
	m, err := call(ctx, func() (map[string]any, error) {
		return c.Order.Create(map[string]any{
			"amount": amount, "currency": currency, "receipt": paymentID,
			"notes": map[string]any{"payment_id": paymentID},
		}, nil)
	})
	if err != nil {
		return "", err
	}
	id, _ := m["id"].(string)
	if id == "" {
		return "", domain.ErrGateway.Wrap(fmt.Errorf("order without id: %v", m))
	}
	return id, nil
}

// OrderPayments implements domain.Gateway (GET /v1/orders/{id}/payments).
func (g *Gateway) OrderPayments(ctx context.Context, orderID string) ([]domain.GatewayPayment, error) {
	c := g.sdk()
	m, err := call(ctx, func() (map[string]any, error) { return c.Order.Payments(orderID, nil, nil) })
	if err != nil {
		return nil, err
	}
	// Re-decode the generic map into typed entities: razorpay-go decodes
	// numbers as floating point, and amounts are integer paise.
	raw, _ := json.Marshal(m["items"])
	var items []struct {
		ID               string      `json:"id"`
		Status           string      `json:"status"`
		Amount           json.Number `json:"amount"`
		Currency         string      `json:"currency"`
		ErrorCode        *string     `json:"error_code"`
		ErrorDescription *string     `json:"error_description"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&items); err != nil {
		return nil, domain.ErrGateway.Wrap(err)
	}
	out := make([]domain.GatewayPayment, 0, len(items))
	for _, it := range items {
		amount, err := it.Amount.Int64()
		if err != nil {
			return nil, domain.ErrGateway.Wrap(fmt.Errorf("payment %s has amount %s, not integer paise", it.ID, it.Amount))
		}
		gp := domain.GatewayPayment{ID: it.ID, Status: it.Status, Amount: amount, Currency: it.Currency}
		if it.ErrorCode != nil {
			gp.ErrorCode = *it.ErrorCode
		}
		if it.ErrorDescription != nil {
			gp.ErrorDescription = *it.ErrorDescription
		}
		out = append(out, gp)
	}
	return out, nil
}

// Refund implements domain.Gateway (POST /v1/payments/{id}/refund) with
// X-Refund-Idempotency, passed per call (razorpay-go v1.3's AddHeaders
// panics).
func (g *Gateway) Refund(ctx context.Context, gatewayPaymentID string, amount int64, key string) (string, string, error) {
	c := g.sdk()
	m, err := call(ctx, func() (map[string]any, error) {
		return c.Payment.Refund(gatewayPaymentID, int(amount), map[string]any{"speed": "normal"}, map[string]string{"X-Refund-Idempotency": key})
	})
	if err != nil {
		return "", "", err
	}
	id, _ := m["id"].(string)
	status, _ := m["status"].(string)
	return id, status, nil
}
