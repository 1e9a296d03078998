// Package client talks to Razorpay (or FinFlow's simulator) with
// razorpay-go, and classifies every answer on purpose.
//
// razorpay-go v1.3 hides the HTTP status of an answer and picks its error
// type from a field Razorpay's documented error body does not always carry
// (error.internal_error_code), so a 500 can come back as a "bad request" and
// a 400 as anything. FinFlow therefore supplies the http.Client the SDK
// uses: its transport sends each call with the caller's context and keeps
// the status and body of the answer, and Gateway classifies from those
// (domain.ClassifyAnswer), never from the SDK's error.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	razorpay "github.com/razorpay/razorpay-go"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// headerCall names a call to the transport. It is set through the SDK's
// per-call extra headers and removed before the request leaves.
const headerCall = "X-Finflow-Call"

// maxAnswer bounds how much of an answer is read (Razorpay's are a few KiB).
const maxAnswer = 1 << 20

// Gateway is a razorpay-go client whose base URL follows a runtime setting,
// so switching between the simulator and Razorpay is configuration.
type Gateway struct {
	keyID, keySecret string
	baseURL          func() string

	calls sync.Map // call id -> *call
	next  atomic.Uint64

	mu      sync.Mutex
	client  *razorpay.Client
	current string
}

var _ domain.Gateway = (*Gateway)(nil)

// call is one request in flight: the context it runs under, and the answer
// the transport saw.
type call struct {
	ctx    context.Context
	status int
	body   []byte
	err    error // the transport's own failure (no answer)
}

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
		// An outer bound only: each call runs under its caller's context.
		// A redirect is never followed: whatever page it leads to was not
		// Razorpay's answer to the call (a 404 there would read as a
		// refusal of an id Razorpay was never asked about), so the 3xx
		// itself is the answer, and a 3xx is no definite answer.
		c.Order.Request.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: transport{g}, CheckRedirect: noRedirects}
		g.client, g.current = c, url
	}
	return g.client
}

// noRedirects keeps a redirect as the answer (http.ErrUseLastResponse).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// transport sends a call under its caller's context and keeps its answer.
type transport struct{ g *Gateway }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	v, ok := t.g.calls.Load(req.Header.Get(headerCall))
	if !ok {
		return nil, errors.New("razorpay client: a call without its id")
	}
	c := v.(*call)
	out := req.Clone(c.ctx)
	out.Header.Del(headerCall)
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		c.err = err
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		c.err = fmt.Errorf("reading the answer: %w", err)
		return nil, c.err
	}
	c.status, c.body = resp.StatusCode, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// do runs one SDK call under ctx and returns Razorpay's answer body, or the
// classified failure (domain.ErrGatewayRefused or domain.ErrGatewayUnavailable).
func (g *Gateway) do(ctx context.Context, op domain.Op, f func(c *razorpay.Client, headers map[string]string) error, extra map[string]string) ([]byte, error) {
	id := strconv.FormatUint(g.next.Add(1), 10)
	c := &call{ctx: ctx}
	g.calls.Store(id, c)
	defer g.calls.Delete(id)
	headers := map[string]string{headerCall: id}
	for k, v := range extra {
		headers[k] = v
	}
	sdkErr := f(g.sdk(), headers)
	if c.err != nil || c.status == 0 {
		cause := c.err
		if cause == nil {
			cause = sdkErr
		}
		if ctx.Err() != nil {
			cause = fmt.Errorf("%w (%v)", ctx.Err(), cause)
		}
		return nil, domain.Unanswered(op, cause)
	}
	if err := domain.ClassifyAnswer(op, c.status, c.body); err != nil {
		return nil, err
	}
	return c.body, nil
}

// decode reads a 2xx answer; numbers stay exact (json.Number), since
// amounts are integer paise.
func decode(op domain.Op, body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return domain.Unanswered(op, fmt.Errorf("Razorpay's answer is not what it documents: %w", err))
	}
	return nil
}

