package domain_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/finflow/finflow/services/razorpay/domain"
)

func sign(body, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	body := `{"entity":"event"}`
	cases := []struct {
		name, sig string
		want      error
	}{
		{"valid", sign(body, "s3cret"), nil},
		{"missing", "", domain.ErrSignatureMissing},
		{"other secret", sign(body, "other"), domain.ErrSignatureInvalid},
		{"other body", sign(body+" ", "s3cret"), domain.ErrSignatureInvalid},
		{"not hex", "zz", domain.ErrSignatureInvalid},
		{"truncated", sign(body, "s3cret")[:20], domain.ErrSignatureInvalid},
	}
	for _, tc := range cases {
		if err := domain.VerifySignature([]byte(body), tc.sig, "s3cret"); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("%s: VerifySignature = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestParseEvent(t *testing.T) {
	now := time.Now()
	captured := `{"entity":"event","account_id":"acc_x","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_ABCDEFGHIJKLMN","order_id":"order_ABCDEFGHIJKLMN","amount":5000,"currency":"INR","status":"captured","error_code":null,"notes":[]}}},"created_at":1}`
	r, ok, err := domain.ParseEvent("evt_1", []byte(captured), now)
	if err != nil || !ok || r.Status != domain.Captured || r.Amount != 5000 || r.OrderID != "order_ABCDEFGHIJKLMN" || r.GatewayPaymentID != "pay_ABCDEFGHIJKLMN" || r.EventID != "evt_1" {
		t.Fatalf("ParseEvent(captured) = %+v, %v, %v", r, ok, err)
	}
	failed := `{"entity":"event","event":"payment.failed","payload":{"payment":{"entity":{"id":"pay_X","order_id":"order_Y","amount":5000,"currency":"INR","status":"failed","error_code":"BAD_REQUEST_ERROR","error_description":"declined","notes":{"payment_id":"pay_z"}}}}}`
	if r, ok, err := domain.ParseEvent("evt_2", []byte(failed), now); err != nil || !ok || r.Status != domain.Failed || r.ErrorCode != "BAD_REQUEST_ERROR" {
		t.Fatalf("ParseEvent(failed) = %+v, %v, %v", r, ok, err)
	}
	if _, ok, err := domain.ParseEvent("evt_3", []byte(`{"entity":"event","event":"refund.processed","payload":{}}`), now); ok || err != nil {
		t.Fatalf("refund.processed = %v, %v; want ignored", ok, err)
	}
	for _, bad := range []string{`not json`, `{"entity":"thing","event":"payment.captured"}`, `{"entity":"event","event":"payment.captured","payload":{}}`, `{"entity":"event","event":"order.paid","payload":{"payment":{"entity":{"id":"pay_X"}}}}`} {
		if _, _, err := domain.ParseEvent("evt", []byte(bad), now); !errors.Is(err, domain.ErrMalformedEvent) {
			t.Errorf("ParseEvent(%s) = %v, want ErrMalformedEvent", bad, err)
		}
	}
}
