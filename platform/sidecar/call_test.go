package sidecar

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
)

var errInsufficient = apperr.New(apperr.KindUnprocessable, "INSUFFICIENT_FUNDS", "insufficient funds")

func TestRemoteError(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		wantIs      error
		wantSidecar bool
	}{
		{"business error keeps its code", 422, `{"error":{"code":"INSUFFICIENT_FUNDS","message":"wallet balance 5 is below 9","details":{"balance":5}}}`, errInsufficient, false},
		{"5xx is a service failure", 500, `{"error":{"code":"INTERNAL","message":"internal error"}}`, nil, true},
		{"no envelope is a service failure", 404, `Cannot GET /x`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := remoteError("wallet", &Response{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)})
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("remoteError = %v, want errors.Is %v", err, tc.wantIs)
			}
			if got := errors.Is(err, ErrSidecar); got != tc.wantSidecar {
				t.Fatalf("errors.Is(err, ErrSidecar) = %v, want %v (%v)", got, tc.wantSidecar, err)
			}
		})
	}
}

// Call against a stand-in for the sidecar's HTTP invoke API: a 2xx that is
// not JSON is an unknown outcome (an *InvokeError), never a success.
func TestCallAnswers(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		wantErr     bool
		wantSidecar bool
		wantBalance int64
	}{
		{"JSON answer decodes", 200, `{"balance":42}`, false, false, 42},
		{"empty 200 is not success", 200, ``, true, true, 0},
		{"text 200 is not success", 200, `ok`, true, true, 0},
		{"JSON of the wrong shape is not success", 201, `{"balance":"x"}`, true, true, 0},
		{"business error", 422, `{"error":{"code":"INSUFFICIENT_FUNDS","message":"no"}}`, true, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := &Client{http: srv.Client(), httpBase: srv.URL}
			var out struct {
				Balance int64 `json:"balance"`
			}
			_, err := c.Call(context.Background(), "wallet", http.MethodPost, "/wallet/deduct", map[string]any{"amount": 1}, &out, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Call err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && errors.Is(err, ErrSidecar) != tc.wantSidecar {
				t.Fatalf("errors.Is(err, ErrSidecar) = %v, want %v (%v)", !tc.wantSidecar, tc.wantSidecar, err)
			}
			if out.Balance != tc.wantBalance {
				t.Fatalf("balance = %d, want %d", out.Balance, tc.wantBalance)
			}
		})
	}
}