// CreateOrder implements domain.Gateway: amount in paise, the payment id as
// receipt and in notes. It returns the order as Razorpay answered it, for
// the adapter to hold to the request.
func (g *Gateway) CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (domain.OrderAnswer, error) {
	const op = domain.OpCreateOrder
	body, err := g.do(ctx, op, func(c *razorpay.Client, h map[string]string) error {
		_, err := c.Order.Create(map[string]any{
			"amount": amount, "currency": currency, "receipt": paymentID,
			"notes": map[string]any{domain.NoteOrderPayment: paymentID},
		}, h)
		return err
	}, nil)
	if err != nil {
		return domain.OrderAnswer{}, err
	}
	var out struct {
		ID       string          `json:"id"`
		Amount   json.RawMessage `json:"amount"`
		Currency string          `json:"currency"`
		Receipt  *string         `json:"receipt"`
		Notes    json.RawMessage `json:"notes"`
	}
	if err := decode(op, body, &out); err != nil {
		return domain.OrderAnswer{}, err
	}
	if out.ID == "" {
		return domain.OrderAnswer{}, domain.Unanswered(op, errors.New("an order without an id"))
	}
	a := domain.OrderAnswer{ID: out.ID, Currency: out.Currency}
	if a.Amount, err = paise(op, "order "+out.ID, "amount", out.Amount); err != nil {
		return domain.OrderAnswer{}, err
	}
	if out.Receipt != nil {
		a.Receipt = *out.Receipt
	}
	if a.Notes, err = notes(op, "order "+out.ID, out.Notes); err != nil {
		return domain.OrderAnswer{}, err
	}
	return a, nil
}

// paise reads an amount of Razorpay's answer: a JSON integer of paise (not
// a string, a fraction or an exponent), or the answer is not what Razorpay
// documents.
func paise(op domain.Op, what, field string, raw json.RawMessage) (int64, error) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, domain.Unanswered(op, fmt.Errorf("%s has %s %.20q, not integer paise", what, field, raw))
	}
	return v, nil
}

// notes reads an entity's notes: an object of strings, or (Razorpay's way of
// saying none) an empty array or null.
func notes(op domain.Op, what string, raw json.RawMessage) (map[string]string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("[]")) {
		return nil, nil
	}
	var n map[string]any
	if err := json.Unmarshal(t, &n); err != nil {
		return nil, domain.Unanswered(op, fmt.Errorf("%s has notes that are not Razorpay's: %w", what, err))
	}
	out := make(map[string]string, len(n))
	for k, v := range n {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out, nil
}

// paymentEntity is Razorpay's payment entity, the fields FinFlow reads.
type paymentEntity struct {
	ID               string          `json:"id"`
	OrderID          *string         `json:"order_id"`
	Status           string          `json:"status"`
	Amount           json.RawMessage `json:"amount"`
	AmountRefunded   json.RawMessage `json:"amount_refunded"`
	Currency         string          `json:"currency"`
	ErrorCode        *string         `json:"error_code"`
	ErrorDescription *string         `json:"error_description"`
}

func (p paymentEntity) gatewayPayment(op domain.Op) (contract.GatewayPayment, error) {
	amount, err := paise(op, "payment "+p.ID, "amount", p.Amount)
	if err != nil {
		return contract.GatewayPayment{}, err
	}
	gp := contract.GatewayPayment{ID: p.ID, Status: p.Status, Amount: amount, Currency: p.Currency}
	if len(p.AmountRefunded) > 0 && string(p.AmountRefunded) != "null" {
		if gp.AmountRefunded, err = paise(op, "payment "+p.ID, "amount_refunded", p.AmountRefunded); err != nil {
			return contract.GatewayPayment{}, err
		}
	}
	if p.OrderID != nil {
		gp.OrderID = *p.OrderID
	}
	if p.ErrorCode != nil {
		gp.ErrorCode = *p.ErrorCode
	}
	if p.ErrorDescription != nil {
		gp.ErrorDescription = *p.ErrorDescription
	}
	return gp, nil
}

