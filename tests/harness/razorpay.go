package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// MustPayRazorpay starts a Razorpay payment of a bill (201 expected) and
// returns the PENDING payment with its order.
func (e *Env) MustPayRazorpay(tb testing.TB, billID string) Payment {
	tb.Helper()
	r := e.Do(tb, "POST", "/Payment/rozarpay", map[string]any{"bill_id": billID}, nil)
	if r.Status != http.StatusCreated {
		tb.Fatalf("POST /Payment/rozarpay %s = %d %s, want 201", billID, r.Status, r.Body)
	}
	var p Payment
	r.JSON(tb, &p)
	if p.Razorpay == nil || p.Razorpay.OrderID == "" {
		tb.Fatalf("Razorpay payment without an order: %s", r.Body)
	}
	return p
}

// SimPayment is what the simulator's pay control route answers.
type SimPayment struct {
	Payment struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"payment"`
	EventIDs []string `json:"event_ids"`
}

func (e *Env) simPost(tb testing.TB, path string, body any) SimPayment {
	tb.Helper()
	out, err := e.trySimPost(path, body)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func (e *Env) trySimPost(path string, body any) (SimPayment, error) {
	raw, _ := json.Marshal(body)
	resp, err := http.Post(e.SimURL()+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return SimPayment{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return SimPayment{}, fmt.Errorf("POST %s = %d %s", path, resp.StatusCode, b)
	}
	var out SimPayment
	if err := json.Unmarshal(b, &out); err != nil {
		return SimPayment{}, fmt.Errorf("simulator answer %s: %w", b, err)
	}
	return out, nil
}

// SimPay makes the customer pay an order at the simulator ("captured" or
// "failed"), which delivers the webhooks (each duplicates more times), or
// loses them when deliver is false.
func (e *Env) SimPay(tb testing.TB, orderID, outcome string, duplicates int, deliver bool) SimPayment {
	tb.Helper()
	out, err := e.TrySimPay(orderID, outcome, duplicates, deliver)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TrySimPay is SimPay returning its error, for client goroutines.
func (e *Env) TrySimPay(orderID, outcome string, duplicates int, deliver bool) (SimPayment, error) {
	return e.trySimPost("/sim/orders/"+orderID+"/pay", map[string]any{"outcome": outcome, "method": "upi", "duplicates": duplicates, "deliver": deliver})
}

// SimLateCapture captures a failed gateway payment (late authorisation).
func (e *Env) SimLateCapture(tb testing.TB, gatewayPaymentID string) SimPayment {
	tb.Helper()
	return e.simPost(tb, "/sim/payments/"+gatewayPaymentID+"/capture", map[string]any{})
}

// SimCapture captures an authorized gateway payment through the
// simulator's API, as a merchant does with Razorpay's POST
// /v1/payments/{id}/capture; the simulator then sends payment.captured and
// order.paid.
func (e *Env) SimCapture(tb testing.TB, gatewayPaymentID string, amount int64) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"amount": amount, "currency": "INR"})
	req, _ := http.NewRequest(http.MethodPost, e.SimURL()+"/v1/payments/"+gatewayPaymentID+"/capture", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(e.simKeys())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("POST /v1/payments/%s/capture = %d %s", gatewayPaymentID, resp.StatusCode, b)
	}
}

// SimDeliveries lists the simulator's delivery attempts for an order.
func (e *Env) SimDeliveries(tb testing.TB, orderID string) []sim.Delivery {
	tb.Helper()
	resp, err := http.Get(e.SimURL() + "/sim/deliveries?order_id=" + orderID)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []sim.Delivery `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out.Items
}

// Webhook builds a Razorpay webhook body by hand, in Razorpay's documented
// envelope, for a payment entity on an order.
func Webhook(event, gatewayPaymentID, orderID string, amount int64, status string) []byte {
	entity := map[string]any{
		"id": gatewayPaymentID, "entity": "payment", "amount": amount, "currency": "INR", "status": status,
		"order_id": orderID, "invoice_id": nil, "international": false, "method": "upi", "amount_refunded": 0,
		"refund_status": nil, "captured": status == "captured", "description": nil, "vpa": "customer@okbank",
		"email": "customer@example.in", "contact": "+919876543210", "notes": []any{}, "fee": nil, "tax": nil,
		"error_code": nil, "error_description": nil, "created_at": time.Now().Unix(),
	}
	if status == "failed" {
		entity["error_code"], entity["error_description"] = "BAD_REQUEST_ERROR", "Payment failed"
	}
	contains := []string{"payment"}
	payload := map[string]any{"payment": map[string]any{"entity": entity}}
	if event == "order.paid" {
		contains = append(contains, "order")
		payload["order"] = map[string]any{"entity": map[string]any{"id": orderID, "entity": "order", "amount": amount, "amount_paid": amount, "status": "paid", "notes": []any{}}}
	}
	body, _ := json.Marshal(map[string]any{"entity": "event", "account_id": "acc_FinFlowTest001", "event": event,
		"contains": contains, "payload": payload, "created_at": time.Now().Unix()})
	return body
}

