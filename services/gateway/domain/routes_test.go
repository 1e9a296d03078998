package domain_test

import (
	"errors"
	"testing"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/gateway/domain"
)

func TestInternalRoutesAreNotPublic(t *testing.T) {
	internal := []struct{ method, path string }{
		{"POST", "/wallet/deduct"},
		{"PUT", "/billing/updateStatus"},
		{"POST", "/Payment/confirm"},
		{"POST", "/razorpay/create-order"},
	}
	for _, in := range internal {
		for _, r := range domain.Routes {
			if r.Method == in.method && r.Path == in.path {
				t.Errorf("internal route %s %s is in the public table", in.method, in.path)
			}
		}
	}
}

func TestTargetUsesCheckedParam(t *testing.T) {
	var get domain.Route
	for _, r := range domain.Routes {
		if r.Method == "GET" && r.Path == "/billing/:billId" {
			get = r
		}
	}
	good := id.New(id.Bill)
	if err := get.CheckParam(good); err != nil {
		t.Fatalf("CheckParam(%q) = %v, want nil", good, err)
	}
	if got, want := get.TargetPath(good), "/billing/"+good; got != want {
		t.Fatalf("TargetPath = %q, want %q", got, want)
	}
	for _, bad := range []string{"updateStatus", "bill_..%2F..%2Fwallet", id.New(id.User), ""} {
		if err := get.CheckParam(bad); !errors.Is(err, domain.ErrBillNotFound) {
			t.Errorf("CheckParam(%q) = %v, want ErrBillNotFound", bad, err)
		}
	}
}

func TestOnlySignUpWebhookAreOpen(t *testing.T) {
	for _, r := range domain.Routes {
		open := r.Method+" "+r.Path == "POST /users/create" || r.Method+" "+r.Path == "POST /razorpay/webhook"
		if r.Public != open {
			t.Errorf("%s %s Public = %v", r.Method, r.Path, r.Public)
		}
	}
}
