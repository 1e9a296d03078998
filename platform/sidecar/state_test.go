package sidecar

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestInsertErr(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		wantExists  bool
		wantSidecar bool
	}{
		{"written", nil, false, false},
		{"redis: etag mismatch on an existing key", status.Error(codes.Aborted, "failed saving state in state store wallet-store: possible etag mismatch. error from state store: ERR Error running script"), true, false},
		{"postgresql: first-write found the key", status.Error(codes.Internal, "failed saving state in state store wallet-store: no item was updated"), true, false},
		{"store down", status.Error(codes.Internal, "failed saving state in state store wallet-store: connection refused"), false, true},
		{"sidecar unreachable", status.Error(codes.Unavailable, "connection refused"), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := insertErr("wallet-store", "k", tc.err)
			if got := errors.Is(err, ErrExists); got != tc.wantExists {
				t.Errorf("ErrExists = %v, want %v (err %v)", got, tc.wantExists, err)
			}
			if got := errors.Is(err, ErrSidecar); got != tc.wantSidecar {
				t.Errorf("ErrSidecar = %v, want %v (err %v)", got, tc.wantSidecar, err)
			}
			if tc.err == nil && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
		})
	}
}
