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
// is always complete.
func FuzzParseEvent(f *testing.F) {
	for _, seed := range []string{
		`{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_A","order_id":"order_B","amount":5000,"currency":"INR","status":"captured","notes":[]}}}}`,
		`{"entity":"event","event":"payment.failed","payload":{"payment":{"entity":{"id":"pay_A","order_id":"order_B","amount":1,"error_code":null}}}}`,
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
			if r.OrderID == "" || r.GatewayPaymentID == "" || r.Amount <= 0 || (r.Status != contract.ResultCaptured && r.Status != contract.ResultFailed) {
				t.Fatalf("ParseEvent accepted an incomplete result %+v", r)
			}
		case domain.Ignore, domain.Malformed:
			if reason == "" {
				t.Fatalf("verdict %d without a reason for %q", v, b)
			}
		default:
			t.Fatalf("unknown verdict %d", v)
		}
	})
}
