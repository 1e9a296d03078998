package domain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/razorpay/domain"
	"github.com/finflow/finflow/services/razorpay/store"
)

// published records what was published where, and can be made to fail.
type published struct {
	mu     sync.Mutex
	events []contract.GatewayResult
	topics []string
	down   bool
	hang   bool // waits for its context (a broker that does not answer)
}

func (p *published) Publish(ctx context.Context, pubsub, topic string, data any, eventID string) error {
	if p.hang {
		<-ctx.Done()
		return fmt.Errorf("%w: %v", sidecar.ErrSidecar, ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return fmt.Errorf("%w: broker down", sidecar.ErrSidecar)
	}
	r := data.(contract.GatewayResult)
	if pubsub != contract.PubSub || r.EventID != eventID {
		return fmt.Errorf("published %s/%s with event id %s for %s", pubsub, topic, eventID, r.EventID)
	}
	p.events = append(p.events, r)
	p.topics = append(p.topics, topic)
	return nil
}

// deliveries is an in-memory delivery log.
type deliveries struct {
	mu    sync.Mutex
	items []domain.Delivery
}

func (d *deliveries) Add(v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items = append(d.items, v.(domain.Delivery))
}

func (d *deliveries) Entries(context.Context) ([]json.RawMessage, error) { return nil, nil }

// stubGateway answers from fields; err, when set, is every call's answer.
// The ids it answers with are Razorpay's unless a test sets others; orders
// and refunds are answered as asked unless a test rewrites them.
type stubGateway struct {
	err      error
	refunds  int
	orderID  string                    // "" for order_STUB0000000001
	refundID string                    // "" for rfnd_STUB and a counter
	payments []contract.GatewayPayment // the order's payments
	payment  contract.GatewayPayment   // a fetched payment
	// rewriteOrder and rewriteRefund, when set, change the answers as a
	// proxy in the way would.
	rewriteOrder  func(*domain.OrderAnswer)
	rewriteRefund func(*domain.RefundAnswer)
	made          map[string]domain.RefundAnswer // refunds made, by id
}

func (g *stubGateway) CreateOrder(_ context.Context, paymentID string, amount int64, currency string) (domain.OrderAnswer, error) {
	if g.err != nil {
		return domain.OrderAnswer{}, g.err
	}
	o := domain.OrderAnswer{ID: "order_STUB0000000001", Amount: amount, Currency: currency, Receipt: paymentID, Notes: map[string]string{domain.NoteOrderPayment: paymentID}}
	if g.orderID != "" {
		o.ID = g.orderID
	}
	if g.rewriteOrder != nil {
		g.rewriteOrder(&o)
	}
	return o, nil
}
func (g *stubGateway) OrderPayments(context.Context, string) ([]contract.GatewayPayment, error) {
	return g.payments, g.err
}
func (g *stubGateway) Payment(context.Context, string) (contract.GatewayPayment, error) {
	return g.payment, g.err
}
func (g *stubGateway) FetchRefund(_ context.Context, refundID string) (domain.RefundAnswer, error) {
	if g.err != nil {
		return domain.RefundAnswer{}, g.err
	}
	r, ok := g.made[refundID]
	if !ok {
		return domain.RefundAnswer{}, domain.ClassifyAnswer(domain.OpFetchRefund, 400, []byte(`{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist"}}`))
	}
	r.Status = "processed"
	if g.rewriteRefund != nil {
		g.rewriteRefund(&r)
	}
	return r, nil
}
func (g *stubGateway) Refund(_ context.Context, gatewayPaymentID string, amount int64, _ string, notes map[string]string) (domain.RefundAnswer, error) {
	if g.err != nil {
		return domain.RefundAnswer{}, g.err
	}
	g.refunds++
	r := domain.RefundAnswer{ID: fmt.Sprintf("rfnd_STUB%010d", g.refunds), PaymentID: gatewayPaymentID, Amount: amount, Currency: "INR", Status: "pending", Notes: notes}
	if g.refundID != "" {
		r.ID = g.refundID
	}
	if g.made == nil {
		g.made = map[string]domain.RefundAnswer{}
	}
	g.made[r.ID] = r
	if g.rewriteRefund != nil {
		g.rewriteRefund(&r)
	}
	return r, nil
}

// daprState is the in-memory state with Dapr's rule on keys: a key holding
// "||" is refused (Dapr's state API keeps "||" as its own separator).
type daprState struct{ *sidecartest.MemState }

func (d daprState) check(key string) error {
	if strings.Contains(key, "||") {
		return fmt.Errorf("%w: input key/keyPrefix '%s' can't contain '||'", sidecar.ErrSidecar, key)
	}
	return nil
}

func (d daprState) Get(ctx context.Context, st, key string) (sidecar.Item, error) {
	if err := d.check(key); err != nil {
		return sidecar.Item{}, err
	}
	return d.MemState.Get(ctx, st, key)
}

func (d daprState) Save(ctx context.Context, st, key string, value []byte, etag string) error {
	if err := d.check(key); err != nil {
		return err
	}
	return d.MemState.Save(ctx, st, key, value, etag)
}

func (d daprState) Insert(ctx context.Context, st, key string, value []byte, ttl int) error {
	if err := d.check(key); err != nil {
		return err
	}
	return d.MemState.Insert(ctx, st, key, value, ttl)
}

const secret = "whsec_test"

func newAdapter(t *testing.T) (*domain.Adapter, *published, *deliveries, *stubGateway) {
	t.Helper()
	pub, log, gw := &published{}, &deliveries{}, &stubGateway{}
	a := &domain.Adapter{
		Gateway: gw, Store: store.New(daprState{sidecartest.NewMemState()}, "razorpay-store"), Publisher: pub,
		KeyID: "rzp_test_x", WebhookSecret: secret, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		Deliveries: log,
	}
	return a, pub, log, gw
}

// Webhook deliveries: only an unverified one is refused; every verified
// one is answered 2xx with an outcome, recorded, and published where it
// belongs; only FinFlow's own failure to publish is an error.
func TestHandleWebhook(t *testing.T) {
	ctx := context.Background()
	a, pub, log, _ := newAdapter(t)
	// An order FinFlow made.
	mine := id.New(id.Payment)
	if _, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: mine, Amount: 5000, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	payment := func(event, orderID, amount string) string {
		return `{"entity":"event","event":"` + event + `","payload":{"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":` + orderID + `,"amount":` + amount + `,"currency":"INR","status":"captured","notes":[]}}}}`
	}
	minePaid := payment("payment.captured", `"order_STUB0000000001"`, "5000")
	cases := []struct {
		name, body, eventID, sig string
		brokerDown               bool
		wantErr                  error
		wantOutcome              string
		wantTopic                string // "" when nothing is published
	}{
		{"forged", minePaid, "evt_1", sign(minePaid+"x", secret), false, domain.ErrSignatureInvalid, domain.OutcomeRefused, ""},
		{"unsigned garbage is refused before parsing", `not json`, "evt_1", "", false, domain.ErrSignatureMissing, domain.OutcomeRefused, ""},
		{"broker down: not acknowledged", minePaid, "evt_1", sign(minePaid, secret), true, sidecar.ErrSidecar, domain.OutcomeError, ""},
		{"published", minePaid, "evt_1", sign(minePaid, secret), false, nil, domain.OutcomeAccepted, contract.TopicGatewayResults},
		{"repeat", minePaid, "evt_1", sign(minePaid, secret), false, nil, domain.OutcomeDuplicate, ""},
		{"an event FinFlow does not use", `{"entity":"event","event":"refund.created","payload":{}}`, "evt_2", sign(`{"entity":"event","event":"refund.created","payload":{}}`, secret), false, nil, domain.OutcomeIgnored, ""},
		{"no order (a QR code)", payment("payment.captured", "null", "5000"), "evt_3", sign(payment("payment.captured", "null", "5000"), secret), false, nil, domain.OutcomeIgnored, ""},
		{"an order FinFlow never made", payment("payment.captured", `"order_OTHER000000001"`, "5000"), "evt_4", sign(payment("payment.captured", `"order_OTHER000000001"`, "5000"), secret), false, nil, domain.OutcomeUnknownOrder, contract.TopicGatewayParked},
		{"signed garbage", `{"entity":"thing"}`, "evt_5", sign(`{"entity":"thing"}`, secret), false, nil, domain.OutcomeMalformed, contract.TopicGatewayParked},
		{"fractional amount", payment("payment.captured", `"order_STUB0000000001"`, "50.5"), "evt_6", sign(payment("payment.captured", `"order_STUB0000000001"`, "50.5"), secret), false, nil, domain.OutcomeMalformed, contract.TopicGatewayParked},
		{"no event id: identified by its body", payment("payment.failed", `"order_STUB0000000001"`, "5000"), "", sign(payment("payment.failed", `"order_STUB0000000001"`, "5000"), secret), false, nil, domain.OutcomeAccepted, contract.TopicGatewayResults},
		{"no event id, delivered again", payment("payment.failed", `"order_STUB0000000001"`, "5000"), "", sign(payment("payment.failed", `"order_STUB0000000001"`, "5000"), secret), false, nil, domain.OutcomeDuplicate, ""},
		{"an event id with spaces", payment("order.paid", `"order_STUB0000000001"`, "5000"), "evt 7", sign(payment("order.paid", `"order_STUB0000000001"`, "5000"), secret), false, nil, domain.OutcomeAccepted, contract.TopicGatewayResults},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub.mu.Lock()
			pub.down = tc.brokerDown
			before := len(pub.events)
			pub.mu.Unlock()
			logged := len(log.items)
			answer, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: []byte(tc.body), Signature: tc.sig, EventID: tc.eventID, RequestID: "req_1"})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("HandleWebhook = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || answer.Status != tc.wantOutcome {
				t.Fatalf("HandleWebhook = %+v, %v; want outcome %s", answer, err, tc.wantOutcome)
			}
			pub.mu.Lock()
			defer pub.mu.Unlock()
			switch {
			case tc.wantTopic == "" && len(pub.events) != before:
				t.Fatalf("published %v, want nothing", pub.topics[before:])
			case tc.wantTopic != "" && (len(pub.events) != before+1 || pub.topics[before] != tc.wantTopic):
				t.Fatalf("published to %v, want one event on %s", pub.topics[before:], tc.wantTopic)
			case tc.wantTopic == contract.TopicGatewayParked && pub.events[before].Reason == "":
				t.Fatalf("parked without a reason: %+v", pub.events[before])
			case tc.wantTopic == contract.TopicGatewayResults && pub.events[before].PaymentID != mine:
				t.Fatalf("published %+v, want it mapped to pay_mine", pub.events[before])
			}
			switch {
			case tc.wantOutcome == domain.OutcomeRefused && len(log.items) != logged:
				t.Fatalf("a refused delivery was logged: %+v", log.items[logged:])
			case tc.wantOutcome != domain.OutcomeRefused && (len(log.items) != logged+1 || log.items[logged].Outcome != tc.wantOutcome):
				t.Fatalf("delivery log %+v, want one %s entry", log.items[logged:], tc.wantOutcome)
			}
		})
	}
}

