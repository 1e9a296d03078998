package domain_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// Razorpay's answer to creating an order is held to the order asked: a
// rewritten amount, currency, receipt or note is no definite answer and
// nothing is recorded.
func TestCreateOrderAnswerIsTheOrderAsked(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		rewrite func(o *domain.OrderAnswer)
		ok      bool
	}{
		{"as asked", func(*domain.OrderAnswer) {}, true},
		{"no notes (Razorpay's [])", func(o *domain.OrderAnswer) { o.Notes = nil }, true},
		{"another amount", func(o *domain.OrderAnswer) { o.Amount = 100 }, false},
		{"one paisa more", func(o *domain.OrderAnswer) { o.Amount++ }, false},
		{"another currency", func(o *domain.OrderAnswer) { o.Currency = "USD" }, false},
		{"no currency", func(o *domain.OrderAnswer) { o.Currency = "" }, false},
		{"another payment's receipt", func(o *domain.OrderAnswer) { o.Receipt = id.New(id.Payment) }, false},
		{"no receipt", func(o *domain.OrderAnswer) { o.Receipt = "" }, false},
		{"another payment in notes", func(o *domain.OrderAnswer) { o.Notes = map[string]string{domain.NoteOrderPayment: id.New(id.Payment)} }, false},
		{"an empty note", func(o *domain.OrderAnswer) { o.Notes = map[string]string{domain.NoteOrderPayment: ""} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			gw.rewriteOrder = tc.rewrite
			payment := id.New(id.Payment)
			o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: payment, Amount: 5000, Currency: "INR"})
			_, found, _ := a.Store.OrderForPayment(ctx, payment)
			if tc.ok {
				if err != nil || o.OrderID != "order_STUB0000000001" || o.Amount != 5000 || !found {
					t.Fatalf("CreateOrder = %+v, %v (recorded %v); want the order, recorded", o, err, found)
				}
				return
			}
			if !errors.Is(err, contract.ErrGatewayUnavailable) || found {
				t.Fatalf("CreateOrder = %+v, %v (recorded %v); want GATEWAY_UNAVAILABLE and nothing recorded", o, err, found)
			}
			if _, err := a.Store.Order(ctx, "order_STUB0000000001"); !errors.Is(err, domain.ErrOrderNotFound) {
				t.Fatalf("order/<id> = %v, want nothing recorded", err)
			}
		})
	}
}

// An order id already recorded for another payment (the tester's: PY's
// order answered with PX's order id) is never overwritten: PY gets no
// definite answer, and PX's capture still finds PX. The same payment
// finding its own order (a retry after a crash between the two records)
// is its order.
func TestCreateOrderNeverTakesAnotherPaymentsOrder(t *testing.T) {
	ctx := context.Background()
	a, pub, _, gw := newAdapter(t)
	px, py := id.New(id.Payment), id.New(id.Payment)
	ox, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: px, Amount: 5000, Currency: "INR"})
	if err != nil {
		t.Fatal(err)
	}
	// The answer to PY's order, rewritten to PX's order id (its receipt and
	// notes PY's, as asked).
	if o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: py, Amount: 5000, Currency: "INR"}); !errors.Is(err, contract.ErrGatewayUnavailable) {
		t.Fatalf("CreateOrder(PY) answered PX's order = %+v, %v; want GATEWAY_UNAVAILABLE", o, err)
	}
	if o, err := a.Store.Order(ctx, ox.OrderID); err != nil || o.PaymentID != px {
		t.Fatalf("order %s = %+v, %v; want it still PX's", ox.OrderID, o, err)
	}
	if _, found, _ := a.Store.OrderForPayment(ctx, py); found {
		t.Fatal("PY was given an order")
	}
	pub.mu.Lock()
	if len(pub.events) != 1 || pub.topics[0] != contract.TopicGatewayParked || pub.events[0].PaymentID != py || pub.events[0].OrderID != ox.OrderID || !strings.Contains(pub.events[0].Reason, "another payment") {
		t.Fatalf("published %+v to %v, want PY's answer parked once, naming PX's order", pub.events, pub.topics)
	}
	pub.mu.Unlock()
	// Another amount for the same order id is another payment's too.
	if _, _, err := a.Store.SaveOrder(ctx, domain.Order{OrderID: ox.OrderID, PaymentID: py, Amount: 100, Currency: "INR"}); !errors.Is(err, domain.ErrOrderIDInUse) {
		t.Fatalf("SaveOrder of PX's order for PY = %v, want ErrOrderIDInUse", err)
	}
	// PZ's order recorded, its pointer lost (a crash between the two): PZ's
	// retry, answered the same order, finds its own.
	pz := id.New(id.Payment)
	gw.orderID = "order_STUB0000000002"
	if _, _, err := a.Store.SaveOrder(ctx, domain.Order{OrderID: gw.orderID, PaymentID: pz, Amount: 5000, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	if o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: pz, Amount: 5000, Currency: "INR"}); err != nil || o.OrderID != gw.orderID {
		t.Fatalf("CreateOrder(PZ) = %+v, %v; want its own order %s", o, err, gw.orderID)
	}
}

