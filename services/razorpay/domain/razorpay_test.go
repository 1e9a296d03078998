package domain_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
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

// Every verified body gets a verdict: the events FinFlow acts on become a
// result; events it does not use and payments it did not start are
// ignored; anything not shaped as Razorpay documents is malformed.
func TestParseEvent(t *testing.T) {
	now := time.Now()
	event := func(name, fields string) string {
		return `{"entity":"event","event":"` + name + `","payload":{"payment":{"entity":{` + fields + `}}}}`
	}
	entity := func(fields string) string { return event("payment.captured", fields) }
	cases := []struct {
		name, body string
		want       domain.Verdict
		wantStatus string
		wantAmount int64
		wantReason string
	}{
		{"captured", `{"entity":"event","account_id":"acc_x","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_ABCDEFGHIJKLMN","order_id":"order_ABCDEFGHIJKLMN","amount":5000,"currency":"INR","status":"captured","error_code":null,"notes":[]}}},"created_at":1}`, domain.Act, contract.ResultCaptured, 5000, ""},
		{"order.paid", `{"entity":"event","event":"order.paid","payload":{"payment":{"entity":{"id":"pay_XXXXXXXXXXXXXX","order_id":"order_YYYYYYYYYYYYYY","amount":700,"currency":"INR"}},"order":{"entity":{"id":"order_YYYYYYYYYYYYYY"}}}}`, domain.Act, contract.ResultCaptured, 700, ""},
		{"failed", `{"entity":"event","event":"payment.failed","payload":{"payment":{"entity":{"id":"pay_XXXXXXXXXXXXXX","order_id":"order_YYYYYYYYYYYYYY","amount":5000,"currency":"INR","status":"failed","error_code":"BAD_REQUEST_ERROR","error_description":"declined","notes":{"payment_id":"pay_z"}}}}}`, domain.Act, contract.ResultFailed, 5000, ""},
		{"an event FinFlow does not use", `{"entity":"event","event":"refund.created","payload":{}}`, domain.Ignore, "", 0, "does not use refund.created"},
		{"payment.authorized", event("payment.authorized", `"id":"pay_XXXXXXXXXXXXXX","order_id":"order_YYYYYYYYYYYYYY","amount":1`), domain.Ignore, "", 0, "does not use payment.authorized"},
		{"no order: a QR code payment", entity(`"id":"pay_XXXXXXXXXXXXXX","order_id":null,"amount":5000,"currency":"INR"`), domain.Ignore, contract.ResultCaptured, 0, "without an order"},
		{"empty order id", entity(`"id":"pay_XXXXXXXXXXXXXX","order_id":"","amount":5000`), domain.Ignore, contract.ResultCaptured, 0, "without an order"},
		{"not json", `not json`, domain.Malformed, "", 0, "not a Razorpay event"},
		{"not an event", `{"entity":"thing","event":"payment.captured"}`, domain.Malformed, "", 0, "not a Razorpay event"},
		{"no payment", `{"entity":"event","event":"payment.captured","payload":{}}`, domain.Malformed, contract.ResultCaptured, 0, "without a payment entity"},
		{"payment without entity", `{"entity":"event","event":"order.paid","payload":{"payment":{}}}`, domain.Malformed, contract.ResultCaptured, 0, "without a payment entity"},
		{"payment without id", entity(`"order_id":"order_YYYYYYYYYYYYYY","amount":5000`), domain.Malformed, contract.ResultCaptured, 0, "without an id"},
		{"fractional amount", entity(`"id":"pay_XXXXXXXXXXXXXX","order_id":"order_YYYYYYYYYYYYYY","amount":50.5`), domain.Malformed, contract.ResultCaptured, 0, "not a positive whole number"},
		{"amount as a string", entity(`"id":"pay_XXXXXXXXXXXXXX","order_id":"order_YYYYYYYYYYYYYY","amount":"5000"`), domain.Malformed, contract.ResultCaptured, 0, "not a positive whole number"},
		{"zero amount", entity(`"id":"pay_XXXXXXXXXXXXXX","order_id":"order_YYYYYYYYYYYYYY","amount":0`), domain.Malformed, contract.ResultCaptured, 0, "not a positive whole number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, v, reason := domain.ParseEvent("evt_1", []byte(tc.body), now)
			if v != tc.want || r.Status != tc.wantStatus || r.Amount != tc.wantAmount || !strings.Contains(reason, tc.wantReason) {
				t.Fatalf("ParseEvent = %+v, verdict %d, %q; want verdict %d status %q amount %d reason with %q", r, v, reason, tc.want, tc.wantStatus, tc.wantAmount, tc.wantReason)
			}
			if v == domain.Act && (r.EventID != "evt_1" || r.OrderID == "" || r.GatewayPaymentID == "") {
				t.Fatalf("an incomplete result to act on: %+v", r)
			}
		})
	}
}
