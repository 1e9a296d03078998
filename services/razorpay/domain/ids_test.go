package domain_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// Razorpay's ids as Razorpay (and the simulator) issue them: a prefix and
// 14 base62 characters.
const (
	rzpOrder   = "order_RB58MiP5SPFYyM"
	rzpPayment = "pay_29QQoUBi66xm2f"
	rzpRefund  = "rfnd_FP8QHiV938haTz"
)

// notRazorpays lists every kind of value found where a Razorpay id with
// prefix belongs that is not one.
func notRazorpays(prefix string) []struct{ name, value string } {
	return []struct{ name, value string }{
		{"|| inside", prefix + "a||b"},
		{"|| alone", "||"},
		{"|| in an id of the right length", prefix + "ABCDEF||GHIJKL"},
		{"a path", "x/../y"},
		{"a path of the right length", prefix + "AB/../CDEFGHIJ"},
		{"a slash", prefix + "ABCDEFG/HIJKLM"},
		{"percent-encoded", prefix + "ABCDEFGHIJK%2F"},
		{"a space", prefix + "ABCDEFG HIJKLM"},
		{"a NUL", prefix + "ABCDEFG\x00HIJKLM"},
		{"a newline", prefix + "ABCDEFG\nHIJKLM"},
		{"not ASCII", prefix + "ÀBCDEFGHIJKLM"},
		{"too short", prefix + "ABCDEFGHIJKLM"},
		{"too long", prefix + "ABCDEFGHIJKLMNO"},
		{"no prefix", "ABCDEFGHIJKLMN"},
		{"the prefix only", prefix},
		{"upper-case prefix", strings.ToUpper(prefix) + "ABCDEFGHIJKLMN"},
		{"another prefix", "inv_ABCDEFGHIJKLMN"},
		{"FinFlow's payment id", id.New(id.Payment)},
	}
}

// notFinFlows lists every kind of value found where FinFlow's payment id
// belongs in a refund's notes that is not one.
func notFinFlows() []struct{ name, value string } {
	good := id.New(id.Payment)
	return []struct{ name, value string }{
		{"|| inside", "pay_a||b"},
		{"|| alone", "||"},
		{"|| in an id of the right length", good[:10] + "||" + good[12:]},
		{"a path", "x/../y"},
		{"Razorpay's payment id", rzpPayment},
		{"a user id", id.New(id.User)},
		{"a refund id", id.New(id.Refund)},
		{"upper case", strings.ToUpper(good)},
		{"too long", good + "0"},
		{"a space", good[:10] + " " + good[11:]},
	}
}

// notRefundKeys lists every kind of value found where FinFlow's refund key
// belongs in a refund's notes that is not one (a FinFlow refund id, or the
// payment's own id).
func notRefundKeys() []struct{ name, value string } {
	var out []struct{ name, value string }
	for _, k := range notFinFlows() {
		if k.name != "a refund id" {
			out = append(out, k)
		}
	}
	return append(out, struct{ name, value string }{"another payment's id", id.New(id.Payment)})
}

// paymentEvent is a payment event in Razorpay's envelope.
func paymentEvent(event, paymentID, orderID string) []byte {
	entity := map[string]any{"id": paymentID, "entity": "payment", "amount": 5000, "currency": "INR", "status": "captured", "order_id": orderID, "notes": []any{}}
	payload := map[string]any{"payment": map[string]any{"entity": entity}}
	if event == "order.paid" {
		payload["order"] = map[string]any{"entity": map[string]any{"id": orderID, "entity": "order"}}
	}
	b, _ := json.Marshal(map[string]any{"entity": "event", "event": event, "contains": []string{"payment"}, "payload": payload, "created_at": 1})
	return b
}

// refundEvent is a refund event in Razorpay's envelope with FinFlow's notes.
func refundEvent(event, refundID, paymentID, finflowPayment, key string) []byte {
	entity := map[string]any{"id": refundID, "entity": "refund", "amount": 2500, "currency": "INR", "payment_id": paymentID,
		"notes": map[string]string{domain.NotePaymentID: finflowPayment, domain.NoteRefundKey: key}, "status": "processed"}
	b, _ := json.Marshal(map[string]any{"entity": "event", "event": event, "contains": []string{"refund", "payment"},
		"payload": map[string]any{"refund": map[string]any{"entity": entity}}, "created_at": 1})
	return b
}