// Each payment of a listing of an order's payments is that order's: a
// payment of another order (the tester's: order OB's captured payment
// listed for OA), or of another currency or amount, makes the listing no
// definite answer, and none of it is passed on. A fetched payment is the
// one asked about.
func TestPaymentAnswersAreAboutWhatWasAsked(t *testing.T) {
	ctx := context.Background()
	const (
		mine  = "pay_MINE0000000001"
		other = "pay_OTHR0000000001"
		ob    = "order_OBOBOBOBOBOBOB"
	)
	listed := []struct {
		name    string
		rewrite func(p *contract.GatewayPayment)
		ok      bool
	}{
		{"the order's", func(*contract.GatewayPayment) {}, true},
		{"another order's captured payment", func(p *contract.GatewayPayment) { p.ID, p.OrderID = other, ob }, false},
		{"another order id", func(p *contract.GatewayPayment) { p.OrderID = ob }, false},
		{"another currency", func(p *contract.GatewayPayment) { p.Currency = "USD" }, false},
		{"no currency", func(p *contract.GatewayPayment) { p.Currency = "" }, false},
		{"another amount", func(p *contract.GatewayPayment) { p.Amount = 100 }, false},
		{"one paisa less", func(p *contract.GatewayPayment) { p.Amount-- }, false},
	}
	for _, tc := range listed {
		t.Run("order payments: "+tc.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			o, err := a.CreateOrder(ctx, contract.CreateOrderRequest{PaymentID: id.New(id.Payment), Amount: 5000, Currency: "INR"})
			if err != nil {
				t.Fatal(err)
			}
			p := contract.GatewayPayment{ID: mine, OrderID: o.OrderID, Status: "captured", Amount: 5000, Currency: "INR"}
			tc.rewrite(&p)
			gw.payments = []contract.GatewayPayment{{ID: "pay_FAIL0000000001", OrderID: o.OrderID, Status: "failed", Amount: 5000, Currency: "INR"}, p}
			_, items, err := a.OrderPayments(ctx, o.OrderID)
			if tc.ok {
				if err != nil || len(items) != 2 {
					t.Fatalf("OrderPayments = %+v, %v; want both", items, err)
				}
				return
			}
			if !errors.Is(err, contract.ErrGatewayUnavailable) || items != nil {
				t.Fatalf("OrderPayments listing %+v = %+v, %v; want GATEWAY_UNAVAILABLE and nothing", p, items, err)
			}
		})
	}
	fetched := []struct {
		name string
		id   string
		ok   bool
	}{
		{"the payment asked", mine, true},
		{"another payment", other, false},
	}
	for _, tc := range fetched {
		t.Run("fetch payment: "+tc.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			gw.payment = contract.GatewayPayment{ID: tc.id, OrderID: ob, Status: "captured", Amount: 5000, Currency: "INR"}
			p, err := a.Payment(ctx, mine)
			if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, contract.ErrGatewayUnavailable) {
				t.Fatalf("Payment(%s) answered %s = %+v, %v; want ok %v, else GATEWAY_UNAVAILABLE", mine, tc.id, p, err, tc.ok)
			}
		})
	}
}

