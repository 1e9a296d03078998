package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// GET /openapi.json is public and describes every route of the contract,
// and none of the internal ones; that every exchange of the suites agrees
// with it is checked by the harness (TestMain).
func TestOpenAPIDescribesTheContract(t *testing.T) {
	resp := env.Do(t, "GET", "/openapi.json", nil, map[string]string{"Authorization": ""})
	if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json without a token = %d %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	doc := env.OpenAPI()
	if doc == nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("the suite has no OpenAPI 3 description to check against")
	}
	public := []struct{ method, path string }{
		{"POST", "/users/create"}, {"GET", "/users/{id}"}, {"GET", "/users/all"},
		{"POST", "/wallet/create/{userId}"}, {"GET", "/wallet/balance/{userId}"}, {"POST", "/wallet/add"}, {"GET", "/wallet/transactions/{userId}"},
		{"POST", "/billing/create"}, {"GET", "/billing/{billId}"},
		{"POST", "/Payment/pay"}, {"POST", "/Payment/rozarpay"}, {"GET", "/Payment/{paymentId}"},
		{"POST", "/razorpay/webhook"}, {"GET", "/health"}, {"POST", "/auth/dev-token"},
	}
	for _, r := range public {
		item := doc.Paths.Find(r.path)
		if item == nil || item.GetOperation(r.method) == nil {
			t.Errorf("%s %s is not described", r.method, r.path)
		}
	}
	for _, internal := range []string{"/wallet/deduct", "/billing/updateStatus", "/Payment/confirm", "/razorpay/create-order"} {
		if doc.Paths.Find(internal) != nil {
			t.Errorf("internal route %s is described as public", internal)
		}
	}
}