// Every id a webhook carries into FinFlow is Razorpay's (or, in a refund's
// notes, FinFlow's), or the event is malformed: for each place an id goes,
// every kind of value that is not one.
func TestParseEventIDs(t *testing.T) {
	now := time.Now()
	mine, refundKey := id.New(id.Payment), id.New(id.Refund)
	type place struct {
		name  string
		kinds []struct{ name, value string }
		body  func(v string) []byte
	}
	var places []place
	for _, ev := range []string{"payment.captured", "order.paid", "payment.failed"} {
		places = append(places,
			place{ev + " payment id", notRazorpays("pay_"), func(v string) []byte { return paymentEvent(ev, v, rzpOrder) }},
			place{ev + " order_id", notRazorpays("order_"), func(v string) []byte { return paymentEvent(ev, rzpPayment, v) }})
	}
	for _, ev := range []string{"refund.processed", "refund.failed"} {
		places = append(places,
			place{ev + " refund id", notRazorpays("rfnd_"), func(v string) []byte { return refundEvent(ev, v, rzpPayment, mine, refundKey) }},
			place{ev + " payment_id", notRazorpays("pay_"), func(v string) []byte { return refundEvent(ev, rzpRefund, v, mine, refundKey) }},
			place{ev + " note " + domain.NotePaymentID, notFinFlows(), func(v string) []byte { return refundEvent(ev, rzpRefund, rzpPayment, v, refundKey) }},
			place{ev + " note " + domain.NoteRefundKey, notRefundKeys(),
				func(v string) []byte { return refundEvent(ev, rzpRefund, rzpPayment, mine, v) }})
	}
	for _, p := range places {
		for _, k := range p.kinds {
			t.Run(p.name+"/"+k.name, func(t *testing.T) {
				r, v, reason := domain.ParseEvent("evt_1", p.body(k.value), now)
				if v != domain.Malformed || reason == "" {
					t.Fatalf("ParseEvent with %q = verdict %d %q, want Malformed with a reason", k.value, v, reason)
				}
				if r.PaymentID != "" && !id.Valid(id.Payment, r.PaymentID) {
					t.Fatalf("a malformed result names %q as FinFlow's payment", r.PaymentID)
				}
				for _, s := range []string{r.OrderID, r.GatewayPaymentID, r.GatewayRefundID, r.RefundKey, reason} {
					if strings.ContainsAny(s, "\x00\n") {
						t.Fatalf("a malformed result carries control characters: %+v %q", r, reason)
					}
				}
			})
		}
	}
	// And the ids as Razorpay and FinFlow make them are acted on.
	good := []struct {
		name string
		body []byte
	}{
		{"payment.captured", paymentEvent("payment.captured", rzpPayment, rzpOrder)},
		{"order.paid", paymentEvent("order.paid", rzpPayment, rzpOrder)},
		{"payment.failed", paymentEvent("payment.failed", rzpPayment, rzpOrder)},
		{"refund.processed, a FinFlow refund", refundEvent("refund.processed", rzpRefund, rzpPayment, mine, refundKey)},
		{"refund.failed, a capture given back whole", refundEvent("refund.failed", rzpRefund, rzpPayment, mine, mine)},
		{"refund.processed of a top-up", refundEvent("refund.processed", rzpRefund, rzpPayment, id.New(id.TopUp), refundKey)},
	}
	for _, g := range good {
		t.Run("good/"+g.name, func(t *testing.T) {
			if _, v, reason := domain.ParseEvent("evt_1", g.body, now); v != domain.Act {
				t.Fatalf("ParseEvent = verdict %d %q, want Act", v, reason)
			}
		})
	}
}

