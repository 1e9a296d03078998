package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/server"
)

type createReq struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Count int64  `json:"count"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		wantField string // "" means success
	}{
		{"ok", `{"name":"A","email":"a@b.in"}`, ""},
		{"ok with whitespace", " \n{\"name\":\"A\"}\n ", ""},
		{"empty", ``, "body"},
		{"null", `null`, "body"},
		{"array", `[1]`, "body"},
		{"malformed", `{"name":`, "body"},
		{"unquoted key", `{name:"A"}`, "body"},
		{"trailing garbage", `{"name":"A"}x`, "body"},
		{"two objects", `{"name":"A"}{"name":"B"}`, "body"},
		{"unknown field", `{"name":"A","admin":true}`, "admin"},
		{"field case differs", `{"Name":"A"}`, "Name"},
		{"duplicate field", `{"name":"A","name":"B"}`, "name"},
		{"wrong type string", `{"name":5}`, "name"},
		{"fraction into int", `{"count":1.5}`, "count"},
		{"string into int", `{"count":"5"}`, "count"},
		// null is not "absent": a pointer field would read it so, any other
		// field as its zero value.
		{"null string", `{"name":null}`, "name"},
		{"null number", `{"name":"A","count":null}`, "count"},
		{"null unknown field", `{"x":null}`, "x"},
		// A name the client chose is quoted back bounded and escaped.
		{"a long unknown field", `{"` + strings.Repeat("k", 6000) + `":1}`, strings.Repeat("k", 64)},
		{"a look-alike of a field", `{"\u0430mount":1}`, `\u0430mount`},
		{"a bidi control in a field name", "{\"a\u202eb\":1}", `a\u202eb`},
		{"null inside a value is that value's", `{"name":"null"}`, ""},
		// A lone UTF-16 surrogate escape would be stored as U+FFFD.
		{"lone high surrogate", `{"name":"\ud800"}`, "body"},
		{"lone low surrogate", `{"name":"Ra\udc00vi"}`, "body"},
		{"high surrogate then not a low one", `{"name":"\ud800\u0041"}`, "body"},
		{"high surrogate at the end of the text", `{"name":"a\uD800"}`, "body"},
		{"two high surrogates", `{"name":"\ud800\ud800\udc00"}`, "body"},
		{"surrogate in a key", `{"\udfff":1}`, "body"},
		{"a surrogate pair is one character", `{"name":"\ud83d\ude00"}`, ""},
		{"upper-case pair", `{"name":"\uD83D\uDE00"}`, ""},
		{"an escaped backslash then u is text", `{"name":"\\ud800"}`, ""},
		{"a BMP escape", `{"name":"\u00e9\u20ac"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dst createReq
			err := server.Decode([]byte(tc.body), &dst)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Decode(%q) = %v, want nil", tc.body, err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.CodeValidationFailed {
				t.Fatalf("Decode(%q) = %v, want VALIDATION_FAILED", tc.body, err)
			}
			if got := ae.Details["field"]; got != tc.wantField {
				t.Fatalf("Decode(%q) field = %v, want %q (message %q)", tc.body, got, tc.wantField, ae.Message)
			}
		})
	}
}