// A refund is made once per FinFlow payment, with a key derived from it;
// asking again returns it; asking for another gateway payment or amount is
// a conflict, never a second refund. Razorpay's refusal passes through
// unchanged.
func TestRefundOncePerPayment(t *testing.T) {
	ctx := context.Background()
	a, _, _, gw := newAdapter(t)
	req := contract.RefundRequest{PaymentID: id.New(id.Payment), GatewayPaymentID: "pay_AAAAAAAAAAAAAA", Amount: 2500}
	first, err := a.Refund(ctx, req)
	if err != nil || first.RefundID == "" {
		t.Fatalf("Refund = %+v, %v", first, err)
	}
	if again, err := a.Refund(ctx, req); err != nil || again.RefundID != first.RefundID || gw.refunds != 1 {
		t.Fatalf("Refund again = %+v, %v (%d refunds made), want the first", again, err, gw.refunds)
	}
	other := req
	other.GatewayPaymentID = "pay_BBBBBBBBBBBBBB"
	if _, err := a.Refund(ctx, other); !errors.Is(err, domain.ErrRefundExists) || gw.refunds != 1 {
		t.Fatalf("Refund of another gateway payment = %v (%d refunds made), want ErrRefundExists", err, gw.refunds)
	}
	gw.err = domain.ClassifyAnswer("refunding the payment", 400, []byte(`{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist"}}`))
	_, err = a.Refund(ctx, contract.RefundRequest{PaymentID: id.New(id.Payment), GatewayPaymentID: "pay_FAKE0000000001", Amount: 2500})
	if !errors.Is(err, contract.ErrGatewayRefused) {
		t.Fatalf("refused refund = %v, want GATEWAY_REFUSED", err)
	}
}