// The reported deliveries, through the adapter on a state store that
// refuses "||" in keys as Dapr does: each is answered 200 malformed,
// parked, and never published for the payment service; nothing is applied.
func TestWebhookWithIDsThatAreNotRazorpays(t *testing.T) {
	ctx := context.Background()
	a, pub, log, _ := newAdapter(t)
	mine := id.New(id.Payment)
	o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: mine, Amount: 5000, Currency: "INR"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		body []byte
	}{
		{"payment.captured, order_id order_a||b", paymentEvent("payment.captured", rzpPayment, "order_a||b")},
		{"payment.captured, order_id ||", paymentEvent("payment.captured", rzpPayment, "||")},
		{"payment.failed, order_id order_a||b", paymentEvent("payment.failed", rzpPayment, "order_a||b")},
		{"order.paid, order_id ||", paymentEvent("order.paid", rzpPayment, "||")},
		{"refund.processed, finflow_payment_id pay_a||b", refundEvent("refund.processed", rzpRefund, rzpPayment, "pay_a||b", id.New(id.Refund))},
		{"refund.failed, finflow_refund_key rfd_a||b", refundEvent("refund.failed", rzpRefund, rzpPayment, mine, "rfd_a||b")},
		{"payment.captured of x/../y on FinFlow's pending order", paymentEvent("payment.captured", "x/../y", o.OrderID)},
		{"payment.captured of pay_a||b on FinFlow's pending order", paymentEvent("payment.captured", "pay_a||b", o.OrderID)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub.mu.Lock()
			before := len(pub.events)
			pub.mu.Unlock()
			logged := len(log.items)
			eventID := "evt_ids" + strings.Repeat("x", i+1)
			answer, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: tc.body, Signature: sign(string(tc.body), secret), EventID: eventID, RequestID: "req_1"})
			if err != nil || answer.Status != domain.OutcomeMalformed {
				t.Fatalf("HandleWebhook = %+v, %v; want 200 malformed", answer, err)
			}
			pub.mu.Lock()
			if len(pub.events) != before+1 || pub.topics[before] != contract.TopicGatewayParked || pub.events[before].Reason == "" {
				t.Fatalf("published to %v, want it parked once with a reason", pub.topics[before:])
			}
			pub.mu.Unlock()
			if len(log.items) != logged+1 || log.items[logged].Outcome != domain.OutcomeMalformed || log.items[logged].Status != 200 {
				t.Fatalf("delivery log %+v, want one malformed 200 entry", log.items[logged:])
			}
			again, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: tc.body, Signature: sign(string(tc.body), secret), EventID: eventID, RequestID: "req_2"})
			if err != nil || again.Status != domain.OutcomeDuplicate {
				t.Fatalf("delivered again = %+v, %v; want 200 duplicate", again, err)
			}
		})
	}
	// The same deliveries with Razorpay's ids are acted on.
	good := paymentEvent("payment.captured", rzpPayment, o.OrderID)
	if answer, err := a.HandleWebhook(ctx, domain.WebhookDelivery{Body: good, Signature: sign(string(good), secret), EventID: "evt_good1", RequestID: "req_3"}); err != nil || answer.Status != domain.OutcomeAccepted {
		t.Fatalf("HandleWebhook of Razorpay's capture = %+v, %v; want accepted", answer, err)
	}
}

