package sim_test

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	razorpay "github.com/razorpay/razorpay-go"

	"github.com/finflow/finflow/tools/rzpsim/sim"
)

const (
	keyID, keySecret, webhookSecret = "rzp_test_Sim", "sim_secret", "whsec_sim"
)

type received struct {
	mu     sync.Mutex
	events []map[string]any
	ids    []string
	fail   int // answer 500 to this many deliveries first
}

func (r *received) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		w.WriteHeader(500)
		return
	}
	if !hmac.Equal([]byte(req.Header.Get("X-Razorpay-Signature")), []byte(sim.Sign(body, webhookSecret))) {
		w.WriteHeader(400)
		return
	}
	var ev map[string]any
	_ = json.Unmarshal(body, &ev)
	r.events = append(r.events, ev)
	r.ids = append(r.ids, req.Header.Get("X-Razorpay-Event-Id"))
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func start(t *testing.T) (*razorpay.Client, *httptest.Server, *received) {
	t.Helper()
	rec := &received{}
	hook := httptest.NewServer(rec)
	t.Cleanup(hook.Close)
	s := sim.New(sim.Config{KeyID: keyID, KeySecret: keySecret, WebhookSecret: webhookSecret, WebhookURL: hook.URL,
		FirstRetry: 10 * time.Millisecond, MaxRetry: 50 * time.Millisecond, RefundSettle: -1})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	c := razorpay.NewClient(keyID, keySecret)
	c.Order.Request.BaseURL = srv.URL
	return c, srv, rec
}

