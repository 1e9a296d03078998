package sim_test

import (
	"crypto/hmac"
	"encoding/json"
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
		FirstRetry: 10 * time.Millisecond, MaxRetry: 50 * time.Millisecond})
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
