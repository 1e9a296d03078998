// Package client reaches the billing and wallet services through Dapr
// service invocation, turning their answers into the payment domain's
// errors.
package client

import (
	"context"
	"errors"
	"net/http"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/peers"
	"github.com/finflow/finflow/services/payment/domain"
)

// Bills is the billing service.
type Bills struct{ Dapr peers.Caller }

var _ domain.Bills = Bills{}

// Get implements domain.Bills. Only an UNPAID bill is payable: a PAID
// bill and a REFUNDED one (paid once, its money given back) are both Paid,
// so paying either is refused before a payment is recorded.
func (b Bills) Get(ctx context.Context, billID string) (domain.Bill, error) {
	var out contract.Bill
	if _, err := b.Dapr.CallRead(ctx, contract.AppBilling, contract.PathBill(billID), &out, nil); err != nil {
		return domain.Bill{}, err
	}
	bill := domain.Bill{ID: out.ID, UserID: out.UserID, Amount: out.Amount, Currency: out.Currency, Paid: out.Status != contract.BillUnpaid,
		Refunded: out.Status == contract.BillRefunded}
	if out.PaymentID != nil {
		bill.PaymentID = *out.PaymentID
	}
	return bill, nil
}

// MarkPaid implements domain.Bills.
func (b Bills) MarkPaid(ctx context.Context, billID, paymentID string) error {
	in := contract.MarkPaidRequest{BillID: billID, Status: "PAID", PaymentID: paymentID}
	_, err := b.Dapr.Call(ctx, contract.AppBilling, http.MethodPut, contract.PathBillMarkPaid, in, nil, nil)
	return err
}

// MarkRefunded implements domain.Bills.
func (b Bills) MarkRefunded(ctx context.Context, billID, paymentID string) error {
	in := contract.MarkRefundedRequest{BillID: billID, PaymentID: paymentID}
	_, err := b.Dapr.Call(ctx, contract.AppBilling, http.MethodPut, contract.PathBillMarkRefunded, in, nil, nil)
	return err
}

// Wallets is the wallet service.
type Wallets struct{ Dapr peers.Caller }

var _ domain.Wallets = Wallets{}

// Debit implements domain.Wallets.
func (w Wallets) Debit(ctx context.Context, userID string, amount int64, reference string) error {
	in := contract.DebitRequest{UserID: userID, Amount: amount, Reference: reference}
	_, err := w.Dapr.Call(ctx, contract.AppWallet, http.MethodPost, contract.PathWalletDebit, in, nil, nil)
	return err
}

// Credit implements domain.Wallets.
func (w Wallets) Credit(ctx context.Context, userID string, amount int64, reference string) error {
	in := contract.CreditRequest{UserID: userID, Amount: amount, Reference: reference}
	_, err := w.Dapr.Call(ctx, contract.AppWallet, http.MethodPost, contract.PathWalletCredit, in, nil, nil)
	return err
}

// Exists implements domain.Wallets.
func (w Wallets) Exists(ctx context.Context, userID string) (bool, error) {
	_, err := w.Dapr.CallRead(ctx, contract.AppWallet, contract.PathWalletBalance(userID), nil, nil)
	if errors.Is(err, contract.ErrWalletNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Reverse implements domain.Wallets.
func (w Wallets) Reverse(ctx context.Context, userID, reference string) error {
	in := contract.ReverseRequest{UserID: userID, Reference: reference}
	_, err := w.Dapr.Call(ctx, contract.AppWallet, http.MethodPost, contract.PathWalletReverse, in, nil, nil)
	return err
}

// Gateway is the razorpay service (the Razorpay adapter). Its answers keep
// their stable code across the call: Razorpay's refusal is
// contract.ErrGatewayRefused with Razorpay's words in details.
type Gateway struct{ Dapr peers.Caller }

var _ domain.Gateway = Gateway{}

// CreateOrder implements domain.Gateway.
func (g Gateway) CreateOrder(ctx context.Context, paymentID string, amount int64, currency string) (domain.RazorpayOrder, error) {
	var out contract.Order
	in := contract.CreateOrderRequest{PaymentID: paymentID, Amount: amount, Currency: currency}
	_, err := g.Dapr.Call(ctx, contract.AppRazorpay, http.MethodPost, contract.PathCreateOrder, in, &out, nil)
	return domain.RazorpayOrder{OrderID: out.OrderID, KeyID: out.KeyID, Amount: out.Amount, Currency: out.Currency}, err
}

// OrderPayments implements domain.Gateway.
func (g Gateway) OrderPayments(ctx context.Context, orderID string) ([]domain.GatewayPayment, error) {
	var out struct {
		Items []domain.GatewayPayment `json:"items"`
	}
	_, err := g.Dapr.CallRead(ctx, contract.AppRazorpay, contract.PathOrderPayments(orderID), &out, nil)
	return out.Items, err
}

// Payment implements domain.Gateway.
func (g Gateway) Payment(ctx context.Context, gatewayPaymentID string) (domain.GatewayPayment, error) {
	var out domain.GatewayPayment
	_, err := g.Dapr.CallRead(ctx, contract.AppRazorpay, contract.PathGatewayPayment(gatewayPaymentID), &out, nil)
	return out, err
}

// Refund implements domain.Gateway.
func (g Gateway) Refund(ctx context.Context, req contract.RefundRequest) (contract.Refund, error) {
	var out contract.Refund
	_, err := g.Dapr.Call(ctx, contract.AppRazorpay, http.MethodPost, contract.PathRefund, req, &out, nil)
	return out, err
}

// RefundStatus implements domain.Gateway.
func (g Gateway) RefundStatus(ctx context.Context, key string) (contract.Refund, error) {
	var out contract.Refund
	_, err := g.Dapr.CallRead(ctx, contract.AppRazorpay, contract.PathGatewayRefund(key), &out, nil)
	return out, err
}