// SendWebhook posts a webhook to the gateway's public webhook route with
// the given signature and event id ("" leaves a header out).
func (e *Env) SendWebhook(tb testing.TB, body []byte, eventID, signature string) *Response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.BaseURL+"/razorpay/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if eventID != "" {
		req.Header.Set("X-Razorpay-Event-Id", eventID)
	}
	if signature != "" {
		req.Header.Set("X-Razorpay-Signature", signature)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("POST /razorpay/webhook: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Sign signs a webhook body with the test-mode webhook secret.
func (e *Env) Sign(body []byte) string { return sim.Sign(body, e.Razorpay.WebhookSecret) }

// DeadLetter is something the payment service parked for an operator.
type DeadLetter struct {
	EventID   string `json:"event_id"`
	Kind      string `json:"kind"`
	PaymentID string `json:"payment_id"`
	Reason    string `json:"reason"`
	// Resolved says how the parked work was settled after all ("": open).
	Resolved string `json:"resolved"`
}

// WaitDeadLetter waits for a dead letter that match accepts, and returns
// it.
func (e *Env) WaitDeadLetter(tb testing.TB, timeout time.Duration, what string, match func(DeadLetter) bool) DeadLetter {
	tb.Helper()
	var found DeadLetter
	WaitFor(tb, timeout, "a dead letter: "+what, func() bool {
		for _, d := range e.DeadLetters(tb) {
			if match(d) {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// SimFault makes the simulator answer calls badly (see sim.Fault), and
// clears every fault when the test ends.
func (e *Env) SimFault(tb testing.TB, f sim.Fault) {
	tb.Helper()
	raw, _ := json.Marshal(f)
	resp, err := http.Post(e.SimURL()+"/sim/faults", "application/json", bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("POST /sim/faults %s = %d %s", raw, resp.StatusCode, body)
	}
	tb.Cleanup(func() { e.SimClearFaults(tb) })
}

// SimClearFaults removes every fault.
func (e *Env) SimClearFaults(tb testing.TB) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodDelete, e.SimURL()+"/sim/faults", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
}

// SimCalls returns how many calls each Razorpay API operation got at the
// simulator (sim.Op*).
func (e *Env) SimCalls(tb testing.TB) map[string]int {
	tb.Helper()
	resp, err := http.Get(e.SimURL() + "/sim/calls")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Calls map[string]int `json:"calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out.Calls
}

// SimDashboardRefund refunds a captured gateway payment as the merchant does
// from Razorpay's dashboard.
func (e *Env) SimDashboardRefund(tb testing.TB, gatewayPaymentID string) {
	tb.Helper()
	resp, err := http.Post(e.SimURL()+"/sim/payments/"+gatewayPaymentID+"/refund", "application/json", strings.NewReader(`{}`))
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("dashboard refund of %s = %d %s", gatewayPaymentID, resp.StatusCode, body)
	}
}

// SimGatewayPayment is a payment as the simulator's API reports it.
type SimGatewayPayment struct {
	ID             string `json:"id"`
	OrderID        string `json:"order_id"`
	Status         string `json:"status"`
	Amount         int64  `json:"amount"`
	AmountRefunded int64  `json:"amount_refunded"`
}

// SimGetPayment fetches a gateway payment from the simulator's API, as
// Razorpay's GET /v1/payments/{id}.
func (e *Env) SimGetPayment(tb testing.TB, gatewayPaymentID string) SimGatewayPayment {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.SimURL()+"/v1/payments/"+gatewayPaymentID, nil)
	req.SetBasicAuth(e.simKeys())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var p SimGatewayPayment
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&p) != nil {
		tb.Fatalf("GET /v1/payments/%s = %d", gatewayPaymentID, resp.StatusCode)
	}
	return p
}

// simKeys are the simulator's API credentials.
func (e *Env) simKeys() (string, string) {
	if e.Razorpay != nil {
		return e.Razorpay.KeyID, e.Razorpay.KeySecret
	}
	raw, _ := os.ReadFile(filepath.Join(e.Root, "config", "test-mode-secrets.json"))
	var s struct {
		Razorpay struct {
			KeyID     string `json:"key_id"`
			KeySecret string `json:"key_secret"`
		} `json:"razorpay"`
	}
	_ = json.Unmarshal(raw, &s)
	return s.Razorpay.KeyID, s.Razorpay.KeySecret
}

// DeadLetters lists the payment service's dead letters (admin route).
func (e *Env) DeadLetters(tb testing.TB) []DeadLetter {
	tb.Helper()
	r := e.Do(tb, "GET", "/admin/dead-letters", nil, nil)
	if r.Status != 200 {
		tb.Fatalf("GET /Payment/dead-letters = %d %s", r.Status, r.Body)
	}
	var out struct {
		Items []DeadLetter `json:"items"`
	}
	r.JSON(tb, &out)
	return out.Items
}

// WaitPayment polls a payment until cond holds (and returns it).
func (e *Env) WaitPayment(tb testing.TB, paymentID string, timeout time.Duration, what string, cond func(Payment) bool) Payment {
	tb.Helper()
	var p Payment
	WaitFor(tb, timeout, fmt.Sprintf("payment %s to be %s", paymentID, what), func() bool {
		p = e.MustPayment(tb, paymentID)
		return cond(p)
	})
	return p
}

// WaitNewPayment is WaitPayment for a payment FinFlow makes by itself (the
// payment standing for a late capture): until it exists, it is waited for
// too.
func (e *Env) WaitNewPayment(tb testing.TB, paymentID string, timeout time.Duration, what string, cond func(Payment) bool) Payment {
	tb.Helper()
	var p Payment
	WaitFor(tb, timeout, fmt.Sprintf("payment %s to exist and be %s", paymentID, what), func() bool {
		r := e.Do(tb, "GET", "/Payment/"+paymentID, nil, nil)
		switch r.Status {
		case http.StatusNotFound:
			return false
		case http.StatusOK:
			r.JSON(tb, &p)
			return cond(p)
		}
		tb.Fatalf("GET /Payment/%s = %d %s", paymentID, r.Status, r.Body)
		return false
	})
	return p
}

// SimURL is the Razorpay simulator's address: the suite's own, or for an
// attached Env the one `make run` starts (FINFLOW_RAZORPAY_SIM, default
// http://127.0.0.1:8090).
func (e *Env) SimURL() string {
	if e.Razorpay != nil {
		return e.Razorpay.URL
	}
	if u := os.Getenv("FINFLOW_RAZORPAY_SIM"); u != "" {
		return u
	}
	return "http://127.0.0.1:8090"
}

// TopUp is the contract's top-up object.
type TopUp struct {
	ID            string  `json:"id"`
	UserID        string  `json:"user_id"`
	Amount        int64   `json:"amount"`
	Currency      string  `json:"currency"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	Razorpay      *struct {
		OrderID          string `json:"order_id"`
		KeyID            string `json:"key_id"`
		Amount           int64  `json:"amount"`
		Currency         string `json:"currency"`
		GatewayPaymentID string `json:"gateway_payment_id"`
	} `json:"razorpay"`
	LateCaptureOf *string `json:"late_capture_of"`
	SettledBy     *string `json:"settled_by"`
	Refund        *struct {
		RefundID string `json:"refund_id"`
		Amount   int64  `json:"amount"`
		Status   string `json:"status"`
	} `json:"refund"`
}

// topUp reads a top-up; ok is false when there is none.
func (e *Env) topUp(tb testing.TB, topupID string) (TopUp, bool) {
	tb.Helper()
	r := e.Do(tb, "GET", "/wallet/topup/"+topupID, nil, nil)
	if r.Status == http.StatusNotFound {
		return TopUp{}, false
	}
	if r.Status != http.StatusOK {
		tb.Fatalf("GET /wallet/topup/%s = %d %s", topupID, r.Status, r.Body)
	}
	var t TopUp
	r.JSON(tb, &t)
	return t, true
}

// MustGetTopUp reads a top-up, failing the test if there is none.
func (e *Env) MustGetTopUp(tb testing.TB, topupID string) TopUp {
	tb.Helper()
	t, ok := e.topUp(tb, topupID)
	if !ok {
		tb.Fatalf("no top-up %s", topupID)
	}
	return t
}

// Refund is the contract's refund object.
type Refund struct {
	ID        string  `json:"id"`
	PaymentID string  `json:"payment_id"`
	Amount    int64   `json:"amount"`
	Currency  string  `json:"currency"`
	Reason    string  `json:"reason"`
	Status    string  `json:"status"`
	Error     *string `json:"error"`
}

// MustRefunds lists all of a payment's refunds (as the admin), newest
// first, paging to the end (MustListAll).
func (e *Env) MustRefunds(tb testing.TB, paymentID string) []Refund {
	tb.Helper()
	return MustListAll[Refund](tb, e, "/Payment/"+paymentID+"/refunds?limit=200", nil)
}
