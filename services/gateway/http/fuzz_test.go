package http_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/id"
)

// Whatever a client sends to the gateway, it answers with a status below
// 500 (the fake services behind it answer normally): bad input is never a
// 500, and never a panic.
func FuzzGateway(f *testing.F) {
	f.Add("POST", "/users/create", `{"name":"A","email":"a@b.in"}`, "application/json", "")
	f.Add("GET", "/users/"+id.New(id.User), "", "", "Bearer x")
	f.Add("POST", "/wallet/add", `{"amount":12.5}`, "application/json", "key-1")
	f.Add("PUT", "/billing/updateStatus", `{}`, "text/plain", "")
	f.Add("GET", "/billing/%2e%2e%2fwallet%2fdeduct", "", "", "")
	f.Add("POST", "/Payment/pay", `{"bill_id":"bill_`+strings.Repeat("z", 26)+`"}`, "application/json", "k")
	f.Add("POST", "/razorpay/webhook", "\x00\xff", "application/json", "")
	f.Fuzz(func(t *testing.T, method, path, body, contentType, idemKey string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || len(path) > 2048 {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // not a request a client can send
		}
		switch method {
		case "GET", "POST", "PUT", "DELETE", "PATCH":
		default:
			return
		}
		do := newGateway(t, &fakeDapr{})
		hdr := map[string]string{}
		if contentType != "" && !strings.ContainsAny(contentType, "\r\n") {
			hdr["Content-Type"] = contentType
		}
		if idemKey != "" && !strings.ContainsAny(idemKey, "\r\n") {
			hdr["Idempotency-Key"] = idemKey
		}
		status, resp, _ := do(method, path, body, hdr)
		if status >= 500 && status != 503 {
			t.Fatalf("%s %s %q = %d %v", method, path, body, status, resp)
		}
		if status == 503 && !strings.HasPrefix(path, "/billing/create") {
			t.Fatalf("%s %s = 503 %v", method, path, resp)
		}
	})
}
