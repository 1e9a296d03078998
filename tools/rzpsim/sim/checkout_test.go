package sim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// checkoutPost posts a checkout page's payment and returns the status and
// decoded body.
func checkoutPost(t *testing.T, url, contentType, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url+"/v1/checkout/payments", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("checkout answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

// TestCheckoutPaysAnOrder: the checkout page's payment is a payment like
// POST /sim/orders/{id}/pay makes (signed webhooks, the method chosen), and
// the answer is what Standard Checkout hands the merchant's handler, with
// the signature Razorpay documents.
func TestCheckoutPaysAnOrder(t *testing.T) {
	c, srv, rec := start(t)
	o, err := c.Order.Create(map[string]any{"amount": 25000, "currency": "INR"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	orderID := o["id"].(string)
	status, got := checkoutPost(t, srv.URL, "application/json",
		`{"key_id":"`+keyID+`","order_id":"`+orderID+`","method":"card","outcome":"captured"}`)
	if status != 200 || got["razorpay_order_id"] != orderID {
		t.Fatalf("checkout pay = %d %v, want 200 with the order id", status, got)
	}
	paymentID, _ := got["razorpay_payment_id"].(string)
	m := hmac.New(sha256.New, []byte(keySecret))
	m.Write([]byte(orderID + "|" + paymentID))
	if want := hex.EncodeToString(m.Sum(nil)); got["razorpay_signature"] != want {
		t.Errorf("razorpay_signature = %v, want hex HMAC-SHA256(order_id|payment_id, key secret) = %s", got["razorpay_signature"], want)
	}
	if sig := sim.CheckoutSignature(orderID, paymentID, keySecret); sig != got["razorpay_signature"] {
		t.Errorf("CheckoutSignature = %s, the checkout said %v", sig, got["razorpay_signature"])
	}

	waitCount(t, rec, 2)
	rec.mu.Lock()
	events := append([]map[string]any(nil), rec.events...)
	rec.mu.Unlock()
	if events[0]["event"] != "payment.captured" || events[1]["event"] != "order.paid" {
		t.Fatalf("webhooks = %v, %v; want payment.captured then order.paid", events[0]["event"], events[1]["event"])
	}
	entity := events[0]["payload"].(map[string]any)["payment"].(map[string]any)["entity"].(map[string]any)
	if entity["id"] != paymentID || entity["method"] != "card" || entity["order_id"] != orderID || entity["amount"].(float64) != 25000 {
		t.Errorf("captured payment = %v, want %s by card on %s for 25000", entity, paymentID, orderID)
	}

	// A paid order takes no second payment, as at Razorpay.
	status, again := checkoutPost(t, srv.URL, "application/json",
		`{"key_id":"`+keyID+`","order_id":"`+orderID+`","method":"upi","outcome":"captured"}`)
	if status != 400 || !strings.Contains(again["error"].(map[string]any)["description"].(string), "already paid") {
		t.Errorf("paying a paid order = %d %v, want 400 already paid", status, again)
	}
}

// TestCheckoutFailureThenRetry: a declined payment answers Razorpay's
// payment.failed error object and delivers payment.failed; the customer
// may then pay the same order (Razorpay's retry).
func TestCheckoutFailureThenRetry(t *testing.T) {
	c, srv, rec := start(t)
	o, _ := c.Order.Create(map[string]any{"amount": 10000, "currency": "INR"}, nil)
	orderID := o["id"].(string)
	status, got := checkoutPost(t, srv.URL, "application/json; charset=utf-8",
		`{"key_id":"`+keyID+`","order_id":"`+orderID+`","method":"netbanking","outcome":"failed"}`)
	e, _ := got["error"].(map[string]any)
	if status != 200 || e == nil {
		t.Fatalf("declined = %d %v, want 200 with an error object", status, got)
	}
	meta, _ := e["metadata"].(map[string]any)
	if e["code"] != "BAD_REQUEST_ERROR" || e["reason"] != "payment_failed" || e["description"] == "" || meta["order_id"] != orderID || meta["payment_id"] == "" {
		t.Errorf("error = %v, want Razorpay's payment.failed shape naming the order and payment", e)
	}
	if _, signed := got["razorpay_signature"]; signed {
		t.Errorf("a failed payment came with a signature: %v", got)
	}
	waitCount(t, rec, 1)
	rec.mu.Lock()
	first := rec.events[0]["event"]
	rec.mu.Unlock()
	if first != "payment.failed" {
		t.Fatalf("webhook = %v, want payment.failed", first)
	}
	status, got = checkoutPost(t, srv.URL, "application/json",
		`{"key_id":"`+keyID+`","order_id":"`+orderID+`","method":"upi","outcome":"captured"}`)
	if status != 200 || got["razorpay_payment_id"] == meta["payment_id"] || got["razorpay_payment_id"] == nil {
		t.Fatalf("retry = %d %v, want a new captured payment", status, got)
	}
}

// TestCheckoutRefusals: what the checkout's payment route refuses, and
// that a refused request makes no payment.
func TestCheckoutRefusals(t *testing.T) {
	c, srv, rec := start(t)
	o, _ := c.Order.Create(map[string]any{"amount": 10000, "currency": "INR"}, nil)
	orderID := o["id"].(string)
	cases := []struct {
		name, contentType, body string
		want                    int
	}{
		{"another key id", "application/json", `{"key_id":"rzp_test_Other","order_id":"` + orderID + `","method":"upi","outcome":"captured"}`, 401},
		{"no key id", "application/json", `{"order_id":"` + orderID + `","method":"upi","outcome":"captured"}`, 401},
		{"unknown order", "application/json", `{"key_id":"` + keyID + `","order_id":"order_NotThere000001","method":"upi","outcome":"captured"}`, 400},
		{"unknown method", "application/json", `{"key_id":"` + keyID + `","order_id":"` + orderID + `","method":"cash","outcome":"captured"}`, 400},
		{"outcome authorized", "application/json", `{"key_id":"` + keyID + `","order_id":"` + orderID + `","method":"upi","outcome":"authorized"}`, 400},
		{"unknown field", "application/json", `{"key_id":"` + keyID + `","order_id":"` + orderID + `","method":"upi","outcome":"captured","amount":1}`, 400},
		{"a form post", "application/x-www-form-urlencoded", `key_id=` + keyID + `&order_id=` + orderID, 415},
		{"text/plain", "text/plain", `{"key_id":"` + keyID + `","order_id":"` + orderID + `","method":"upi","outcome":"captured"}`, 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, got := checkoutPost(t, srv.URL, tc.contentType, tc.body)
			if status != tc.want || got["error"] == nil {
				t.Errorf("= %d %v, want %d with Razorpay's error envelope", status, got, tc.want)
			}
		})
	}
	list, err := c.Order.Payments(orderID, nil, nil)
	if err != nil || list["count"].(float64) != 0 || rec.count() != 0 {
		t.Errorf("after refusals: payments %v (%v), webhooks %d; want none", list, err, rec.count())
	}
}

// TestCheckoutAssets: the script, the modal's page and the order summary
// the page reads.
func TestCheckoutAssets(t *testing.T) {
	c, srv, _ := start(t)
	o, _ := c.Order.Create(map[string]any{"amount": 123456, "currency": "INR"}, nil)
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	assets := []struct {
		path, contentType, contains string
	}{
		{"/v1/checkout.js", "text/javascript", "window.Razorpay = Razorpay"},
		{"/v1/checkout/frame.js", "text/javascript", "/v1/checkout/payments"},
		{"/v1/checkout/frame.css", "text/css", "--theme"},
		{"/v1/checkout/public?origin=http%3A%2F%2F127.0.0.1%3A8080", "text/html", `id="pay-form"`},
	}
	for _, a := range assets {
		resp, body := get(a.path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), a.contentType) || !strings.Contains(body, a.contains) {
			t.Errorf("GET %s = %d %s, want 200 %s containing %q", a.path, resp.StatusCode, resp.Header.Get("Content-Type"), a.contentType, a.contains)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q", a.path, resp.Header.Get("X-Content-Type-Options"))
		}
	}
	resp, _ := get("/v1/checkout/public")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("checkout page CSP = %q", csp)
	}

	resp, body := get("/v1/checkout/orders/" + o["id"].(string) + "?key_id=" + keyID)
	var summary map[string]any
	_ = json.Unmarshal([]byte(body), &summary)
	if resp.StatusCode != 200 || summary["amount"].(float64) != 123456 || summary["status"] != "created" || summary["currency"] != "INR" {
		t.Errorf("order summary = %d %s", resp.StatusCode, body)
	}
	if _, leaks := summary["notes"]; leaks {
		t.Errorf("order summary shows the merchant's notes: %s", body)
	}
	if resp, _ := get("/v1/checkout/orders/" + o["id"].(string) + "?key_id=rzp_test_Other"); resp.StatusCode != 401 {
		t.Errorf("order summary with another key id = %d, want 401", resp.StatusCode)
	}
}
