package sim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a simulator.
type Config struct {
	// KeyID and KeySecret are the basic-auth credentials the API accepts.
	KeyID, KeySecret string
	// WebhookSecret signs webhooks (HMAC-SHA256 of the raw body).
	WebhookSecret string
	// WebhookURL receives the webhooks.
	WebhookURL string
	// AccountID appears in webhook envelopes.
	AccountID string
	// DeliveryTimeout is how long a webhook delivery waits for an answer
	// (Razorpay: 5 s).
	DeliveryTimeout time.Duration
	// FirstRetry and MaxRetry bound the exponential backoff between
	// delivery attempts; GiveUpAfter ends the retries (Razorpay: 24 h).
	FirstRetry, MaxRetry, GiveUpAfter time.Duration
	// MaxOrderAmount is the account's transaction limit in paise: orders
	// above it are refused as Razorpay refuses them (default 50,00,000.00
	// INR, a common limit of a new Razorpay account).
	MaxOrderAmount int64
	// RefundSettle is how long a refund stays pending before it is
	// processed and refund.processed is delivered (default 300 ms; a
	// negative value leaves refunds pending until POST
	// /sim/refunds/{id}/settle).
	RefundSettle time.Duration
}

func (c *Config) defaults() {
	if c.AccountID == "" {
		c.AccountID = "acc_FinFlowSim00001"
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = 5 * time.Second
	}
	if c.FirstRetry == 0 {
		c.FirstRetry = 250 * time.Millisecond
	}
	if c.MaxRetry == 0 {
		c.MaxRetry = 5 * time.Second
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = 24 * time.Hour
	}
	if c.MaxOrderAmount == 0 {
		c.MaxOrderAmount = 500_000_000
	}
	if c.RefundSettle == 0 {
		c.RefundSettle = 300 * time.Millisecond
	}
}

// Server is a running simulator.
type Server struct {
	cfg    Config
	client *http.Client

	mu         sync.Mutex
	orders     map[string]*order
	payments   map[string]*payment
	refunds    map[string]*refund
	refundKeys map[string]string // X-Refund-Idempotency -> refund id
	deliveries []Delivery
	webhookURL string
	faults     []*Fault
	calls      map[string]int // API calls by operation, faulted ones included
	settle     time.Duration  // cfg.RefundSettle, changeable (POST /sim/settings)

	saved []byte // the state file as last written (Persist)

	stop chan struct{}
	wg   sync.WaitGroup
}

// New returns a simulator. Call Close to stop its deliveries.
func New(cfg Config) *Server {
	cfg.defaults()
	return &Server{
		cfg: cfg, client: &http.Client{Timeout: cfg.DeliveryTimeout},
		orders: map[string]*order{}, payments: map[string]*payment{}, refunds: map[string]*refund{},
		refundKeys: map[string]string{}, webhookURL: cfg.WebhookURL, stop: make(chan struct{}), calls: map[string]int{},
		settle: cfg.RefundSettle,
	}
}

// SetWebhookURL changes where webhooks go.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = u
}

// Close stops retrying deliveries and waits for the delivery goroutines.
func (s *Server) Close() {
	close(s.stop)
	s.wg.Wait()
}

