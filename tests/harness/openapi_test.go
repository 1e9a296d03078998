package harness

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The contract check catches what it is for: answers that do not match the
// description, routes it does not have, and requests the description
// refuses that the gateway accepted.
func TestContractCheckFindsDrift(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "services", "gateway", "api", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(raw) }))
	defer srv.Close()
	c, err := loadContract(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}}
	user := `{"id":"usr_0123456789abcdefghjkmnpqrs","name":"A","email":"a@example.in","phone":null,"created_at":"2026-11-24T10:00:00.000000000Z"}`
	cases := []struct {
		name          string
		method, path  string
		body          string
		status        int
		answer        string
		wantViolation string // "" for none
	}{
		{"a good exchange", "POST", "/users/create", `{"name":"A","email":"a@example.in"}`, 201, user, ""},
		{"an error in the envelope", "GET", "/users/usr_x", "", 404, `{"error":{"code":"USER_NOT_FOUND","message":"user not found"}}`, ""},
		{"an answer missing a field", "GET", "/users/usr_x", "", 200, `{"id":"usr_x","name":"A"}`, "answered 200"},
		{"a timestamp without its nine fractional digits", "POST", "/users/create", `{"name":"A","email":"a@example.in"}`, 201,
			strings.Replace(user, ".000000000Z", "Z", 1), "answered 201"},
		{"money as a float", "GET", "/wallet/balance/usr_x", "", 200, `{"user_id":"usr_0123456789abcdefghjkmnpqrs","balance":12.5,"currency":"INR"}`, "answered 200"},
		{"a status the operation does not list", "GET", "/billing/bill_x", "", 418, `{"error":{"code":"TEAPOT","message":"no"}}`, "answered 418"},
		{"an error without the envelope", "GET", "/billing/bill_x", "", 404, `not found`, "answered 404"},
		{"a route the description lacks", "GET", "/wallet/secret", "", 200, `{}`, "not in /openapi.json"},
		{"a route neither has", "GET", "/nowhere", "", 404, `{"error":{"code":"ROUTE_NOT_FOUND","message":"no route"}}`, ""},
		{"a refused request accepted", "POST", "/users/create", `{"name":"A"}`, 201, user, "refuses a request the gateway answered 201"},
		{"an accepted request refused", "POST", "/users/create", `{"name":"A","email":"a@example.in"}`, 400,
			`{"error":{"code":"VALIDATION_FAILED","message":"nope","details":{"field":"name"}}}`, "refused as malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.violations = map[string]int{}
			hdr := http.Header{"Content-Type": {"application/json"}}
			c.check(tc.method, srv.URL+tc.path, json, []byte(tc.body), &Response{Status: tc.status, Header: hdr, Body: []byte(tc.answer)})
			var got []string
			for v := range c.violations {
				got = append(got, v)
			}
			switch {
			case tc.wantViolation == "" && len(got) > 0:
				t.Fatalf("violations %v, want none", got)
			case tc.wantViolation != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "|"), tc.wantViolation)):
				t.Fatalf("violations %v, want one mentioning %q", got, tc.wantViolation)
			}
		})
	}
}