// Orders: Razorpay's refusal and its silence are told apart, and nothing
// is recorded for an order that was not made.
func TestCreateOrderAnswers(t *testing.T) {
	ctx := context.Background()
	a, _, _, gw := newAdapter(t)
	cases := []struct {
		name    string
		err     error
		want    error
		payment string
	}{
		{"refused", domain.ClassifyAnswer("creating the order", 400, []byte(`{"error":{"code":"BAD_REQUEST_ERROR","description":"The amount must be at least INR 1.00","field":"amount"}}`)), contract.ErrGatewayRefused, id.New(id.Payment)},
		{"rate limited", domain.ClassifyAnswer("creating the order", 429, nil), contract.ErrGatewayUnavailable, id.New(id.Payment)},
		{"no answer", domain.Unanswered("creating the order", context.DeadlineExceeded), contract.ErrGatewayUnavailable, id.New(id.Payment)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gw.err = tc.err
			if _, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: tc.payment, Amount: 50, Currency: "INR"}); !errors.Is(err, tc.want) {
				t.Fatalf("CreateOrder = %v, want %v", err, tc.want)
			}
			if _, found, _ := a.Store.OrderForPayment(ctx, tc.payment); found {
				t.Fatal("an order was recorded although none was made")
			}
		})
	}
}