// Handler serves Razorpay's API (under /v1, basic auth) and the control
// routes (under /sim).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/orders", s.api(OpCreateOrder, s.createOrder))
	mux.HandleFunc("GET /v1/orders/{id}", s.api(OpFetchOrder, s.getOrder))
	mux.HandleFunc("GET /v1/orders/{id}/payments", s.api(OpOrderPayments, s.orderPayments))
	mux.HandleFunc("GET /v1/payments/{id}", s.api(OpFetchPayment, s.getPayment))
	mux.HandleFunc("POST /v1/payments/{id}/capture", s.api(OpCapture, s.capturePayment))
	mux.HandleFunc("POST /v1/payments/{id}/refund", s.api(OpRefund, s.refundPayment))
	mux.HandleFunc("GET /v1/refunds/{id}", s.api(OpFetchRefund, s.getRefund))
	mux.HandleFunc("GET /v1/payments/{id}/refunds/{refund}", s.api(OpFetchRefund, s.getRefund))
	mux.HandleFunc("POST /sim/orders/{id}/pay", s.simPay)
	mux.HandleFunc("POST /sim/payments/{id}/capture", s.simLateCapture)
	mux.HandleFunc("POST /sim/payments/{id}/refund", s.simDashboardRefund)
	mux.HandleFunc("GET /sim/deliveries", s.simDeliveries)
	mux.HandleFunc("POST /sim/faults", s.simAddFault)
	mux.HandleFunc("GET /sim/faults", s.simFaults)
	mux.HandleFunc("DELETE /sim/faults", s.simClearFaults)
	mux.HandleFunc("GET /sim/calls", s.simCalls)
	mux.HandleFunc("POST /sim/refunds/{id}/settle", s.simSettleRefund)
	mux.HandleFunc("GET /sim/refunds", s.simRefunds)
	mux.HandleFunc("POST /sim/settings", s.simSettings)
	s.checkoutRoutes(mux) // Standard Checkout offline: checkout.js and its modal (checkout.go)
	mux.HandleFunc("GET /sim/health", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError("The requested URL was not found on the server.", ""))
	})
	return mux
}

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.KeyID)) != 1 ||
			subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.KeySecret)) != 1 {
			writeJSON(w, http.StatusUnauthorized, apiError("The api key provided is invalid", ""))
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	return dec.Decode(v)
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := decode(r, &req); err != nil {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	amount, ok := wholeNumber(req["amount"])
	if !ok {
		writeJSON(w, 400, apiError("The amount must be an integer.", "amount"))
		return
	}
	if amount < 100 {
		writeJSON(w, 400, apiError("The amount must be at least INR 1.00.", "amount"))
		return
	}
	if amount > s.cfg.MaxOrderAmount {
		writeJSON(w, 400, apiError("Amount exceeds maximum amount allowed.", "amount"))
		return
	}
	currency, _ := req["currency"].(string)
	if len(currency) != 3 {
		writeJSON(w, 400, apiError("The currency field is required.", "currency"))
		return
	}
	if currency != "INR" {
		writeJSON(w, 400, apiError("Currency is not supported", "currency"))
		return
	}
	receipt, _ := req["receipt"].(string)
	if len(receipt) > 40 {
		writeJSON(w, 400, apiError("The receipt may not be greater than 40 characters.", "receipt"))
		return
	}
	n := map[string]string{}
	if raw, ok := req["notes"].(map[string]any); ok {
		if len(raw) > 15 {
			writeJSON(w, 400, apiError("Number of notes should be less than or equal to 15.", "notes"))
			return
		}
		for k, v := range raw {
			n[k] = fmt.Sprint(v)
		}
	}
	o := &order{ID: newID("order"), Amount: amount, Currency: currency, Receipt: receipt, Status: "created", Notes: n, CreatedAt: time.Now()}
	s.mu.Lock()
	s.orders[o.ID] = o
	s.mu.Unlock()
	writeJSON(w, 200, o.entity())
}

func wholeNumber(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func (s *Server) findOrder(w http.ResponseWriter, id string) *order {
	o, ok := s.orders[id]
	if !ok {
		writeJSON(w, 400, apiError("The id provided does not exist", "id"))
	}
	return o
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.findOrder(w, r.PathValue("id")); o != nil {
		writeJSON(w, 200, o.entity())
	}
}

func (s *Server) orderPayments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.findOrder(w, r.PathValue("id"))
	if o == nil {
		return
	}
	items := []any{}
	for _, p := range s.payments {
		if p.OrderID == o.ID {
			items = append(items, p.entity())
		}
	}
	writeJSON(w, 200, map[string]any{"entity": "collection", "count": len(items), "items": items})
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[r.PathValue("id")]
	if !ok {
		writeJSON(w, 400, apiError("The id provided does not exist", "id"))
		return
	}
	writeJSON(w, 200, p.entity())
}

// refundPayment refunds a captured payment, with Razorpay's rules
// (api/refunds/normal-refunds-idempotent): X-Refund-Idempotency (at least
// 10 characters of [A-Za-z0-9_-]) makes a repeat of the same request return
// the same refund, and the same key with another request is a 400; only a
// captured payment can be refunded, for at least INR 1.00 and at most what
// is left of it. (Razorpay also answers 409 to a repeat while the first is
// still being processed; a fault can stand in for it.)
func (s *Server) refundPayment(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := decode(r, &req); err != nil {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	key := r.Header.Get("X-Refund-Idempotency")
	if key != "" && !validRefundKey(key) {
		writeJSON(w, 400, apiError("The idempotency key must be at least 10 characters long and can contain alphabets, numbers, hyphens and underscores only.", ""))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[r.PathValue("id")]
	requested := int64(-1) // the whole remaining amount
	if v, given := req["amount"]; given {
		n, whole := wholeNumber(v)
		if !whole || n <= 0 {
			writeJSON(w, 400, apiError("The amount must be an integer.", "amount"))
			return
		}
		requested = n
	}
	if key != "" {
		if id, seen := s.refundKeys[key]; seen {
			rf := s.refunds[id]
			if rf.PaymentID != r.PathValue("id") || (requested >= 0 && requested != rf.Amount) {
				writeJSON(w, 400, apiError("Different request with the same idempotency key has already been processed.", ""))
				return
			}
			writeJSON(w, 200, rf.entity())
			return
		}
	}
	switch {
	case !ok:
		writeJSON(w, 400, apiError("The id provided does not exist", "id"))
		return
	case p.Status == "refunded" || p.AmountRefunded >= p.Amount:
		writeJSON(w, 400, apiError("The payment has been fully refunded already.", ""))
		return
	case p.Status != "captured":
		writeJSON(w, 400, apiError("Only captured payments can be refunded.", ""))
		return
	}
	amount := requested
	if amount < 0 {
		amount = p.Amount - p.AmountRefunded
	}
	if amount < 100 {
		writeJSON(w, 400, apiError("The amount must be at least INR 1.00.", "amount"))
		return
	}
	if amount > p.Amount-p.AmountRefunded {
		writeJSON(w, 400, apiError("The refund amount provided is greater than amount captured.", "amount"))
		return
	}
	n := map[string]string{}
	if raw, ok := req["notes"].(map[string]any); ok {
		for k, v := range raw {
			n[k] = fmt.Sprint(v)
		}
	}
	rf := s.refund(p, amount, n)
	if key != "" {
		s.refundKeys[key] = rf.ID
	}
	writeJSON(w, 200, rf.entity())
}

// refund records a pending refund of amount on a captured payment (s.mu
// held); it is processed after the settle delay, unless settled first.
func (s *Server) refund(p *payment, amount int64, notes map[string]string) *refund {
	rf := &refund{ID: newID("rfnd"), PaymentID: p.ID, Amount: amount, Currency: p.Currency, Status: "pending", Notes: notes, CreatedAt: time.Now()}
	s.refunds[rf.ID] = rf
	p.AmountRefunded += amount
	if p.AmountRefunded == p.Amount {
		p.Status = "refunded"
	}
	s.settleLater(rf.ID)
	return rf
}

// settleLater processes refund id after the settle delay (s.mu held),
// unless it is settled first or the delay is negative.
func (s *Server) settleLater(id string) {
	if s.settle <= 0 {
		return
	}
	s.wg.Add(1)
	go func(wait time.Duration) {
		defer s.wg.Done()
		select {
		case <-time.After(wait):
			s.settleRefund(id, "processed", true)
		case <-s.stop:
		}
	}(s.settle)
}

// settleRefund moves a pending refund to processed or failed (a failed
// refund gives the amount back to the payment) and delivers
// refund.processed or refund.failed, or loses them when deliver is false.
// It reports whether the refund was pending.
func (s *Server) settleRefund(id, outcome string, deliver bool) bool {
	s.mu.Lock()
	rf, ok := s.refunds[id]
	if !ok || rf.Status != "pending" {
		s.mu.Unlock()
		return false
	}
	rf.Status = outcome
	p := s.payments[rf.PaymentID]
	if outcome == "failed" {
		p.AmountRefunded -= rf.Amount
		if p.Status == "refunded" {
			p.Status = "captured"
		}
	}
	ev := s.newRefundEvent("refund."+outcome, rf, p)
	s.mu.Unlock()
	s.deliver([]event{ev}, 0, deliver)
	return true
}

// getRefund answers GET /v1/refunds/{id} (and the same under its payment).
func (s *Server) getRefund(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if rid := r.PathValue("refund"); rid != "" {
		id = rid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds[id]
	if !ok || (r.PathValue("refund") != "" && rf.PaymentID != r.PathValue("id")) {
		writeJSON(w, 400, apiError("The id provided does not exist", "id"))
		return
	}
	writeJSON(w, 200, rf.entity())
}

// validRefundKey is Razorpay's rule for X-Refund-Idempotency (no longest
// length is documented; 255 keeps the header sane).
func validRefundKey(k string) bool {
	if len(k) < 10 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// capturePayment captures an authorized payment (POST
// /v1/payments/{id}/capture {"amount","currency"}), once, for exactly the
// authorized amount, and only while its order is not paid by another
// payment; it delivers payment.captured and order.paid.
func (s *Server) capturePayment(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := decode(r, &req); err != nil {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	s.mu.Lock()
	p, ok := s.payments[r.PathValue("id")]
	var fail string
	var o *order
	switch {
	case !ok:
		fail = "The id provided does not exist"
	case p.Status == "captured" || p.Status == "refunded":
		fail = "This payment has already been captured"
	case p.Status != "authorized":
		fail = "Only payments which have been authorized and not yet captured can be captured"
	default:
		amount, whole := wholeNumber(req["amount"])
		o = s.orders[p.OrderID]
		switch {
		case !whole || amount != p.Amount:
			fail = "Capture amount must be equal to the amount authorized"
		case o.Status == "paid":
			fail = "Order is already paid"
		}
	}
	if fail != "" {
		s.mu.Unlock()
		writeJSON(w, 400, apiError(fail, ""))
		return
	}
	p.Status = "captured"
	o.Status, o.AmountPaid = "paid", o.Amount
	events := []event{s.newEvent("payment.captured", p, o), s.newEvent("order.paid", p, o)}
	entity := p.entity()
	s.mu.Unlock()
	s.deliver(events, 0, true)
	writeJSON(w, 200, entity)
}
