package sim

// Standard Checkout, offline: what a merchant's page gets from
// https://checkout.razorpay.com/v1/checkout.js and the modal it opens. The
// stand-in script defines the same global (new Razorpay(options), .open(),
// .close(), .on("payment.failed", cb), options.handler and
// options.modal.ondismiss) and opens a modal whose iframe is this
// simulator's checkout page, on the simulator's own origin as Razorpay's is
// on api.razorpay.com. There the customer picks a method and pays or
// declines; the payment is made exactly as POST /sim/orders/{id}/pay makes
// it (the same signed webhooks, delivered the same way), and the page
// hands the merchant's handler razorpay_payment_id, razorpay_order_id and
// razorpay_signature (hex HMAC-SHA256 of order_id|payment_id with the key
// secret), or the payment.failed callbacks Razorpay's error object.
//
// Routes:
//
//	GET  /v1/checkout.js                 the script a merchant page loads
//	GET  /v1/checkout/public?origin=     the modal's page (the merchant's origin, for postMessage)
//	GET  /v1/checkout/frame.js, .css     its script and style
//	GET  /v1/checkout/orders/{id}?key_id= what the modal shows of an order
//	POST /v1/checkout/payments           {"key_id","order_id","method","outcome":"captured"|"failed"}

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
)

//go:embed checkout
var checkoutFiles embed.FS

// checkoutMethods are the payment methods the checkout page offers.
var checkoutMethods = map[string]bool{"upi": true, "card": true, "netbanking": true, "wallet": true}

// CheckoutSignature returns the razorpay_signature Standard Checkout hands
// the merchant's handler: hex HMAC-SHA256 of order_id + "|" + payment_id
// with the key secret.
func CheckoutSignature(orderID, paymentID, keySecret string) string {
	m := hmac.New(sha256.New, []byte(keySecret))
	m.Write([]byte(orderID + "|" + paymentID))
	return hex.EncodeToString(m.Sum(nil))
}

// checkoutRoutes registers the Standard Checkout stand-in on mux.
func (s *Server) checkoutRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/checkout.js", checkoutAsset("checkout/checkout.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /v1/checkout/frame.js", checkoutAsset("checkout/frame.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /v1/checkout/frame.css", checkoutAsset("checkout/frame.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /v1/checkout/public", checkoutAsset("checkout/frame.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /v1/checkout/orders/{id}", s.checkoutOrder)
	mux.HandleFunc("POST /v1/checkout/payments", s.checkoutPay)
}

// checkoutAsset serves one embedded file. The checkout page may be framed
// by any merchant (as Razorpay's is), runs only its own script and talks
// only to its own origin; its one image is the empty data: icon that keeps
// a browser from asking for /favicon.ico.
func checkoutAsset(name, contentType string) http.HandlerFunc {
	body, err := checkoutFiles.ReadFile(name)
	if err != nil {
		panic("rzpsim: missing embedded " + name)
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		if strings.HasPrefix(contentType, "text/html") {
			h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'")
			h.Set("Referrer-Policy", "no-referrer")
		}
		// A merchant page on another origin loads checkout.js with a plain
		// <script> (no CORS needed); the rest is read by the frame itself.
		_, _ = w.Write(body)
	}
}

// checkoutOrder tells the checkout page what it is paying: the order's
// amount, currency and status. Like Razorpay's checkout, it needs only the
// public key id, never the secret.
func (s *Server) checkoutOrder(w http.ResponseWriter, r *http.Request) {
	if !s.publicKey(r.URL.Query().Get("key_id")) {
		writeJSON(w, http.StatusUnauthorized, apiError("The api key provided is invalid", "key_id"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.findOrder(w, r.PathValue("id"))
	if o == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": o.ID, "amount": o.Amount, "currency": o.Currency, "status": o.Status})
}

// checkoutRequest is what the checkout page posts when the customer pays
// or declines.
type checkoutRequest struct {
	KeyID   string `json:"key_id"`
	OrderID string `json:"order_id"`
	Method  string `json:"method"`
	Outcome string `json:"outcome"`
}

// checkoutPay makes the customer's payment through simPay (so the payment
// and its webhooks are exactly those of POST /sim/orders/{id}/pay) and
// answers what Standard Checkout gives the merchant's page: on capture the
// handler's three fields, on failure the payment.failed error object.
func (s *Server) checkoutPay(w http.ResponseWriter, r *http.Request) {
	// JSON only: a cross-site form cannot post it, and a cross-origin
	// script cannot without a preflight this server never answers.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError("Content-Type must be application/json", ""))
		return
	}
	var req checkoutRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError("The request body is not valid JSON", ""))
		return
	}
	switch {
	case !s.publicKey(req.KeyID):
		writeJSON(w, http.StatusUnauthorized, apiError("The api key provided is invalid", "key_id"))
		return
	case !checkoutMethods[req.Method]:
		writeJSON(w, http.StatusBadRequest, apiError("method must be upi, card, netbanking or wallet", "method"))
		return
	case req.Outcome != "captured" && req.Outcome != "failed":
		writeJSON(w, http.StatusBadRequest, apiError(`outcome must be "captured" or "failed"`, "outcome"))
		return
	}

	body, _ := json.Marshal(payRequest{Outcome: req.Outcome, Method: req.Method})
	inner, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/sim/orders/"+req.OrderID+"/pay", bytes.NewReader(body))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError("The id provided does not exist", "order_id"))
		return
	}
	inner.SetPathValue("id", req.OrderID)
	rec := &recorder{header: http.Header{}}
	s.simPay(rec, inner)
	if rec.status != http.StatusOK {
		// Razorpay's own refusal (no such order, already paid), as is.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
		return
	}
	var made struct {
		Payment struct {
			ID        string  `json:"id"`
			OrderID   string  `json:"order_id"`
			Status    string  `json:"status"`
			ErrorCode *string `json:"error_code"`
			ErrorDesc *string `json:"error_description"`
		} `json:"payment"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &made); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError("The payment could not be read back", ""))
		return
	}
	p := made.Payment
	if p.Status == "captured" {
		writeJSON(w, http.StatusOK, map[string]any{
			"razorpay_payment_id": p.ID,
			"razorpay_order_id":   p.OrderID,
			"razorpay_signature":  CheckoutSignature(p.OrderID, p.ID, s.cfg.KeySecret),
		})
		return
	}
	code, desc := "BAD_REQUEST_ERROR", "Payment failed"
	if p.ErrorCode != nil {
		code = *p.ErrorCode
	}
	if p.ErrorDesc != nil {
		desc = *p.ErrorDesc
	}
	writeJSON(w, http.StatusOK, map[string]any{"error": map[string]any{
		"code": code, "description": desc, "source": "customer", "step": "payment_authorization",
		"reason": "payment_failed", "metadata": map[string]any{"order_id": p.OrderID, "payment_id": p.ID},
	}})
}

// publicKey reports whether id is the account's key id.
func (s *Server) publicKey(id string) bool {
	return subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.KeyID)) == 1
}

// recorder keeps the answer of a handler called in-process.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