func waitCount(t *testing.T, rec *received, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); rec.count() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("received %d webhooks, want %d", rec.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOrderThroughRazorpayGo(t *testing.T) {
	c, _, _ := start(t)
	o, err := c.Order.Create(map[string]any{"amount": 5000, "currency": "INR", "receipt": "pay_x", "notes": map[string]any{"payment_id": "pay_x"}}, nil)
	if err != nil {
		t.Fatalf("Order.Create: %v", err)
	}
	id, _ := o["id"].(string)
	if !regexp.MustCompile(`^order_[0-9A-Za-z]{14}$`).MatchString(id) || o["status"] != "created" || o["amount"].(float64) != 5000 {
		t.Fatalf("order = %v", o)
	}
	got, err := c.Order.Fetch(id, nil, nil)
	if err != nil || got["id"] != id {
		t.Fatalf("Order.Fetch = %v, %v", got, err)
	}
	if _, err := c.Order.Create(map[string]any{"amount": 50, "currency": "INR"}, nil); err == nil || !strings.Contains(err.Error(), "at least INR 1.00") {
		t.Fatalf("amount 50 = %v, want Razorpay's minimum-amount error", err)
	}
	bad := razorpay.NewClient(keyID, "wrong")
	bad.Order.Request.BaseURL = c.Order.Request.BaseURL
	if _, err := bad.Order.Fetch(id, nil, nil); err == nil {
		t.Fatalf("wrong secret accepted")
	}
}

func TestPayDeliversSignedWebhooksWithRetriesAndDuplicates(t *testing.T) {
	c, srv, rec := start(t)
	rec.fail = 2 // the first two deliveries fail: the simulator must retry
	o, _ := c.Order.Create(map[string]any{"amount": 12500, "currency": "INR"}, nil)
	resp, err := http.Post(srv.URL+"/sim/orders/"+o["id"].(string)+"/pay", "application/json", strings.NewReader(`{"outcome":"captured","duplicates":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sim pay = %v %v", resp, err)
	}
	waitCount(t, rec, 4) // captured + order.paid, each twice
	if rec.events[0]["event"] != "payment.captured" || rec.events[2]["event"] != "order.paid" || rec.ids[0] != rec.ids[1] {
		t.Fatalf("events %v ids %v", rec.events, rec.ids)
	}
	pay := rec.events[0]["payload"].(map[string]any)["payment"].(map[string]any)["entity"].(map[string]any)
	if notes, ok := pay["notes"].([]any); !ok || len(notes) != 0 {
		t.Fatalf("empty notes = %#v, want []", pay["notes"])
	}
	list, err := c.Order.Payments(o["id"].(string), nil, nil)
	if err != nil || list["count"].(float64) != 1 {
		t.Fatalf("Order.Payments = %v, %v", list, err)
	}
	// Refund with an idempotency key: the same key returns the same refund.
	hdr := map[string]string{"X-Refund-Idempotency": "refund-key-0001"}
	r1, err1 := c.Payment.Refund(pay["id"].(string), 12500, nil, hdr)
	r2, err2 := c.Payment.Refund(pay["id"].(string), 12500, nil, hdr)
	if err1 != nil || err2 != nil || r1["id"] != r2["id"] {
		t.Fatalf("refunds %v %v / %v %v", r1, err1, r2, err2)
	}
	var deliveries struct {
		Items []sim.Delivery `json:"items"`
	}
	dr, _ := http.Get(srv.URL + "/sim/deliveries")
	_ = json.NewDecoder(dr.Body).Decode(&deliveries)
	if len(deliveries.Items) != 6 || deliveries.Items[0].Status != 500 || deliveries.Items[2].Status != 200 {
		t.Fatalf("deliveries = %+v, want 2 failed attempts then 4 accepted", deliveries.Items)
	}
}

func TestLostWebhookAndLateCapture(t *testing.T) {
	c, srv, rec := start(t)
	o, _ := c.Order.Create(map[string]any{"amount": 700, "currency": "INR"}, nil)
	resp, _ := http.Post(srv.URL+"/sim/orders/"+o["id"].(string)+"/pay", "application/json", strings.NewReader(`{"outcome":"failed","deliver":false}`))
	var out struct {
		Payment map[string]any `json:"payment"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	time.Sleep(50 * time.Millisecond)
	if rec.count() != 0 {
		t.Fatalf("a lost webhook was delivered")
	}
	if out.Payment["status"] != "failed" {
		t.Fatalf("payment = %v", out.Payment)
	}
	lr, _ := http.Post(srv.URL+"/sim/payments/"+out.Payment["id"].(string)+"/capture", "application/json", nil)
	if lr.StatusCode != 200 {
		t.Fatalf("late capture = %d", lr.StatusCode)
	}
	waitCount(t, rec, 2)
	if rec.events[0]["event"] != "payment.captured" {
		t.Fatalf("late capture sent %v", rec.events[0]["event"])
	}
}

// call sends one API request with basic auth and returns the status and
// Razorpay's error description (or the body).
func call(t *testing.T, srv *httptest.Server, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.SetBasicAuth(keyID, keySecret)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Error struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error.Description != "" {
		return resp.StatusCode, env.Error.Description
	}
	return resp.StatusCode, string(raw)
}

// capturedPayment makes an order of amount and a captured payment on it.
func capturedPayment(t *testing.T, srv *httptest.Server, amount int) (orderID, paymentID string) {
	t.Helper()
	_, body := call(t, srv, "POST", "/v1/orders", fmt.Sprintf(`{"amount":%d,"currency":"INR"}`, amount), nil)
	var o struct{ ID string }
	_ = json.Unmarshal([]byte(body), &o)
	resp, err := http.Post(srv.URL+"/sim/orders/"+o.ID+"/pay", "application/json", strings.NewReader(`{"outcome":"captured","deliver":false}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out SimPaid
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return o.ID, out.Payment.ID
}

// SimPaid is the pay control route's answer.
type SimPaid struct {
	Payment struct{ ID, Status string } `json:"payment"`
}

// The refusals Razorpay documents for orders, refunds and captures, with
// its status codes and error body.
func TestRefusals(t *testing.T) {
	_, srv, _ := start(t)
	_, paid := capturedPayment(t, srv, 5000)
	_, refunded := capturedPayment(t, srv, 3000)
	if st, body := call(t, srv, "POST", "/sim/payments/"+refunded+"/refund", `{}`, nil); st != 200 {
		t.Fatalf("dashboard refund = %d %s", st, body)
	}
	key := map[string]string{"X-Refund-Idempotency": "finflow_key_0001"}
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
		wantText                 string
	}{
		{"order below INR 1.00", "POST", "/v1/orders", `{"amount":99,"currency":"INR"}`, nil, 400, "at least INR 1.00"},
		{"order above the account's limit", "POST", "/v1/orders", `{"amount":500000001,"currency":"INR"}`, nil, 400, "exceeds maximum amount"},
		{"order in another currency", "POST", "/v1/orders", `{"amount":5000,"currency":"USD"}`, nil, 400, "Currency is not supported"},
		{"order with a fractional amount", "POST", "/v1/orders", `{"amount":50.5,"currency":"INR"}`, nil, 400, "must be an integer"},
		{"refund of an unknown payment", "POST", "/v1/payments/pay_FAKE0000000001/refund", `{"amount":100}`, nil, 400, "does not exist"},
		{"refund of more than was captured", "POST", "/v1/payments/" + paid + "/refund", `{"amount":5001}`, nil, 400, "greater than amount captured"},
		{"refund below INR 1.00", "POST", "/v1/payments/" + paid + "/refund", `{"amount":99}`, nil, 400, "at least INR 1.00"},
		{"refund of a fully refunded payment", "POST", "/v1/payments/" + refunded + "/refund", `{}`, nil, 400, "fully refunded already"},
		{"refund key too short", "POST", "/v1/payments/" + paid + "/refund", `{"amount":100}`, map[string]string{"X-Refund-Idempotency": "short"}, 400, "at least 10 characters"},
		{"partial refund", "POST", "/v1/payments/" + paid + "/refund", `{"amount":1000}`, key, 200, `"amount":1000`},
		{"the same key again: the same refund", "POST", "/v1/payments/" + paid + "/refund", `{"amount":1000}`, key, 200, `"amount":1000`},
		{"the same key, another amount", "POST", "/v1/payments/" + paid + "/refund", `{"amount":2000}`, key, 400, "Different request with the same idempotency key"},
		{"capture of a captured payment", "POST", "/v1/payments/" + paid + "/capture", `{"amount":5000,"currency":"INR"}`, nil, 400, "already been captured"},
		{"wrong credentials", "GET", "/v1/payments/" + paid, ``, map[string]string{"Authorization": "Basic d3Jvbmc6d3Jvbmc="}, 401, "api key provided is invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := call(t, srv, tc.method, tc.path, tc.body, tc.header)
			if st != tc.want || !strings.Contains(body, tc.wantText) {
				t.Fatalf("%s %s = %d %s, want %d with %q", tc.method, tc.path, st, body, tc.want, tc.wantText)
			}
		})
	}
}

// Faults make an operation answer 5xx, 429, an HTML page or nothing for a
// while, or do the work and lose the answer; calls are counted.
func TestFaults(t *testing.T) {
	_, srv, _ := start(t)
	_, paid := capturedPayment(t, srv, 5000)
	add := func(f string) {
		t.Helper()
		if st, body := call(t, srv, "POST", "/sim/faults", f, nil); st != 200 {
			t.Fatalf("POST /sim/faults %s = %d %s", f, st, body)
		}
	}
	add(`{"op":"fetch_payment","status":503,"match":"pay_NOTTHISONE"}`)
	add(`{"op":"fetch_payment","status":503,"count":2}`)
	for i, want := range []int{503, 503, 200} {
		if st, _ := call(t, srv, "GET", "/v1/payments/"+paid, "", nil); st != want {
			t.Fatalf("fetch %d = %d, want %d", i, st, want)
		}
	}
	add(`{"op":"*","status":429,"count":1}`)
	if st, body := call(t, srv, "POST", "/v1/orders", `{"amount":5000,"currency":"INR"}`, nil); st != 429 || !strings.Contains(body, "Too many requests") {
		t.Fatalf("rate limited order = %d %s", st, body)
	}
	add(`{"op":"fetch_order","status":502,"html":true,"count":1}`)
	if st, body := call(t, srv, "GET", "/v1/orders/order_X", "", nil); st != 502 || !strings.Contains(body, "<html>") {
		t.Fatalf("HTML 502 = %d %s", st, body)
	}
	add(`{"op":"refund","timeout_ms":300,"count":1}`)
	start := time.Now()
	if st, _ := call(t, srv, "POST", "/v1/payments/"+paid+"/refund", `{"amount":100}`, nil); st != 504 || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("held refund = %d after %v, want 504 after 300ms", st, time.Since(start))
	}
	// Done, and the answer lost: the same key returns the refund made.
	add(`{"op":"refund","status":500,"after":true,"count":1}`)
	key := map[string]string{"X-Refund-Idempotency": "finflow_lost_answer"}
	if st, _ := call(t, srv, "POST", "/v1/payments/"+paid+"/refund", `{"amount":700}`, key); st != 500 {
		t.Fatalf("refund with a lost answer = %d, want 500", st)
	}
	if st, body := call(t, srv, "POST", "/v1/payments/"+paid+"/refund", `{"amount":700}`, key); st != 200 || !strings.Contains(body, `"amount":700`) {
		t.Fatalf("retried refund = %d %s", st, body)
	}
	if st, body := call(t, srv, "GET", "/v1/payments/"+paid, "", nil); st != 200 || !strings.Contains(body, `"amount_refunded":700`) {
		t.Fatalf("payment after one refund of 700 = %s", body)
	}
	_, calls := call(t, srv, "GET", "/sim/calls", "", nil)
	if !strings.Contains(calls, `"refund":3`) || !strings.Contains(calls, `"fetch_payment":4`) {
		t.Fatalf("calls = %s", calls)
	}
	if st, _ := call(t, srv, "POST", "/sim/faults", `{"op":"nope","status":500}`, nil); st != 400 {
		t.Fatalf("a fault of an unknown op = %d, want 400", st)
	}
}

// A redirect fault answers a 3xx with its Location instead of doing the
// work; a rewrite fault does the work and answers with fields replaced,
// in every item of a list. Both are checked when added.
func TestRedirectAndRewriteFaults(t *testing.T) {
	_, srv, _ := start(t)
	orderID, paid := capturedPayment(t, srv, 5000)
	add := func(f string, want int) {
		t.Helper()
		if st, body := call(t, srv, "POST", "/sim/faults", f, nil); st != want {
			t.Fatalf("POST /sim/faults %s = %d %s, want %d", f, st, body, want)
		}
	}
	add(`{"op":"refund","status":307,"location":"/v1/nowhere","count":1}`, 200)
	add(`{"op":"fetch_payment","location":"/v1/nowhere","count":1}`, 200)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/v1/payments/" + paid + "/refund", 307},
		{"GET", "/v1/payments/" + paid, 302},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(`{"amount":100}`))
		req.SetBasicAuth(keyID, keySecret)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("Location") != "/v1/nowhere" {
			t.Fatalf("%s %s = %d to %q, want %d to /v1/nowhere", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
	if _, got := call(t, srv, "GET", "/v1/payments/"+paid, "", nil); !strings.Contains(got, `"amount_refunded":0`) {
		t.Fatalf("payment after a redirected refund = %s, want nothing refunded", got)
	}
	add(`{"op":"refund","rewrite":{"amount":100,"payment_id":"pay_AAAAAAAAAAAAAA"},"count":1}`, 200)
	if st, got := call(t, srv, "POST", "/v1/payments/"+paid+"/refund", `{"amount":700}`, nil); st != 200 || !strings.Contains(got, `"amount":100,`) || !strings.Contains(got, `"payment_id":"pay_AAAAAAAAAAAAAA"`) {
		t.Fatalf("rewritten refund = %d %s", st, got)
	}
	if _, got := call(t, srv, "GET", "/v1/payments/"+paid, "", nil); !strings.Contains(got, `"amount_refunded":700`) {
		t.Fatalf("payment after a rewritten refund = %s, want 700 refunded (the work was done)", got)
	}
	add(`{"op":"order_payments","rewrite":{"order_id":"order_OBOBOBOBOBOBOB","status":"captured"},"count":1}`, 200)
	if st, got := call(t, srv, "GET", "/v1/orders/"+orderID+"/payments", "", nil); st != 200 || !strings.Contains(got, `"order_id":"order_OBOBOBOBOBOBOB"`) || !strings.Contains(got, `"count":1`) || !strings.Contains(got, `"id":"`+paid+`"`) {
		t.Fatalf("rewritten order payments = %d %s", st, got)
	}
	add(`{"op":"refund","rewrite":{"amount":1},"status":500}`, 400)
	add(`{"op":"refund","status":404,"location":"/x"}`, 400)
	add(`{"op":"refund"}`, 400)
}

// A refund is pending, then processed (refund.processed delivered) after
// the settle delay; one settled by hand as failed gives its amount back
// and delivers refund.failed; both can be fetched.
func TestRefundsSettle(t *testing.T) {
	_, srv, rec := start(t)
	if st, _ := call(t, srv, "POST", "/sim/settings", `{"refund_settle_ms":20}`, nil); st != 200 {
		t.Fatalf("settings = %d", st)
	}
	_, paid := capturedPayment(t, srv, 5000)
	st, body := call(t, srv, "POST", "/v1/payments/"+paid+"/refund", `{"amount":1000}`, nil)
	var first struct{ ID, Status string }
	_ = json.Unmarshal([]byte(body), &first)
	if st != 200 || first.Status != "pending" {
		t.Fatalf("refund = %d %s, want 200 pending", st, body)
	}
	waitCount(t, rec, 1)
	if rec.events[0]["event"] != "refund.processed" {
		t.Fatalf("event = %v", rec.events[0]["event"])
	}
	if _, got := call(t, srv, "GET", "/v1/refunds/"+first.ID, "", nil); !strings.Contains(got, `"status":"processed"`) {
		t.Fatalf("fetched refund = %s", got)
	}
	if st, _ := call(t, srv, "POST", "/sim/settings", `{"refund_settle_ms":0}`, nil); st != 200 {
		t.Fatalf("settings = %d", st)
	}
	_, body = call(t, srv, "POST", "/v1/payments/"+paid+"/refund", `{"amount":4000}`, nil)
	var second struct{ ID string }
	_ = json.Unmarshal([]byte(body), &second)
	if _, got := call(t, srv, "GET", "/v1/payments/"+paid, "", nil); !strings.Contains(got, `"status":"refunded"`) {
		t.Fatalf("payment while fully refunded (pending) = %s", got)
	}
	if st, got := call(t, srv, "POST", "/sim/refunds/"+second.ID+"/settle", `{"outcome":"failed"}`, nil); st != 200 || !strings.Contains(got, `"status":"failed"`) {
		t.Fatalf("settle = %d %s", st, got)
	}
	waitCount(t, rec, 2)
	if rec.events[1]["event"] != "refund.failed" {
		t.Fatalf("event = %v", rec.events[1]["event"])
	}
	if _, got := call(t, srv, "GET", "/v1/payments/"+paid, "", nil); !strings.Contains(got, `"amount_refunded":1000`) || !strings.Contains(got, `"status":"captured"`) {
		t.Fatalf("payment after a failed refund = %s", got)
	}
	if st, _ := call(t, srv, "POST", "/sim/refunds/"+second.ID+"/settle", `{"outcome":"processed"}`, nil); st != 400 {
		t.Fatalf("settling twice = %d, want 400", st)
	}
}
