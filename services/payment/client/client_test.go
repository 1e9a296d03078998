package client

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/finflow/finflow/platform/contract"
)

// billingAnswer plays the billing service answering one bill.
type billingAnswer struct{ bill contract.Bill }

func (b billingAnswer) Call(context.Context, string, string, string, any, any, http.Header) (int, error) {
	return http.StatusOK, nil
}

func (b billingAnswer) CallRead(_ context.Context, _, _ string, out any, _ http.Header) (int, error) {
	raw, _ := json.Marshal(b.bill)
	return http.StatusOK, json.Unmarshal(raw, out)
}

// Only an UNPAID bill may be paid: a REFUNDED bill was paid once, and
// paying it again must be refused before a payment is recorded.
func TestBillPaidUnlessUnpaid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status string
		paid   bool
	}{
		{"unpaid", contract.BillUnpaid, false},
		{"paid", contract.BillPaid, true},
		{"refunded", contract.BillRefunded, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bills := Bills{Dapr: billingAnswer{contract.Bill{ID: "bill_a", UserID: "usr_a", Amount: 500, Currency: "INR", Status: tc.status}}}
			got, err := bills.Get(context.Background(), "bill_a")
			if err != nil || got.Paid != tc.paid {
				t.Fatalf("Get(bill %s) = Paid %v, %v; want Paid %v", tc.status, got.Paid, err, tc.paid)
			}
		})
	}
}
