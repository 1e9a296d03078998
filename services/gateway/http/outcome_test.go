package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/domain"
)

// outcomeDapr answers every invocation the same way: answer, after
// waiting delay (or, with delay < 0, until the call's deadline, then
// failing as the sidecar client does when its context ends mid-call).
type outcomeDapr struct {
	delay  time.Duration
	answer func() (*sidecar.Response, error)
}

func (f *outcomeDapr) Invoke(ctx context.Context, app, _, path string, _ []byte, _ nethttp.Header) (*sidecar.Response, error) {
	if f.delay < 0 {
		<-ctx.Done()
		return nil, &sidecar.InvokeError{AppID: app, DaprCode: "UNREACHABLE",
			Message: fmt.Sprintf("Post \"http://127.0.0.1:3500/v1.0/invoke/%s/method%s\": %v", app, path, ctx.Err())}
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, &sidecar.InvokeError{AppID: app, DaprCode: "UNREACHABLE", Message: ctx.Err().Error()}
	}
	return f.answer()
}

func (f *outcomeDapr) Healthy(context.Context) error { return nil }

// A request that may change state and was sent without its answer coming
// back (a timeout, a connection broken off, an answer that is not one)
// has an unknown outcome: 503 saying it may have been carried out, with
// details.outcome "unknown". "Not answering" is kept for reads and for
// calls the sidecar says never reached the service.
func TestLostAnswerOfAWriteIsAnUnknownOutcome(t *testing.T) {
	pay, sub := id.New(id.Payment), id.New(id.Subscription)
	failWith := func(code, msg string) func() (*sidecar.Response, error) {
		return func() (*sidecar.Response, error) {
			return nil, &sidecar.InvokeError{AppID: "x", Status: 500, DaprCode: code, Message: msg}
		}
	}
	answer := func(status int, body string) func() (*sidecar.Response, error) {
		return func() (*sidecar.Response, error) {
			return &sidecar.Response{Status: status, Header: nethttp.Header{}, Body: []byte(body)}, nil
		}
	}
	const (
		unknown     = "unknown"
		notAnswered = "" // "not answering" or "no valid answer": no outcome in details
	)
	cases := []struct {
		name         string
		method, path string
		body, key    string
		delay        time.Duration
		answer       func() (*sidecar.Response, error)
		app          string
		outcome      string
		message      string // in the message
	}{
		{"a payment timed out (the reported one)", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", -1, nil,
			"payment", unknown, "may have been carried out"},
		{"a keyed payment timed out: retry with the key", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "k-1", -1, nil,
			"payment", unknown, "same Idempotency-Key"},
		{"an unkeyed payment timed out: read first", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", -1, nil,
			"payment", unknown, "Read the resource"},
		{"the sidecar's own deadline", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			failWith("ERR_DIRECT_INVOKE", "rpc error: code = DeadlineExceeded desc = context deadline exceeded"), "payment", unknown, "may have been carried out"},
		{"the connection broken off", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			failWith("UNREACHABLE", "Post \"http://127.0.0.1:3500/...\": EOF"), "payment", unknown, "may have been carried out"},
		{"the answer broken off while read", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			failWith("READ_FAILED", "unexpected EOF"), "payment", unknown, "may have been carried out"},
		{"an answer that is not JSON", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			answer(200, ""), "payment", unknown, "may have been carried out"},
		{"a 5xx that is not the service's", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			answer(502, "Bad Gateway"), "payment", unknown, "may have been carried out"},
		{"a Razorpay payment timed out", "POST", "/Payment/rozarpay", `{"bill_id":"bill_x"}`, "", -1, nil,
			"payment", unknown, "may have been carried out"},
		{"a refund timed out", "POST", "/Payment/" + pay + "/refund", `{"reason":"dup"}`, "", -1, nil,
			"payment", unknown, "may have been carried out"},
		{"a top-up timed out", "POST", "/wallet/topup", `{"user_id":"usr_x","amount":100}`, "", -1, nil,
			"payment", unknown, "may have been carried out"},
		{"a wallet credit timed out", "POST", "/wallet/add", `{"user_id":"usr_x","amount":100}`, "", -1, nil,
			"wallet", unknown, "may have been carried out"},
		{"a bill timed out", "POST", "/billing/create", `{"user_id":"usr_x"}`, "", -1, nil,
			"billing", unknown, "may have been carried out"},
		{"a cancel timed out", "POST", "/billing/subscriptions/" + sub + "/cancel", "", "", -1, nil,
			"billing", unknown, "may have been carried out"},
		{"a sign-up timed out", "POST", "/users/create", `{"name":"A"}`, "", -1, nil,
			"user", unknown, "may have been carried out"},
		// Certainly not sent, or only read: nothing can have happened.
		{"the target could not be dialled", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			failWith("ERR_DIRECT_INVOKE", "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:50002: connect: connection refused\""),
			"payment", notAnswered, "not answering"},
		{"the target is not resolved", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			failWith("ERR_DIRECT_INVOKE", "couldn't find service: payment"), "payment", notAnswered, "not answering"},
		{"the app refused the connection", "POST", "/Payment/pay", `{"bill_id":"bill_x"}`, "", 0,
			failWith("ERR_DIRECT_INVOKE", "error invoking app channel: Post \"http://127.0.0.1:3004/Payment/pay\": dial tcp 127.0.0.1:3004: connect: connection refused"),
			"payment", notAnswered, "not answering"},
		{"a read timed out", "GET", "/Payment/" + pay, "", "", -1, nil, "payment", notAnswered, "not answering"},
		{"a read answered not JSON", "GET", "/Payment/" + pay, "", "", 0, answer(200, ""), "payment", notAnswered, "no valid answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the timeouts are a second each
			f := &outcomeDapr{delay: tc.delay, answer: tc.answer}
			// The shortest wait the setting takes.
			app := gatewayWith(t, f, &countingLimiter{}, map[string]string{domain.SettingInvokeTimeoutMS: "1000"})
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", bearer("ops-admin", "admin"))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.key != "" {
				req.Header.Set("Idempotency-Key", tc.key)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			var body struct {
				Error struct {
					Code    string         `json:"code"`
					Message string         `json:"message"`
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			_ = json.Unmarshal(raw, &body)
			e := body.Error
			if resp.StatusCode != 503 || e.Code != "UNAVAILABLE" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s %s = %d %s (Retry-After %q), want 503 UNAVAILABLE with Retry-After", tc.method, tc.path, resp.StatusCode, raw, resp.Header.Get("Retry-After"))
			}
			if got, _ := e.Details["outcome"].(string); got != tc.outcome || e.Details["service"] != tc.app {
				t.Fatalf("%s %s details = %v, want service %s and outcome %q", tc.method, tc.path, e.Details, tc.app, tc.outcome)
			}
			if !strings.Contains(e.Message, tc.message) {
				t.Fatalf("%s %s message = %q, want it to say %q", tc.method, tc.path, e.Message, tc.message)
			}
			if tc.outcome == unknown && strings.Contains(e.Message, "not answering") {
				t.Fatalf("%s %s message = %q: a request that may have been carried out is not one the service did not answer", tc.method, tc.path, e.Message)
			}
		})
	}
}

// gateway.invoke_timeout_ms takes no value below what a payment needs to
// answer at the payment service's own shortest step timeouts (three steps
// of 100 ms, and its writes): a value under a second is refused and the
// default kept, so a payment that takes 600 ms is answered, not cut off.
func TestInvokeTimeoutHasARoomyMinimum(t *testing.T) {
	for _, ms := range []string{"100", "500"} {
		t.Run(ms, func(t *testing.T) {
			f := &outcomeDapr{delay: 600 * time.Millisecond, answer: func() (*sidecar.Response, error) {
				return &sidecar.Response{Status: 201, Header: nethttp.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"status":"SUCCESS"}`)}, nil
			}}
			app := gatewayWith(t, f, &countingLimiter{}, map[string]string{domain.SettingInvokeTimeoutMS: ms})
			req := httptest.NewRequest("POST", "/Payment/pay", strings.NewReader(`{"bill_id":"bill_x"}`))
			req.Header.Set("Authorization", bearer("ops-admin", "admin"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 201 {
				raw, _ := io.ReadAll(resp.Body)
				t.Fatalf("with %s=%s, a 600 ms payment = %d %s, want 201", domain.SettingInvokeTimeoutMS, ms, resp.StatusCode, raw)
			}
		})
	}
}
