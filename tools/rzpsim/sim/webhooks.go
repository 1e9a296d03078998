package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Delivery is one attempt to deliver a webhook.
type Delivery struct {
	Event     string    `json:"event"`
	EventID   string    `json:"event_id"`
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Attempt   int       `json:"attempt"`
	Status    int       `json:"status"` // 0 when no answer came
	Error     string    `json:"error,omitempty"`
	Delivered bool      `json:"delivered"` // false for an event that was deliberately lost
	SentAt    time.Time `json:"sent_at"`   // when the attempt started
	At        time.Time `json:"at"`        // when its answer came (or it failed)
}

// event is one webhook to send.
type event struct {
	name, id, orderID, paymentID string
	body                         []byte
}

// Sign returns the X-Razorpay-Signature of body: hex HMAC-SHA256 with the
// webhook secret.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// newEvent builds a webhook in Razorpay's envelope; the event id travels
// only in the X-Razorpay-Event-Id header.
func (s *Server) newEvent(name string, p *payment, o *order) event {
	contains := []string{"payment"}
	payload := map[string]any{"payment": map[string]any{"entity": p.entity()}}
	if name == "order.paid" {
		contains = append(contains, "order")
		payload["order"] = map[string]any{"entity": o.entity()}
	}
	body, _ := json.Marshal(map[string]any{
		"entity": "event", "account_id": s.cfg.AccountID, "event": name, "contains": contains,
		"payload": payload, "created_at": time.Now().Unix(),
	})
	return event{name: name, id: newID("evt"), orderID: o.ID, paymentID: p.ID, body: body}
}

// newRefundEvent builds a refund.* webhook: the refund and its payment.
func (s *Server) newRefundEvent(name string, rf *refund, p *payment) event {
	body, _ := json.Marshal(map[string]any{
		"entity": "event", "account_id": s.cfg.AccountID, "event": name, "contains": []string{"refund", "payment"},
		"payload":    map[string]any{"refund": map[string]any{"entity": rf.entity()}, "payment": map[string]any{"entity": p.entity()}},
		"created_at": time.Now().Unix(),
	})
	return event{name: name, id: newID("evt"), orderID: p.OrderID, paymentID: p.ID, body: body}
}

