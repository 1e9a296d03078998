package sidecar

import (
	"errors"
	"net/http"
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