// OrderPayments implements domain.Gateway (GET /v1/orders/{id}/payments).
func (g *Gateway) OrderPayments(ctx context.Context, orderID string) ([]contract.GatewayPayment, error) {
	const op = domain.OpOrderPayments
	body, err := g.do(ctx, op, func(c *razorpay.Client, h map[string]string) error {
		_, err := c.Order.Payments(orderID, nil, h)
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Items []paymentEntity `json:"items"`
	}
	if err := decode(op, body, &out); err != nil {
		return nil, err
	}
	items := make([]contract.GatewayPayment, 0, len(out.Items))
	for _, it := range out.Items {
		gp, err := it.gatewayPayment(op)
		if err != nil {
			return nil, err
		}
		items = append(items, gp)
	}
	return items, nil
}

// Payment implements domain.Gateway (GET /v1/payments/{id}).
func (g *Gateway) Payment(ctx context.Context, gatewayPaymentID string) (contract.GatewayPayment, error) {
	const op = domain.OpFetchPayment
	body, err := g.do(ctx, op, func(c *razorpay.Client, h map[string]string) error {
		_, err := c.Payment.Fetch(gatewayPaymentID, nil, h)
		return err
	}, nil)
	if err != nil {
		return contract.GatewayPayment{}, err
	}
	var p paymentEntity
	if err := decode(op, body, &p); err != nil {
		return contract.GatewayPayment{}, err
	}
	return p.gatewayPayment(op)
}

// refundEntity is Razorpay's refund entity, the fields FinFlow reads.
type refundEntity struct {
	ID        string          `json:"id"`
	PaymentID string          `json:"payment_id"`
	Amount    json.RawMessage `json:"amount"`
	Currency  string          `json:"currency"`
	Status    string          `json:"status"`
	Notes     json.RawMessage `json:"notes"`
}

// answer is the refund as Razorpay answered it, every field FinFlow holds
// the refund to.
func (r refundEntity) answer(op domain.Op) (domain.RefundAnswer, error) {
	if r.ID == "" {
		return domain.RefundAnswer{}, domain.Unanswered(op, errors.New("a refund without an id"))
	}
	if r.Status == "" {
		return domain.RefundAnswer{}, domain.Unanswered(op, fmt.Errorf("refund %s without a status", r.ID))
	}
	a := domain.RefundAnswer{ID: r.ID, PaymentID: r.PaymentID, Currency: r.Currency, Status: r.Status}
	var err error
	if a.Amount, err = paise(op, "refund "+r.ID, "amount", r.Amount); err != nil {
		return domain.RefundAnswer{}, err
	}
	if a.Notes, err = notes(op, "refund "+r.ID, r.Notes); err != nil {
		return domain.RefundAnswer{}, err
	}
	return a, nil
}

// Refund implements domain.Gateway (POST /v1/payments/{id}/refund) with
// X-Refund-Idempotency, passed per call (razorpay-go v1.3's AddHeaders
// panics). It returns the refund as Razorpay answered it.
func (g *Gateway) Refund(ctx context.Context, gatewayPaymentID string, amount int64, key string, notes map[string]string) (domain.RefundAnswer, error) {
	const op = domain.OpRefund
	n := map[string]any{}
	for k, v := range notes {
		n[k] = v
	}
	body, err := g.do(ctx, op, func(c *razorpay.Client, h map[string]string) error {
		_, err := c.Payment.Refund(gatewayPaymentID, int(amount), map[string]any{"speed": "normal", "notes": n}, h)
		return err
	}, map[string]string{"X-Refund-Idempotency": key})
	if err != nil {
		return domain.RefundAnswer{}, err
	}
	var out refundEntity
	if err := decode(op, body, &out); err != nil {
		return domain.RefundAnswer{}, err
	}
	return out.answer(op)
}

// FetchRefund implements domain.Gateway (GET /v1/refunds/{id}): the refund
// as Razorpay answered it.
func (g *Gateway) FetchRefund(ctx context.Context, gatewayRefundID string) (domain.RefundAnswer, error) {
	const op = domain.OpFetchRefund
	body, err := g.do(ctx, op, func(c *razorpay.Client, h map[string]string) error {
		_, err := c.Refund.Fetch(gatewayRefundID, nil, h)
		return err
	}, nil)
	if err != nil {
		return domain.RefundAnswer{}, err
	}
	var out refundEntity
	if err := decode(op, body, &out); err != nil {
		return domain.RefundAnswer{}, err
	}
	return out.answer(op)
}