// simSettleRefund settles a pending refund now ({"outcome":"processed"|
// "failed","deliver":true|false}).
func (s *Server) simSettleRefund(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Outcome string `json:"outcome"`
		Deliver *bool  `json:"deliver"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil && err != io.EOF {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	if req.Outcome != "processed" && req.Outcome != "failed" {
		writeJSON(w, 400, apiError(`outcome must be "processed" or "failed"`, "outcome"))
		return
	}
	if !s.settleRefund(r.PathValue("id"), req.Outcome, req.Deliver == nil || *req.Deliver) {
		writeJSON(w, 400, apiError("Only a pending refund can be settled", "id"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, 200, s.refunds[r.PathValue("id")].entity())
}

// simSettings changes how the simulator behaves ({"refund_settle_ms": N}:
// refunds are processed N ms after they are made; 0 or less leaves them
// pending until settled by hand).
func (s *Server) simSettings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefundSettleMS *int64 `json:"refund_settle_ms"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.RefundSettleMS == nil {
		writeJSON(w, 400, apiError(`send {"refund_settle_ms": N}`, ""))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle = time.Duration(*req.RefundSettleMS) * time.Millisecond
	writeJSON(w, 200, map[string]any{"refund_settle_ms": s.settle.Milliseconds()})
}

// deliver sends events one after the other, each until it gets a 2xx
// (retrying with backoff) and then again `duplicates` more times. With
// deliver false the events are only recorded, as lost.
func (s *Server) deliver(events []event, duplicates int, deliver bool) {
	if !deliver {
		s.mu.Lock()
		for _, ev := range events {
			s.deliveries = append(s.deliveries, Delivery{Event: ev.name, EventID: ev.id, OrderID: ev.orderID, PaymentID: ev.paymentID, SentAt: time.Now(), At: time.Now()})
		}
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for _, ev := range events {
			for copyN := 0; copyN <= duplicates; copyN++ {
				if !s.deliverUntilAccepted(ev) {
					return
				}
			}
		}
	}()
}

// deliverUntilAccepted posts one event until a 2xx, the give-up time, or
// Close. It reports whether the simulator is still running.
func (s *Server) deliverUntilAccepted(ev event) bool {
	wait := s.cfg.FirstRetry
	giveUp := time.Now().Add(s.cfg.GiveUpAfter)
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		status, err := s.post(ev)
		d := Delivery{Event: ev.name, EventID: ev.id, OrderID: ev.orderID, PaymentID: ev.paymentID, Attempt: attempt, Status: status, Delivered: true, SentAt: sent, At: time.Now()}
		if err != nil {
			d.Error = err.Error()
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
		if status >= 200 && status < 300 {
			return true
		}
		if time.Now().After(giveUp) {
			return true
		}
		select {
		case <-s.stop:
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, s.cfg.MaxRetry)
	}
}

func (s *Server) post(ev event) (int, error) {
	s.mu.Lock()
	url := s.webhookURL
	s.mu.Unlock()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(ev.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Razorpay-Webhook/v1")
	req.Header.Set("X-Razorpay-Event-Id", ev.id)
	req.Header.Set("X-Razorpay-Signature", Sign(ev.body, s.cfg.WebhookSecret))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

type payRequest struct {
	Outcome    string `json:"outcome"`
	Method     string `json:"method"`
	Duplicates int    `json:"duplicates"`
	Deliver    *bool  `json:"deliver"`
}

// simPay makes a payment on an order and delivers its webhooks:
// payment.captured then order.paid, payment.failed, or (outcome
// "authorized") payment.authorized, left for POST /v1/payments/{id}/capture.
func (s *Server) simPay(w http.ResponseWriter, r *http.Request) {
	var req payRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil && err != io.EOF {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	if req.Outcome != "captured" && req.Outcome != "failed" && req.Outcome != "authorized" {
		writeJSON(w, 400, apiError(`outcome must be "captured", "failed" or "authorized"`, "outcome"))
		return
	}
	if req.Method == "" {
		req.Method = "upi"
	}
	deliver := req.Deliver == nil || *req.Deliver
	s.mu.Lock()
	o := s.findOrder(w, r.PathValue("id"))
	if o == nil {
		s.mu.Unlock()
		return
	}
	if o.Status == "paid" {
		s.mu.Unlock()
		writeJSON(w, 400, apiError("Order is already paid", "order_id"))
		return
	}
	p := &payment{ID: newID("pay"), OrderID: o.ID, Amount: o.Amount, Currency: o.Currency, Method: req.Method, Notes: o.Notes, CreatedAt: time.Now()}
	o.Attempts++
	var events []event
	switch req.Outcome {
	case "captured":
		p.Status = "captured"
		o.Status, o.AmountPaid = "paid", o.Amount
		events = []event{s.newEvent("payment.captured", p, o), s.newEvent("order.paid", p, o)}
	case "authorized":
		p.Status = "authorized"
		o.Status = "attempted"
		events = []event{s.newEvent("payment.authorized", p, o)}
	default:
		p.Status = "failed"
		p.ErrorCode, p.ErrorDesc = "BAD_REQUEST_ERROR", "Payment failed because the customer's bank declined it"
		o.Status = "attempted"
		events = []event{s.newEvent("payment.failed", p, o)}
	}
	s.payments[p.ID] = p
	s.mu.Unlock()
	s.deliver(events, req.Duplicates, deliver)
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.id
	}
	writeJSON(w, 200, map[string]any{"payment": p.entity(), "event_ids": ids})
}

// simLateCapture turns a failed payment into a captured one (late
// authorisation, as UPI retries do) and delivers payment.captured and
// order.paid.
func (s *Server) simLateCapture(w http.ResponseWriter, r *http.Request) {
	var req payRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil && err != io.EOF {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	deliver := req.Deliver == nil || *req.Deliver
	s.mu.Lock()
	p, ok := s.payments[r.PathValue("id")]
	if !ok || p.Status != "failed" {
		s.mu.Unlock()
		writeJSON(w, 400, apiError("Only a failed payment can be late-authorised", "id"))
		return
	}
	o := s.orders[p.OrderID]
	p.Status, p.ErrorCode, p.ErrorDesc = "captured", "", ""
	o.Status, o.AmountPaid = "paid", o.Amount
	events := []event{s.newEvent("payment.captured", p, o), s.newEvent("order.paid", p, o)}
	s.mu.Unlock()
	s.deliver(events, req.Duplicates, deliver)
	writeJSON(w, 200, map[string]any{"payment": p.entity(), "event_ids": []string{events[0].id, events[1].id}})
}

// simDeliveries lists every delivery attempt (?order_id= filters).
func (s *Server) simDeliveries(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("order_id")
	s.mu.Lock()
	items := []Delivery{}
	for _, d := range s.deliveries {
		if filter == "" || d.OrderID == filter {
			items = append(items, d)
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"items": items})
}

// simDashboardRefund refunds a captured payment as the merchant does from
// Razorpay's dashboard, outside FinFlow ({"amount"} optional, default the
// rest): FinFlow's own refund of it is then refused as fully refunded.
func (s *Server) simDashboardRefund(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount int64 `json:"amount"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil && err != io.EOF {
		writeJSON(w, 400, apiError("The request body is not valid JSON", ""))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[r.PathValue("id")]
	if !ok || p.Status != "captured" {
		writeJSON(w, 400, apiError("Only a captured payment that is not fully refunded can be refunded", "id"))
		return
	}
	amount := p.Amount - p.AmountRefunded
	if req.Amount > 0 && req.Amount < amount {
		amount = req.Amount
	}
	rf := s.refund(p, amount, nil)
	writeJSON(w, 200, map[string]any{"refund": rf.entity(), "payment": p.entity()})
}

// simRefunds lists refunds (?payment_id= and ?status= filter), as the
// merchant's dashboard would.
func (s *Server) simRefunds(w http.ResponseWriter, r *http.Request) {
	pid, status := r.URL.Query().Get("payment_id"), r.URL.Query().Get("status")
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []any{}
	for _, rf := range s.refunds {
		if (pid == "" || rf.PaymentID == pid) && (status == "" || rf.Status == status) {
			items = append(items, rf.entity())
		}
	}
	writeJSON(w, 200, map[string]any{"items": items})
}