// A refund made from Razorpay's dashboard (no FinFlow notes) is parked, and
// its dead letter names FinFlow's payment when the event's payment entity
// names an order FinFlow made: the operator sees whose money went back.
func TestForeignRefundNamesFinFlowsPayment(t *testing.T) {
	ctx := context.Background()
	a, pub, _, _ := newAdapter(t)
	mine := id.New(id.Payment)
	if _, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: mine, Amount: 5000, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	refund := func(orderID string) string {
		return `{"entity":"event","event":"refund.processed","payload":{"refund":{"entity":{"id":"rfnd_AAAAAAAAAAAAAA","payment_id":"pay_AAAAAAAAAAAAAA","amount":5000,"currency":"INR","notes":[]}},` +
			`"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":` + orderID + `,"amount":5000,"currency":"INR","status":"refunded"}}}}`
	}
	for _, tc := range []struct {
		name, order, want string
	}{
		{"an order FinFlow made", `"order_STUB0000000001"`, mine},
		{"an order FinFlow never made", `"order_OTHER000000001"`, ""},
		{"no order named", `null`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := refund(tc.order)
			pub.mu.Lock()
			before := len(pub.events)
			pub.mu.Unlock()
			answer, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: []byte(body), Signature: sign(body, secret), EventID: "evt_" + tc.name, RequestID: "req_1"})
			if err != nil || answer.Status != domain.OutcomeForeign {
				t.Fatalf("HandleWebhook = %+v, %v; want foreign", answer, err)
			}
			pub.mu.Lock()
			defer pub.mu.Unlock()
			if len(pub.events) != before+1 || pub.topics[before] != contract.TopicGatewayParked || pub.events[before].PaymentID != tc.want {
				t.Fatalf("published %+v on %v, want one parked event naming %q", pub.events[before:], pub.topics[before:], tc.want)
			}
		})
	}
}