// Razorpay's answers about a refund are held to the refund, making it and
// asking about it: its payment, amount, currency, status, notes, and (asked
// about) its id. What passes on is what Razorpay answered. The tester's:
// a refund answered as 100 of pay_AAAAAAAAAAAAAA; a fetch answered as
// rfnd_BBBBBBBBBBBBBB, 100, processed.
func TestRefundAnswersAreTheRefundAsked(t *testing.T) {
	ctx := context.Background()
	const gwPayment = "pay_GWPY0000000001"
	cases := []struct {
		name    string
		rewrite func(r *domain.RefundAnswer)
		made    bool // false: only the fetch is rewritten
		ok      bool
	}{
		{"as asked", func(*domain.RefundAnswer) {}, true, true},
		{"no notes", func(r *domain.RefundAnswer) { r.Notes = nil }, true, true},
		{"amount 100 of pay_AAAAAAAAAAAAAA", func(r *domain.RefundAnswer) { r.Amount, r.PaymentID = 100, "pay_AAAAAAAAAAAAAA" }, true, false},
		{"another payment", func(r *domain.RefundAnswer) { r.PaymentID = "pay_AAAAAAAAAAAAAA" }, true, false},
		{"another amount", func(r *domain.RefundAnswer) { r.Amount = 100 }, true, false},
		{"one paisa more", func(r *domain.RefundAnswer) { r.Amount++ }, true, false},
		{"another currency", func(r *domain.RefundAnswer) { r.Currency = "USD" }, true, false},
		{"an undocumented status", func(r *domain.RefundAnswer) { r.Status = "done" }, true, false},
		{"another refund key in notes", func(r *domain.RefundAnswer) { r.Notes = map[string]string{domain.NoteRefundKey: id.New(id.Refund)} }, true, false},
		{"another payment in notes", func(r *domain.RefundAnswer) { r.Notes = map[string]string{domain.NotePaymentID: id.New(id.Payment)} }, true, false},
		{"fetched: rfnd_BBBBBBBBBBBBBB, 100, processed", func(r *domain.RefundAnswer) {
			r.ID, r.Amount, r.Status = "rfnd_BBBBBBBBBBBBBB", 100, "processed"
		}, false, false},
		{"fetched: another refund id", func(r *domain.RefundAnswer) { r.ID = "rfnd_BBBBBBBBBBBBBB" }, false, false},
		{"fetched: another amount", func(r *domain.RefundAnswer) { r.Amount = 100 }, false, false},
		{"fetched: another payment", func(r *domain.RefundAnswer) { r.PaymentID = "pay_AAAAAAAAAAAAAA" }, false, false},
		{"fetched: another currency", func(r *domain.RefundAnswer) { r.Currency = "USD" }, false, false},
		{"fetched: no status", func(r *domain.RefundAnswer) { r.Status = "" }, false, false},
		{"fetched: another refund key in notes", func(r *domain.RefundAnswer) { r.Notes = map[string]string{domain.NoteRefundKey: id.New(id.Refund)} }, false, false},
		{"fetched: another payment in notes", func(r *domain.RefundAnswer) { r.Notes = map[string]string{domain.NotePaymentID: id.New(id.Payment)} }, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _, gw := newAdapter(t)
			req := contract.RefundRequest{PaymentID: id.New(id.Payment), GatewayPaymentID: gwPayment, Amount: 2500, Key: id.New(id.Refund)}
			if tc.made {
				gw.rewriteRefund = tc.rewrite
			}
			made, err := a.Refund(ctx, req)
			_, recorded, _ := a.Store.RefundByKey(ctx, req.Key)
			if tc.made && !tc.ok {
				if !errors.Is(err, contract.ErrGatewayUnavailable) || recorded {
					t.Fatalf("Refund answered rewritten = %+v, %v (recorded %v); want GATEWAY_UNAVAILABLE and nothing recorded", made, err, recorded)
				}
				return
			}
			want := contract.Refund{RefundID: "rfnd_STUB0000000001", Key: req.Key, PaymentID: req.PaymentID, GatewayPaymentID: gwPayment, Amount: 2500, Status: "pending"}
			if err != nil || !recorded || made.RefundID != want.RefundID || made.Key != want.Key || made.PaymentID != want.PaymentID || made.GatewayPaymentID != want.GatewayPaymentID || made.Amount != want.Amount || made.Status != want.Status {
				t.Fatalf("Refund = %+v, %v (recorded %v); want %+v", made, err, recorded, want)
			}
			gw.rewriteRefund = tc.rewrite
			now, err := a.RefundStatus(ctx, req.Key)
			if !tc.ok {
				if !errors.Is(err, contract.ErrGatewayUnavailable) {
					t.Fatalf("RefundStatus answered rewritten = %+v, %v; want GATEWAY_UNAVAILABLE", now, err)
				}
				return
			}
			want.Status = "processed"
			if err != nil || now.RefundID != want.RefundID || now.Key != want.Key || now.PaymentID != want.PaymentID || now.GatewayPaymentID != want.GatewayPaymentID || now.Amount != want.Amount || now.Status != want.Status {
				t.Fatalf("RefundStatus = %+v, %v; want %+v", now, err, want)
			}
		})
	}
}
