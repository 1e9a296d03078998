package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// Operations of Razorpay's API, as faults and call counts name them.
const (
	OpCreateOrder   = "create_order"   // POST /v1/orders
	OpFetchOrder    = "fetch_order"    // GET /v1/orders/{id}
	OpOrderPayments = "order_payments" // GET /v1/orders/{id}/payments
	OpFetchPayment  = "fetch_payment"  // GET /v1/payments/{id}
	OpCapture       = "capture"        // POST /v1/payments/{id}/capture
	OpRefund        = "refund"         // POST /v1/payments/{id}/refund
	OpFetchRefund   = "fetch_refund"   // GET /v1/refunds/{id}
	OpAny           = "*"
)

// Fault makes the simulator answer calls of one operation badly for a
// while, the way Razorpay (or the network to it) fails:
//
//	{"op":"refund","status":503,"count":3}       the next 3 refunds: 503
//	{"op":"*","status":429,"for_ms":5000}         every call for 5 s: 429
//	{"op":"create_order","timeout_ms":8000}      hold each call 8 s, then 504
//	{"op":"refund","status":500,"after":true}    make the refund, then say 500
//	{"op":"fetch_payment","status":502,"html":true}  a proxy's HTML page
//	{"op":"create_order","status":503,"match":"\"amount\":777001"}
//	                                              only calls whose path or body has it
//	{"op":"refund","status":302,"location":"/v1/nowhere"}
//	                                              a redirect (3xx, default 302), not the work
//	{"op":"fetch_refund","rewrite":{"amount":100}}  do the work, and answer with these
//	                                              fields replaced (in a list, in every
//	                                              item), as a rewriting proxy would
//
// Count 0 means no limit; ForMS 0 means until cleared (DELETE /sim/faults).
type Fault struct {
	Op        string `json:"op"`
	Match     string `json:"match,omitempty"`
	Status    int    `json:"status,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
	After     bool   `json:"after,omitempty"`
	HTML      bool   `json:"html,omitempty"`
	// Location answers a redirect there (Status 3xx, default 302).
	Location string `json:"location,omitempty"`
	// Rewrite answers the real answer with these fields replaced (in a
	// list's items when the answer is a list).
	Rewrite map[string]any `json:"rewrite,omitempty"`
	Count   int            `json:"count,omitempty"`
	ForMS   int            `json:"for_ms,omitempty"`
	// Until is when a ForMS fault ends; Used counts the calls it answered.
	Until time.Time `json:"until,omitzero"`
	Used  int       `json:"used"`
}

// api serves one operation of Razorpay's API: basic auth, then the call is
// counted, then a fault of the operation (if any) answers instead of, or
// after, the real handler.
func (s *Server) api(op string, next http.HandlerFunc) http.HandlerFunc {
	return s.auth(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, 400, apiError("The request body could not be read", ""))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.calls[op]++
		f := s.fault(op, r.URL.Path+" "+string(body))
		var fault Fault
		if f != nil {
			fault = *f
		}
		s.mu.Unlock()
		if f == nil {
			next(w, r)
			return
		}
		if fault.After {
			next(httptest.NewRecorder(), r) // done, and the answer lost
		}
		if fault.Rewrite != nil {
			rewritten(w, r, next, fault.Rewrite)
			return
		}
		if fault.TimeoutMS > 0 {
			select {
			case <-time.After(time.Duration(fault.TimeoutMS) * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-s.stop:
				return
			}
		}
		status := fault.Status
		if status == 0 {
			status = http.StatusGatewayTimeout
		}
		switch {
		case fault.Location != "":
			if fault.Status == 0 {
				status = http.StatusFound
			}
			w.Header().Set("Location", fault.Location)
			w.WriteHeader(status)
		case fault.HTML:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><head><title>%d</title></head><body><h1>%d %s</h1></body></html>", status, status, http.StatusText(status))
		case status == http.StatusTooManyRequests:
			writeJSON(w, status, apiError("Too many requests", ""))
		case status >= 500:
			writeJSON(w, status, map[string]any{"error": map[string]any{
				"code": "SERVER_ERROR", "description": "The server encountered an error. The incident has been reported to admins.",
				"source": "internal", "step": "payment_initiation", "reason": "server_error", "metadata": map[string]any{},
			}})
		default:
			writeJSON(w, status, apiError(http.StatusText(status), ""))
		}
	})
}

// rewritten does the work of a call and answers its answer with fields
// replaced: at the top, or in every item of a list.
func rewritten(w http.ResponseWriter, r *http.Request, next http.HandlerFunc, fields map[string]any) {
	rec := httptest.NewRecorder()
	next(rec, r)
	var answer map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if dec.Decode(&answer) != nil {
		writeJSON(w, rec.Code, json.RawMessage(rec.Body.Bytes()))
		return
	}
	patch := func(m map[string]any) {
		for k, v := range fields {
			m[k] = v
		}
	}
	if items, ok := answer["items"].([]any); ok {
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				patch(m)
			}
		}
	} else {
		patch(answer)
	}
	writeJSON(w, rec.Code, answer)
}

// fault returns the active fault for op whose Match (if any) is in call,
// and counts its use (s.mu held).
func (s *Server) fault(op, call string) *Fault {
	now := time.Now()
	for _, f := range s.faults {
		if f.Op != op && f.Op != OpAny || f.Match != "" && !strings.Contains(call, f.Match) {
			continue
		}
		if (f.Count > 0 && f.Used >= f.Count) || (!f.Until.IsZero() && now.After(f.Until)) {
			continue
		}
		f.Used++
		return f
	}
	return nil
}

var ops = map[string]bool{OpCreateOrder: true, OpFetchOrder: true, OpOrderPayments: true, OpFetchPayment: true, OpCapture: true, OpRefund: true, OpFetchRefund: true, OpAny: true}

// simAddFault adds a fault (POST /sim/faults).
func (s *Server) simAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, 400, apiError("The request body is not a fault: "+err.Error(), ""))
		return
	}
	switch {
	case !ops[f.Op]:
		writeJSON(w, 400, apiError(`op must be one of create_order, fetch_order, order_payments, fetch_payment, capture, refund, fetch_refund or "*"`, "op"))
		return
	case f.Status == 0 && f.TimeoutMS == 0 && f.Location == "" && f.Rewrite == nil:
		writeJSON(w, 400, apiError("a fault needs a status, a timeout_ms, a location or a rewrite", "status"))
		return
	case f.Status != 0 && (f.Status < 300 || f.Status > 599):
		writeJSON(w, 400, apiError("status must be 300 to 599", "status"))
		return
	case f.Location != "" && f.Status != 0 && f.Status >= 400:
		writeJSON(w, 400, apiError("a redirect's status must be 3xx", "status"))
		return
	case f.Rewrite != nil && (f.Status != 0 || f.Location != "" || f.HTML):
		writeJSON(w, 400, apiError("a rewrite answers the real status: no status, location or html", "rewrite"))
		return
	case f.Count < 0 || f.ForMS < 0 || f.TimeoutMS < 0:
		writeJSON(w, 400, apiError("count, for_ms and timeout_ms cannot be negative", ""))
		return
	}
	if f.ForMS > 0 {
		f.Until = time.Now().Add(time.Duration(f.ForMS) * time.Millisecond)
	}
	f.Used = 0
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
	writeJSON(w, 200, f)
}

// simFaults lists the faults (GET /sim/faults).
func (s *Server) simFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		items = append(items, *f)
	}
	writeJSON(w, 200, map[string]any{"items": items})
}

// simClearFaults removes every fault (DELETE /sim/faults).
func (s *Server) simClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"items": []Fault{}})
}

// simCalls reports how many calls each API operation got (GET /sim/calls).
func (s *Server) simCalls(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		calls[k] = v
	}
	writeJSON(w, 200, map[string]any{"calls": calls})
}