// A broker that does not answer makes the webhook an error (503, Razorpay
// delivers again) within WebhookBudget, before Razorpay's own 5 s: the
// answer had come after 5.01 s, which Razorpay counts as no answer.
func TestWebhookAnsweredWithinRazorpaysTimeout(t *testing.T) {
	a, pub, _, _ := newAdapter(t)
	ctx := context.Background()
	mine := id.New(id.Payment)
	if _, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: mine, Amount: 5000, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	pub.hang = true
	body := `{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":"order_STUB0000000001","amount":5000,"currency":"INR","status":"captured","notes":[]}}}}`
	start := time.Now()
	_, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: []byte(body), Signature: sign(body, secret), EventID: "evt_hang", RequestID: "req_1"})
	took := time.Since(start)
	if err == nil || apperr.From(err).Kind.Status() != 503 {
		t.Fatalf("webhook with the broker not answering = %v, want 503", err)
	}
	if took < domain.WebhookBudget || took > domain.WebhookBudget+time.Second {
		t.Fatalf("answered after %v, want at the budget %v (Razorpay waits 5 s)", took, domain.WebhookBudget)
	}
}

// barrier is a publisher that holds every publish until n have arrived, so
// that n deliveries of one event all pass the "seen before?" check before
// any of them records the event.
type barrier struct {
	published
	n       int
	arrived chan struct{}
	all     chan struct{}
	once    sync.Once
	count   int
	cmu     sync.Mutex
}

func (b *barrier) Publish(ctx context.Context, pubsub, topic string, data any, eventID string) error {
	b.cmu.Lock()
	b.count++
	if b.count == b.n {
		b.once.Do(func() { close(b.all) })
	}
	b.cmu.Unlock()
	select {
	case <-b.all:
	case <-time.After(5 * time.Second): // fewer than n got here: let the test see it
	}
	return b.published.Publish(ctx, pubsub, topic, data, eventID)
}

// Deliveries of one event racing each other (Razorpay retrying while the
// first is still being handled, or two razorpay instances): each is
// answered 2xx, exactly one is recorded as accepted and the others as
// duplicates. All of them may have published it; the payment service
// applies an event once, by its id.
func TestRacingDeliveriesOfOneEvent(t *testing.T) {
	ctx := context.Background()
	a, _, log, _ := newAdapter(t)
	const n = 4
	pub := &barrier{n: n, all: make(chan struct{})}
	a.Publisher = pub
	mine := id.New(id.Payment)
	if _, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: mine, Amount: 5000, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	body := `{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":"order_STUB0000000001","amount":5000,"currency":"INR","status":"captured","notes":[]}}}}`
	answers := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ans, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: []byte(body), Signature: sign(body, secret), EventID: "evt_race", RequestID: "req_1"})
			if err != nil {
				t.Errorf("HandleWebhook = %v, want an answer", err)
			}
			answers <- ans.Status
		}()
	}
	wg.Wait()
	close(answers)
	got := map[string]int{}
	for s := range answers {
		got[s]++
	}
	if got[domain.OutcomeAccepted] != 1 || got[domain.OutcomeDuplicate] != n-1 {
		t.Fatalf("answers %v, want 1 %s and %d %s", got, domain.OutcomeAccepted, n-1, domain.OutcomeDuplicate)
	}
	logged := map[string]int{}
	for _, d := range log.items {
		logged[d.Outcome]++
	}
	if logged[domain.OutcomeAccepted] != 1 || logged[domain.OutcomeDuplicate] != n-1 {
		t.Fatalf("delivery log %v, want 1 %s and %d %s", logged, domain.OutcomeAccepted, n-1, domain.OutcomeDuplicate)
	}
	if len(pub.events) != n {
		t.Fatalf("%d publishes, want %d (each racing delivery publishes before it records)", len(pub.events), n)
	}
}