func newApp(t *testing.T) *fiber.App {
	t.Helper()
	app := server.New(server.Config{Name: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	app.Post("/echo", func(c *fiber.Ctx) error {
		var req createReq
		if err := server.DecodeJSON(c, &req); err != nil {
			return err
		}
		return c.JSON(req)
	})
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok", "path": c.Path()}) })
	app.Get("/panic", func(c *fiber.Ctx) error { panic("boom") })
	app.Get("/internal", func(c *fiber.Ctx) error { return errors.New("redis: secret detail") })
	return app
}

func TestAppConventions(t *testing.T) {
	app := newApp(t)
	cases := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		wantStatus  int
		wantCode    string
	}{
		{"ok", "POST", "/echo", `{"name":"A"}`, "application/json", 200, ""},
		{"no route", "GET", "/nope", "", "", 404, "ROUTE_NOT_FOUND"},
		{"wrong method", "GET", "/echo", "", "", 405, "METHOD_NOT_ALLOWED"},
		{"wrong method on a GET route", "DELETE", "/panic", "", "", 405, "METHOD_NOT_ALLOWED"},
		{"a method HTTP does not have", "FOO", "/echo", "", "", 400, "VALIDATION_FAILED"},
		{"a method spelt in lower case", "get", "/panic", "", "", 400, "VALIDATION_FAILED"},
		{"an unknown method on no route", "PROPFIND", "/nope", "", "", 400, "VALIDATION_FAILED"},
		{"malformed multipart is never parsed", "POST", "/echo", "junk", "multipart/form-data; boundary=x", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"well-formed multipart", "POST", "/echo", "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nA\r\n--x--\r\n", "multipart/form-data; boundary=x", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"malformed multipart on no route", "POST", "/nope", "junk", "multipart/form-data; boundary=x", 404, "ROUTE_NOT_FOUND"},
		{"a null field", "POST", "/echo", `{"name":null}`, "application/json", 400, "VALIDATION_FAILED"},
		{"paths are case sensitive", "POST", "/ECHO", `{}`, "application/json", 404, "ROUTE_NOT_FOUND"},
		{"form body", "POST", "/echo", `name=A`, "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"text/plain that contains json", "POST", "/echo", `{"name":"A"}`, "text/plain; charset=json", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"text/plain (no CORS preflight)", "POST", "/echo", `{"name":"A"}`, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no Content-Type", "POST", "/echo", `{"name":"A"}`, "", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"a +json type", "POST", "/echo", `{"name":"A"}`, "application/merge-patch+json", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"another charset", "POST", "/echo", `{"name":"A"}`, "application/json; charset=latin1", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"another parameter", "POST", "/echo", `{"name":"A"}`, "application/json; boundary=x", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"malformed type", "POST", "/echo", `{"name":"A"}`, "application/json;;", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"charset utf-8", "POST", "/echo", `{"name":"A"}`, "application/json; charset=utf-8", 200, ""},
		{"charset UTF-8, quoted, upper-case type", "POST", "/echo", `{"name":"A"}`, `Application/JSON;charset="UTF-8"`, 200, ""},
		{"not UTF-8", "POST", "/echo", "{\"name\":\"A\xff\"}", "application/json", 400, "VALIDATION_FAILED"},
		{"unknown field", "POST", "/echo", `{"x":1}`, "application/json", 400, "VALIDATION_FAILED"},
		{"panic is a generic 500", "GET", "/panic", "", "", 500, "INTERNAL"},
		{"internal error hides its cause", "GET", "/internal", "", "", 500, "INTERNAL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatalf("app.Test: %v", err)
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, raw, tc.wantStatus)
			}
			if resp.Header.Get(server.HeaderRequestID) == "" {
				t.Errorf("response has no %s header", server.HeaderRequestID)
			}
			if tc.wantCode == "" {
				return
			}
			var body apperr.Body
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("error body %q is not the contract's envelope: %v", raw, err)
			}
			if body.Error.Code != tc.wantCode {
				t.Fatalf("code = %q, want %q (body %s)", body.Error.Code, tc.wantCode, raw)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("error Content-Type = %q, want application/json", ct)
			}
			if allow := resp.Header.Get("Allow"); (tc.wantStatus == 405) != (allow != "") {
				t.Fatalf("Allow = %q on a %d: a 405 must say which methods the path has, nothing else may", allow, tc.wantStatus)
			}
			if strings.Contains(string(raw), "secret detail") || strings.Contains(string(raw), "boom") {
				t.Fatalf("error body leaks the cause: %s", raw)
			}
		})
	}
}

