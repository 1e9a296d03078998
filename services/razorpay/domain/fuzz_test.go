package domain_test

import (
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/razorpay/domain"
)

// Signature checking never panics and accepts only the right MAC.
func FuzzVerifySignature(f *testing.F) {
	body := `{"entity":"event","event":"payment.captured"}`
	f.Add([]byte(body), sign(body, "s3cret"))
	f.Add([]byte(body), "")
	f.Add([]byte(""), "zz")
	f.Add([]byte(body), sign(body, "s3cret")+"00")
	f.Fuzz(func(t *testing.T, b []byte, sig string) {
		err := domain.VerifySignature(b, sig, "s3cret")
		if err == nil && sig != sign(string(b), "s3cret") {
			t.Fatalf("VerifySignature accepted %q for %q", sig, b)
		}
	})
}

// Parsing a (verified) webhook body never panics, and a result to act on
// is always complete and carries only Razorpay's ids (and FinFlow's in a
// refund's notes).
func FuzzParseEvent(f *testing.F) {
	for _, seed := range []string{
		`{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":"order_BBBBBBBBBBBBBB","amount":5000,"currency":"INR","status":"captured","notes":[]}}}}`,
		`{"entity":"event","event":"payment.failed","payload":{"payment":{"entity":{"id":"pay_A","order_id":"order_B","amount":1,"error_code":null}}}}`,
		`{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":"order_a||b","amount":5000}}}}`,
		`{"entity":"event","event":"refund.processed","payload":{"refund":{"entity":{"id":"rfnd_AAAAAAAAAAAAAA","payment_id":"pay_AAAAAAAAAAAAAA","amount":100,"notes":{"finflow_payment_id":"pay_a||b","finflow_refund_key":"pay_a||b"}}}}}`,
		`{"entity":"event","event":"refund.processed","payload":{}}`,
		`{"entity":"event","event":"order.paid","payload":{"payment":null}}`,
		`{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"amount":1.5}}}}`,
		`not json`, `{}`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, v, reason := domain.ParseEvent("evt_fuzz", b, time.Now())
		switch v {
		case domain.Act:
			switch r.Status {
			case contract.ResultCaptured, contract.ResultFailed:
				if !domain.ValidOrderID(r.OrderID) || !domain.ValidPaymentID(r.GatewayPaymentID) || r.Amount <= 0 {
					t.Fatalf("ParseEvent accepted an incomplete result %+v", r)
				}
			case contract.ResultRefunded, contract.ResultRefundFailed:
				if !domain.ValidRefundID(r.GatewayRefundID) || !domain.ValidPaymentID(r.GatewayPaymentID) || !domain.ValidFinFlowPayment(r.PaymentID) ||
					!domain.ValidRefundKey(r.RefundKey, r.PaymentID) || r.Amount <= 0 {
					t.Fatalf("ParseEvent accepted an incomplete refund %+v", r)
				}
			default:
				t.Fatalf("ParseEvent accepted a result of status %q", r.Status)
			}
		case domain.Ignore, domain.Malformed, domain.Foreign:
			if reason == "" {
				t.Fatalf("verdict %d without a reason for %q", v, b)
			}
		default:
			t.Fatalf("unknown verdict %d", v)
		}
	})
}
