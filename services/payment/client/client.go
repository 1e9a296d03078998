// Package client reaches the billing and wallet services through Dapr
// service invocation, turning their answers into the payment domain's
// errors.
package client

import (
	"context"
	"net/http"

	"github.com/finflow/finflow/platform/peers"
	"github.com/finflow/finflow/services/payment/domain"
)

// Bills is the billing service.
type Bills struct{ Dapr peers.Caller }

var _ domain.Bills = Bills{}

type billJSON struct {
	ID        string  `json:"id"`
	UserID    string  `json:"user_id"`
	Amount    int64   `json:"amount"`
	Currency  string  `json:"currency"`
	Status    string  `json:"status"`
	PaymentID *string `json:"payment_id"`
}

// Get implements domain.Bills.
func (b Bills) Get(ctx context.Context, billID string) (domain.Bill, error) {
	var out billJSON
	if _, err := b.Dapr.CallRead(ctx, "billing", "/billing/"+billID, &out, nil); err != nil {
		return domain.Bill{}, err
	}
	bill := domain.Bill{ID: out.ID, UserID: out.UserID, Amount: out.Amount, Currency: out.Currency, Paid: out.Status == "PAID"}
	if out.PaymentID != nil {
		bill.PaymentID = *out.PaymentID
	}
	return bill, nil
}

// MarkPaid implements domain.Bills.
func (b Bills) MarkPaid(ctx context.Context, billID, paymentID string) error {
	in := map[string]string{"bill_id": billID, "status": "PAID", "payment_id": paymentID}
	_, err := b.Dapr.Call(ctx, "billing", http.MethodPut, "/billing/updateStatus", in, nil, nil)
	return err
}

// Wallets is the wallet service.
type Wallets struct{ Dapr peers.Caller }

var _ domain.Wallets = Wallets{}

// Debit implements domain.Wallets.
func (w Wallets) Debit(ctx context.Context, userID string, amount int64, reference string) error {
	in := map[string]any{"user_id": userID, "amount": amount, "reference": reference}
	_, err := w.Dapr.Call(ctx, "wallet", http.MethodPost, "/wallet/deduct", in, nil, nil)
	return err
}

// Reverse implements domain.Wallets.
func (w Wallets) Reverse(ctx context.Context, userID, reference string) error {
	in := map[string]any{"user_id": userID, "reference": reference}
	_, err := w.Dapr.Call(ctx, "wallet", http.MethodPost, "/wallet/reverse", in, nil, nil)
	return err
}

// Gateway is the razorpay service (the Razorpay adapter).
type Gateway struct{ Dapr peers.Caller }

var _ domain.Gateway = Gateway{}

// CreateOrder implements domain.Gateway.
func (g Gateway) CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (domain.RazorpayOrder, error) {
	var out domain.RazorpayOrder
	in := map[string]any{"payment_id": paymentID, "amount": amount, "currency": currency}
	_, err := g.Dapr.Call(ctx, "razorpay", http.MethodPost, "/razorpay/create-order", in, &out, nil)
	return out, err
}

// OrderPayments implements domain.Gateway.
func (g Gateway) OrderPayments(ctx context.Context, orderID string) ([]domain.GatewayPayment, error) {
	var out struct {
		Items []domain.GatewayPayment `json:"items"`
	}
	_, err := g.Dapr.CallRead(ctx, "razorpay", "/razorpay/orders/"+orderID+"/payments", &out, nil)
	return out.Items, err
}

// Refund implements domain.Gateway.
func (g Gateway) Refund(ctx context.Context, paymentID, gatewayPaymentID string, amount int64) (domain.Refund, error) {
	var out domain.Refund
	in := map[string]any{"payment_id": paymentID, "gateway_payment_id": gatewayPaymentID, "amount": amount}
	_, err := g.Dapr.Call(ctx, "razorpay", http.MethodPost, "/razorpay/refund", in, &out, nil)
	return out, err
}
