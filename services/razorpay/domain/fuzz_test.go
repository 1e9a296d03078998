package domain_test

import (
	"errors"
	"testing"
	"time"

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

// Parsing a (verified) webhook body never panics: it yields a result, an
// ignored event, or ErrMalformedEvent.
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
		r, ok, err := domain.ParseEvent("evt_fuzz", b, time.Now())
		switch {
		case err != nil:
			if !errors.Is(err, domain.ErrMalformedEvent) {
				t.Fatalf("ParseEvent error %v, want ErrMalformedEvent", err)
			}
		case ok:
			if r.OrderID == "" || r.GatewayPaymentID == "" || (r.Status != domain.Captured && r.Status != domain.Failed) {
				t.Fatalf("ParseEvent accepted an incomplete result %+v", r)
			}
		}
	})
}