// Every id an answer of Razorpay's API carries into FinFlow is Razorpay's,
// or the answer is no definite answer (GATEWAY_UNAVAILABLE, asked again
// later) and nothing of it is recorded; every id the payment service asks
// about is checked the same way before Razorpay is asked.
func TestGatewayAnswersWithIDsThatAreNotRazorpays(t *testing.T) {
	ctx := context.Background()
	for _, k := range notRazorpays("order_") {
		t.Run("create order answers "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			gw.orderID = k.value
			payment := id.New(id.Payment)
			if _, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: payment, Amount: 5000, Currency: "INR"}); !errors.Is(err, contract.ErrGatewayUnavailable) {
				t.Fatalf("CreateOrder answered %q = %v, want GATEWAY_UNAVAILABLE", k.value, err)
			}
			if _, found, _ := a.Store.OrderForPayment(ctx, payment); found {
				t.Fatal("an order was recorded under an id that is not Razorpay's")
			}
		})
		t.Run("order payments answers order_id "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: id.New(id.Payment), Amount: 5000, Currency: "INR"})
			if err != nil {
				t.Fatal(err)
			}
			gw.payments = []contract.GatewayPayment{{ID: rzpPayment, OrderID: o.OrderID, Status: "failed", Amount: 5000, Currency: "INR"}, {ID: rzpPayment, OrderID: k.value, Status: "captured", Amount: 5000, Currency: "INR"}}
			if _, items, err := a.OrderPayments(ctx, o.OrderID); !errors.Is(err, contract.ErrGatewayUnavailable) || items != nil {
				t.Fatalf("OrderPayments = %v, %v; want GATEWAY_UNAVAILABLE and no items", items, err)
			}
		})
		t.Run("fetch payment answers order_id "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			gw.payment = contract.GatewayPayment{ID: rzpPayment, OrderID: k.value, Status: "captured", Amount: 5000, Currency: "INR"}
			if _, err := a.Payment(ctx, rzpPayment); !errors.Is(err, contract.ErrGatewayUnavailable) {
				t.Fatalf("Payment = %v, want GATEWAY_UNAVAILABLE", err)
			}
		})
		t.Run("asked about order "+k.name, func(t *testing.T) {
			a, _, _, _ := newAdapter(t)
			if _, _, err := a.OrderPayments(ctx, k.value); !errors.Is(err, domain.ErrOrderNotFound) {
				t.Fatalf("OrderPayments(%q) = %v, want ORDER_NOT_FOUND", k.value, err)
			}
		})
	}
	for _, k := range notRazorpays("pay_") {
		t.Run("order payments answers payment id "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: id.New(id.Payment), Amount: 5000, Currency: "INR"})
			if err != nil {
				t.Fatal(err)
			}
			gw.payments = []contract.GatewayPayment{{ID: k.value, OrderID: o.OrderID, Status: "captured", Amount: 5000, Currency: "INR"}}
			if _, _, err := a.OrderPayments(ctx, o.OrderID); !errors.Is(err, contract.ErrGatewayUnavailable) {
				t.Fatalf("OrderPayments = %v, want GATEWAY_UNAVAILABLE", err)
			}
		})
		t.Run("fetch payment answers payment id "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			gw.payment = contract.GatewayPayment{ID: k.value, OrderID: rzpOrder, Status: "captured", Amount: 5000, Currency: "INR"}
			if _, err := a.Payment(ctx, rzpPayment); !errors.Is(err, contract.ErrGatewayUnavailable) {
				t.Fatalf("Payment = %v, want GATEWAY_UNAVAILABLE", err)
			}
		})
		t.Run("asked to fetch payment "+k.name, func(t *testing.T) {
			a, _, _, _ := newAdapter(t)
			if _, err := a.Payment(ctx, k.value); apperr.From(err).Kind != apperr.KindInvalid {
				t.Fatalf("Payment(%q) = %v, want INVALID", k.value, err)
			}
		})
		t.Run("asked to refund payment "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			if _, err := a.Refund(ctx, contract.RefundRequest{PaymentID: id.New(id.Payment), GatewayPaymentID: k.value, Amount: 2500}); apperr.From(err).Kind != apperr.KindInvalid || gw.refunds != 0 {
				t.Fatalf("Refund of %q = %v (%d refunds made), want INVALID and none", k.value, err, gw.refunds)
			}
		})
	}
	for _, k := range notRazorpays("rfnd_") {
		t.Run("refund answers refund id "+k.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			gw.refundID = k.value
			req := contract.RefundRequest{PaymentID: id.New(id.Payment), GatewayPaymentID: rzpPayment, Amount: 2500}
			if _, err := a.Refund(ctx, req); !errors.Is(err, contract.ErrGatewayUnavailable) {
				t.Fatalf("Refund answered %q = %v, want GATEWAY_UNAVAILABLE", k.value, err)
			}
			if _, found, _ := a.Store.RefundByKey(ctx, req.PaymentID); found {
				t.Fatal("a refund was recorded under an id that is not Razorpay's")
			}
		})
	}
	for _, k := range notFinFlows() {
		t.Run("asked for refund key "+k.name, func(t *testing.T) {
			a, _, _, _ := newAdapter(t)
			if _, err := a.RefundStatus(ctx, k.value); !errors.Is(err, domain.ErrRefundNotFound) {
				t.Fatalf("RefundStatus(%q) = %v, want REFUND_NOT_FOUND", k.value, err)
			}
		})
	}
	t.Run("a fetched payment without an order", func(t *testing.T) {
		a, _, _, gw := newAdapter(t)
		gw.payment = contract.GatewayPayment{ID: rzpPayment, Status: "captured", Amount: 5000, Currency: "INR"}
		if p, err := a.Payment(ctx, rzpPayment); err != nil || p.ID != rzpPayment {
			t.Fatalf("Payment = %+v, %v; want it (a payment may have no order)", p, err)
		}
	})
}
