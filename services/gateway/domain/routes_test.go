package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
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

// An id of another kind on a route's path names nothing of the route's
// kind: the route's own 404, whose message says what the id is and where
// it is read (a top-up on the refund route: that only a bill's payment can
// be refunded). Every route with an id, given every other kind of id.
func TestAnIdOfAnotherKindSaysWhatItIs(t *testing.T) {
	top, bill, pay := id.New(id.TopUp), id.New(id.Bill), id.New(id.Payment)
	cases := []struct {
		name, method, path, param string
		want                      string // the whole message
	}{
		{"a top-up refunded (the reported one)", "POST", "/Payment/:paymentId/refund", top,
			top + " is a wallet top-up, not a payment: a wallet top-up cannot be refunded, only a bill's payment can (read it at GET /wallet/topup/" + top + ")"},
		{"a top-up read as a payment", "GET", "/Payment/:paymentId", top,
			top + " is a wallet top-up, not a payment (read it at GET /wallet/topup/" + top + ")"},
		{"a top-up's refunds", "GET", "/Payment/:paymentId/refunds", top,
			top + " is a wallet top-up, not a payment (read it at GET /wallet/topup/" + top + ")"},
		{"a bill read as a payment", "GET", "/Payment/:paymentId", bill,
			bill + " is a bill, not a payment (read it at GET /billing/" + bill + ")"},
		{"a bill refunded", "POST", "/Payment/:paymentId/refund", bill,
			bill + " is a bill, not a payment (read it at GET /billing/" + bill + ")"},
		{"a payment read as a top-up", "GET", "/wallet/topup/:topupId", pay,
			pay + " is a payment, not a wallet top-up (read it at GET /Payment/" + pay + ")"},
		{"a payment read as a bill", "GET", "/billing/:billId", pay,
			pay + " is a payment, not a bill (read it at GET /Payment/" + pay + ")"},
		{"a malformed id is simply not found", "POST", "/Payment/:paymentId/refund", "top_x", "payment not found"},
		{"a prefix alone is simply not found", "GET", "/Payment/:paymentId", "top_", "payment not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := route(t, tc.method, tc.path)
			err := r.CheckParam(tc.param)
			var ae *apperr.Error
			if !errors.Is(err, r.NotFound) || !errors.As(err, &ae) || ae.Message != tc.want {
				t.Fatalf("%s %s CheckParam(%q) = %v, want %s %q", tc.method, tc.path, tc.param, err, r.NotFound.Code, tc.want)
			}
		})
	}
	// Every route with an id, every other kind: its own code, a message
	// naming the id's kind, and a place to read it that is a route.
	for _, r := range domain.Routes {
		if r.Param == "" {
			continue
		}
		for _, other := range id.Prefixes {
			if other == r.Prefix {
				continue
			}
			param := id.New(other)
			err := r.CheckParam(param)
			var ae *apperr.Error
			if !errors.Is(err, r.NotFound) || !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, param+" is a ") {
				t.Errorf("%s %s CheckParam(%q) = %v, want %s saying what the id is", r.Method, r.Path, param, err, r.NotFound.Code)
				continue
			}
			if _, read, ok := strings.Cut(ae.Message, "(read it at GET "); ok {
				path := strings.TrimSuffix(read, ")")
				if !served(path) {
					t.Errorf("%s %s CheckParam(%q) points at GET %s, which is not a route", r.Method, r.Path, param, path)
				}
			}
		}
	}
}

// route returns the route of method and path.
func route(tb testing.TB, method, path string) domain.Route {
	tb.Helper()
	for _, r := range domain.Routes {
		if r.Method == method && r.Path == path {
			return r
		}
	}
	tb.Fatalf("no route %s %s", method, path)
	return domain.Route{}
}

// served reports whether a GET route of the table takes path, with its
// id accepted.
func served(path string) bool {
	for _, r := range domain.Routes {
		if r.Method != "GET" || r.Param == "" {
			continue
		}
		prefix, _, _ := strings.Cut(r.Path, ":")
		param := strings.TrimPrefix(path, prefix)
		if strings.HasPrefix(path, prefix) && strings.HasSuffix(r.Path, ":"+r.Param) &&
			!strings.Contains(param, "/") && r.CheckParam(param) == nil {
			return true
		}
	}
	return false
}