func TestRequestIDIsEchoedWhenSane(t *testing.T) {
	app := newApp(t)
	cases := []struct {
		name, in string
		keep     bool
	}{
		{"sane id kept", "client-abc_123", true},
		{"header injection replaced", "abc\r\nX-Evil: 1", false},
		{"too long replaced", strings.Repeat("a", 200), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/nope", nil)
			req.Header[server.HeaderRequestID] = []string{tc.in}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatalf("app.Test: %v", err)
			}
			got := resp.Header.Get(server.HeaderRequestID)
			if (got == tc.in) != tc.keep || got == "" {
				t.Fatalf("request id %q came back as %q, keep=%v", tc.in, got, tc.keep)
			}
		})
	}
}

// The body limit is enforced by the HTTP server itself, so it is checked over
// a real connection rather than with app.Test.
func TestBodyLimitOverRealConnection(t *testing.T) {
	addr := serveReal(t)

	for _, size := range []int{server.BodyLimit - 100, server.BodyLimit + 1, 3 * server.BodyLimit} {
		body := `{"name":"` + strings.Repeat("a", size) + `"}`
		resp, err := http.Post("http://"+addr+"/echo", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %d bytes: %v", len(body), err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := 200
		if len(body) > server.BodyLimit {
			want = 413
		}
		if resp.StatusCode != want {
			t.Fatalf("POST %d bytes = %d %.100s, want %d", len(body), resp.StatusCode, raw, want)
		}
		if want == 413 && !strings.Contains(string(raw), `"code":"BODY_TOO_LARGE"`) {
			t.Fatalf("413 body = %s, want code BODY_TOO_LARGE", raw)
		}
		if resp.Header.Get(server.HeaderRequestID) == "" {
			t.Fatalf("POST %d bytes: no request id header", len(body))
		}
	}
}

// A route marked Quiet logs its access line at debug level, unless it
// fails; every other route logs at info.
func TestQuietRoutesLogAtDebugUnlessTheyFail(t *testing.T) {
	var buf strings.Builder
	app := server.New(server.Config{Name: "test", Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	app.Post("/tick", server.Quiet, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) })
	app.Post("/tick-fails", server.Quiet, func(c *fiber.Ctx) error { return errors.New("store down") })
	app.Post("/loud", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) })
	cases := []struct{ path, level string }{
		{"/tick", "DEBUG"},
		{"/tick-fails", "INFO"},
		{"/loud", "INFO"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			buf.Reset()
			if _, err := app.Test(httptest.NewRequest("POST", tc.path, nil), -1); err != nil {
				t.Fatal(err)
			}
			var access map[string]any
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var l map[string]any
				if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "request" {
					access = l
				}
			}
			if access == nil {
				t.Fatalf("no access line in %q", buf.String())
			}
			if access["level"] != tc.level {
				t.Fatalf("access line of %s at %v, want %s", tc.path, access["level"], tc.level)
			}
		})
	}
}

// Strings a handler reads from the request stay as they were after the
// request: handlers keep them (cache keys, identity tokens, work handed to
// goroutines), and a view of fasthttp's reused buffer would change under
// them with the next request.
func TestRequestStringsOutliveTheRequest(t *testing.T) {
	app := server.New(server.Config{Name: "t", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var kept []string
	app.Get("/bills/:id", func(c *fiber.Ctx) error {
		kept = append(kept, c.Params("id"), c.Get("X-Token"), c.Query("cursor"))
		return c.SendStatus(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	defer app.Shutdown()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}} // one connection: one reused buffer
	var want []string
	for _, v := range []string{"aaaaaaaa", "bbbbbbbb", "cccccccc"} {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/bills/bill_"+v+"?cursor=cur_"+v, nil)
		req.Header.Set("X-Token", "tok_"+v)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want = append(want, "bill_"+v, "tok_"+v, "cur_"+v)
	}
	if strings.Join(kept, " ") != strings.Join(want, " ") {
		t.Fatalf("kept %q, want %q", kept, want)
	}
}
