package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/razorpay/client"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// every call FinFlow makes to Razorpay, by name.
var everyCall = []struct {
	name string
	call func(gw *client.Gateway) error
}{
	{"create order", func(gw *client.Gateway) error {
		_, err := gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
		return err
	}},
	{"order payments", func(gw *client.Gateway) error {
		_, err := gw.OrderPayments(context.Background(), "order_AAAAAAAAAAAAAA")
		return err
	}},
	{"fetch payment", func(gw *client.Gateway) error {
		_, err := gw.Payment(context.Background(), "pay_AAAAAAAAAAAAAA")
		return err
	}},
	{"refund", func(gw *client.Gateway) error {
		_, err := gw.Refund(context.Background(), "pay_AAAAAAAAAAAAAA", 2500, "pay_0123456789abcdefghjkmnpqrs", nil)
		return err
	}},
	{"fetch refund", func(gw *client.Gateway) error {
		_, err := gw.FetchRefund(context.Background(), "rfnd_AAAAAAAAAAAAAA")
		return err
	}},
}

// A redirect is never followed, on any call: the page it leads to (here
// Razorpay's 404 body, which would read as a definite refusal) was not
// Razorpay's answer, and the 3xx itself is no definite answer.
func TestGatewayNeverFollowsRedirects(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, c := range everyCall {
			t.Run(fmt.Sprintf("%d/%s", status, c.name), func(t *testing.T) {
				var followed atomic.Int32
				mux := http.NewServeMux()
				mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, _ *http.Request) {
					followed.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(404)
					fmt.Fprint(w, `{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist","field":"id"}}`)
				})
				mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "/elsewhere", status)
				})
				srv := httptest.NewServer(mux)
				defer srv.Close()
				gw := client.New("rzp_test_x", "secret", func() string { return srv.URL })
				if err := c.call(gw); !errors.Is(err, contract.ErrGatewayUnavailable) {
					t.Fatalf("%s answered %d = %v, want GATEWAY_UNAVAILABLE", c.name, status, err)
				}
				if n := followed.Load(); n != 0 {
					t.Fatalf("%s followed the %d redirect %d times, want never", c.name, status, n)
				}
			})
		}
	}
}

// What Razorpay answered about an order or a refund is read whole (every
// field FinFlow holds it to) and passed on as answered; an answer whose
// amount is not integer paise or whose notes are not Razorpay's is no
// definite answer.
func TestGatewayReadsWhatRazorpayAnswered(t *testing.T) {
	const refund = `{"id":"rfnd_BBBBBBBBBBBBBB","entity":"refund","amount":100,"currency":"INR","payment_id":"pay_CCCCCCCCCCCCCC","notes":{"finflow_refund_key":"rfd_x","finflow_payment_id":"pay_y"},"status":"processed"}`
	wantRefund := domain.RefundAnswer{ID: "rfnd_BBBBBBBBBBBBBB", PaymentID: "pay_CCCCCCCCCCCCCC", Amount: 100, Currency: "INR", Status: "processed", Notes: map[string]string{"finflow_refund_key": "rfd_x", "finflow_payment_id": "pay_y"}}
	cases := []struct {
		name string
		body string
		call func(gw *client.Gateway) (any, error)
		want any // nil: no definite answer
	}{
		{"order", `{"id":"order_DDDDDDDDDDDDDD","entity":"order","amount":777,"currency":"USD","receipt":"pay_z","notes":{"payment_id":"pay_z"},"status":"created"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
			}, domain.OrderAnswer{ID: "order_DDDDDDDDDDDDDD", Amount: 777, Currency: "USD", Receipt: "pay_z", Notes: map[string]string{"payment_id": "pay_z"}}},
		{"order with notes []", `{"id":"order_DDDDDDDDDDDDDD","amount":5000,"currency":"INR","receipt":null,"notes":[]}`,
			func(gw *client.Gateway) (any, error) {
				return gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
			}, domain.OrderAnswer{ID: "order_DDDDDDDDDDDDDD", Amount: 5000, Currency: "INR"}},
		{"order with a fractional amount", `{"id":"order_DDDDDDDDDDDDDD","amount":50.5,"currency":"INR"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
			}, nil},
		{"order without an amount", `{"id":"order_DDDDDDDDDDDDDD","currency":"INR"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
			}, nil},
		{"order with notes a string", `{"id":"order_DDDDDDDDDDDDDD","amount":5000,"currency":"INR","notes":"x"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.CreateOrder(context.Background(), "pay_0123456789abcdefghjkmnpqrs", 5000, "INR")
			}, nil},
		{"refund made", refund,
			func(gw *client.Gateway) (any, error) {
				return gw.Refund(context.Background(), "pay_AAAAAAAAAAAAAA", 2500, "pay_0123456789abcdefghjkmnpqrs", nil)
			}, wantRefund},
		{"refund fetched", refund,
			func(gw *client.Gateway) (any, error) {
				return gw.FetchRefund(context.Background(), "rfnd_AAAAAAAAAAAAAA")
			}, wantRefund},
		{"refund with a string amount", `{"id":"rfnd_BBBBBBBBBBBBBB","amount":"2500","currency":"INR","payment_id":"pay_AAAAAAAAAAAAAA","status":"processed"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.FetchRefund(context.Background(), "rfnd_BBBBBBBBBBBBBB")
			}, nil},
		{"refund without a status", `{"id":"rfnd_BBBBBBBBBBBBBB","amount":2500,"currency":"INR","payment_id":"pay_AAAAAAAAAAAAAA"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.FetchRefund(context.Background(), "rfnd_BBBBBBBBBBBBBB")
			}, nil},
		{"refund without an id", `{"amount":2500,"currency":"INR","payment_id":"pay_AAAAAAAAAAAAAA","status":"processed"}`,
			func(gw *client.Gateway) (any, error) {
				return gw.Refund(context.Background(), "pay_AAAAAAAAAAAAAA", 2500, "pay_0123456789abcdefghjkmnpqrs", nil)
			}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := razorpayAt(t, 200, tc.body, 0)
			gw := client.New("rzp_test_x", "secret", func() string { return url })
			got, err := tc.call(gw)
			if tc.want == nil {
				if !errors.Is(err, contract.ErrGatewayUnavailable) {
					t.Fatalf("answered %s = %+v, %v; want GATEWAY_UNAVAILABLE", tc.body, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("answered %s = %+v, %v; want %+v", tc.body, got, err, tc.want)
			}
		})
	}
}
