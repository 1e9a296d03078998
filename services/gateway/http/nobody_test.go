package http_test

import (
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/services/gateway/domain"
)

// Every route that takes no body (POST, PUT, DELETE and GET alike) refuses
// a non-empty one, whatever its Content-Type, with 400 VALIDATION_FAILED
// on body and no hop; an empty one, with any Content-Type or none, goes
// through.
func TestRoutesWithoutABodyRefuseOne(t *testing.T) {
	bodies := []struct {
		name, body, contentType string
	}{
		{"garbage as text", "garbage{", "text/plain"},
		{"a JSON object", `{"balance":999999}`, "application/json"},
		{"an empty object", "{}", "application/json"},
		{"no type", "x", ""},
		{"a form", "a=1", "application/x-www-form-urlencoded"},
		{"one space", " ", "application/json"},
	}
	n := 0
	for _, r := range domain.Routes {
		if r.Body != domain.BodyNone {
			continue
		}
		n++
		path := r.Path
		if r.Param != "" {
			path = strings.Replace(path, ":"+r.Param, id.New(r.Prefix), 1)
		}
		for _, b := range bodies {
			t.Run(r.Method+" "+r.Path+" "+b.name, func(t *testing.T) {
				f := &fakeDapr{}
				do := newGateway(t, f)
				hdr := map[string]string{"Content-Type": b.contentType}
				if b.contentType == "" {
					hdr["Content-Type"] = noHeader
				}
				status, body, _ := do(r.Method, path, b.body, hdr)
				if status != 400 || code(body) != "VALIDATION_FAILED" || field(body) != "body" {
					t.Fatalf("%s %s with %q = %d %v, want 400 VALIDATION_FAILED on body", r.Method, path, b.body, status, body)
				}
				if got := f.last(); got.app != "" {
					t.Fatalf("invoked %s %s, want no hop", got.app, got.path)
				}
			})
		}
		for _, contentType := range []string{noHeader, "application/json", "text/plain"} {
			t.Run(r.Method+" "+r.Path+" empty, "+contentType, func(t *testing.T) {
				f := &fakeDapr{}
				do := newGateway(t, f)
				status, body, _ := do(r.Method, path, "", map[string]string{"Content-Type": contentType})
				if status == 400 {
					t.Fatalf("%s %s with no body = %d %v, want it through", r.Method, path, status, body)
				}
				if got := f.last(); got.app != r.App {
					t.Fatalf("invoked %q, want %s", got.app, r.App)
				}
			})
		}
	}
	if n < 10 {
		t.Fatalf("%d routes without a body, want every GET and the bodiless POSTs", n)
	}
}

// field is details.field of an error envelope.
func field(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	f, _ := d["field"].(string)
	return f
}
