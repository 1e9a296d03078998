package http_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/razorpay/domain"
	razorpayhttp "github.com/finflow/finflow/services/razorpay/http"
	"github.com/finflow/finflow/services/razorpay/store"
)

const secret = "whsec_test"

// fakePublisher records publishes and can be made to fail (the broker
// down). The end-to-end suite uses the real pub/sub.
type fakePublisher struct {
	mu     sync.Mutex
	events []string
	down   bool
}

func (f *fakePublisher) Publish(_ context.Context, _, _ string, data any, eventID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("%w: broker down", sidecar.ErrSidecar)
	}
	f.events = append(f.events, eventID)
	return nil
}

type noGateway struct{}

func (noGateway) CreateOrder(context.Context, string, int64, string) (domain.OrderAnswer, error) {
	return domain.OrderAnswer{}, errors.New("not used")
}
func (noGateway) OrderPayments(context.Context, string) ([]contract.GatewayPayment, error) {
	return nil, errors.New("not used")
}
func (noGateway) Payment(context.Context, string) (contract.GatewayPayment, error) {
	return contract.GatewayPayment{}, errors.New("not used")
}
func (noGateway) FetchRefund(context.Context, string) (domain.RefundAnswer, error) {
	return domain.RefundAnswer{}, errors.New("not used")
}
func (noGateway) Refund(context.Context, string, int64, string, map[string]string) (domain.RefundAnswer, error) {
	return domain.RefundAnswer{}, errors.New("not used")
}

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

const captured = `{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_AAAAAAAAAAAAAA","order_id":"order_BBBBBBBBBBBBBB","amount":5000,"currency":"INR","status":"captured","notes":[]}}}}`

func TestWebhook(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub := &fakePublisher{}
	app := server.New(server.Config{Name: "razorpay", Logger: log})
	st := store.New(sidecartest.NewMemState(), "razorpay-store")
	if _, _, err := st.SaveOrder(context.Background(), domain.Order{OrderID: "order_BBBBBBBBBBBBBB", PaymentID: id.New(id.Payment), Amount: 5000, Currency: "INR"}); err != nil {
		t.Fatal(err)
	}
	razorpayhttp.New(&domain.Adapter{Gateway: noGateway{}, Store: st, Publisher: pub,
		KeyID: "rzp_test_x", WebhookSecret: secret, Log: log, Now: time.Now}).Routes(app)
	post := func(body, eventID, sig string) (int, string) {
		req := httptest.NewRequest("POST", "/razorpay/webhook", strings.NewReader(body))
		if eventID != "" {
			req.Header.Set("X-Razorpay-Event-Id", eventID)
		}
		if sig != "" {
			req.Header.Set("X-Razorpay-Signature", sig)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name, body, eventID, sig string
		broker                   bool // broker down
		wantStatus               int
		wantBody                 string
		wantPublished            int
	}{
		{"forged", captured, "evt_1", sign(captured + "x"), false, 400, "INVALID_SIGNATURE", 0},
		{"unsigned garbage is refused before parsing", `not json`, "evt_1", "", false, 400, "INVALID_SIGNATURE", 0},
		{"broker down: not acknowledged", captured, "evt_1", sign(captured), true, 503, "UNAVAILABLE", 0},
		{"published", captured, "evt_1", sign(captured), false, 200, "accepted", 1},
		{"repeat", captured, "evt_1", sign(captured), false, 200, "duplicate", 1},
		{"event we do not act on", `{"entity":"event","event":"refund.created","payload":{}}`, "evt_2", sign(`{"entity":"event","event":"refund.created","payload":{}}`), false, 200, "ignored", 1},
		{"signed garbage: answered 2xx, parked", `{"entity":"thing"}`, "evt_3", sign(`{"entity":"thing"}`), false, 200, "malformed", 2},
	}
	for _, tc := range cases {
		pub.mu.Lock()
		pub.down = tc.broker
		pub.mu.Unlock()
		status, body := post(tc.body, tc.eventID, tc.sig)
		if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
			t.Fatalf("%s: %d %s, want %d with %q", tc.name, status, body, tc.wantStatus, tc.wantBody)
		}
		if len(pub.events) != tc.wantPublished {
			t.Fatalf("%s: %d published, want %d", tc.name, len(pub.events), tc.wantPublished)
		}
	}
}
