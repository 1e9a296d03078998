package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// raw sends a request exactly as given (headers with several or empty
// values included; the admin's token unless Authorization is set, "-" for
// none) and returns the status and the error envelope's code and
// the field or header it names.
func raw(t *testing.T, method, path string, body []byte, header http.Header) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, env.BaseURL+path, bytes.NewReader(body))
	if body == nil {
		req, _ = http.NewRequest(method, env.BaseURL+path, nil)
	}
	req.Header = header.Clone()
	switch req.Header.Get("Authorization") {
	case "":
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	case "-": // anonymous
		req.Header.Del("Authorization")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Error struct {
			Code    string         `json:"code"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &env)
	named, _ := env.Error.Details["field"].(string)
	if h, ok := env.Error.Details["header"].(string); ok {
		named = h
	}
	return resp.StatusCode, env.Error.Code, named
}

// The fourth example and its class: a header or media type that
// carries meaning is taken only as the contract says. Anything looser is
// refused with a clear error, and changes nothing.
func TestMeaningfulHeadersAndMediaTypes(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Strict Headers", uniqueEmail("strict"))
	env.MustCreateWallet(t, u.ID)
	topUp := []byte(`{"user_id":"` + u.ID + `","amount":1000}`)
	jsonType := http.Header{"Content-Type": {"application/json"}}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(topUp)
	_ = zw.Close()
	cases := []struct {
		name      string
		method    string
		path      string
		body      []byte
		header    http.Header
		want      int
		wantCode  string
		wantNamed string
	}{
		{"Idempotency-Key present but empty", "POST", "/wallet/add", topUp, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {""}}, 400, "VALIDATION_FAILED", "Idempotency-Key"},
		{"Idempotency-Key twice", "POST", "/wallet/add", topUp, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"a-key-1", "a-key-2"}}, 400, "VALIDATION_FAILED", "Idempotency-Key"},
		{"Idempotency-Key too long", "POST", "/wallet/add", topUp, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {strings.Repeat("k", 256)}}, 400, "VALIDATION_FAILED", "Idempotency-Key"},
		{"no Content-Type", "POST", "/wallet/add", topUp, http.Header{}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type"},
		{"text/plain", "POST", "/wallet/add", topUp, http.Header{"Content-Type": {"text/plain"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type"},
		{"another charset", "POST", "/wallet/add", topUp, http.Header{"Content-Type": {"application/json; charset=iso-8859-1"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type"},
		{"gzip-encoded JSON", "POST", "/wallet/add", gz.Bytes(), http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Encoding"},
		{"a query the route does not take", "POST", "/wallet/add?amount=99999", topUp, jsonType, 400, "VALIDATION_FAILED", "amount"},
		{"a listing parameter twice", "GET", "/wallet/transactions/" + u.ID + "?limit=1&limit=100", nil, http.Header{}, 400, "VALIDATION_FAILED", "limit"},
		{"a misspelt listing parameter", "GET", "/wallet/transactions/" + u.ID + "?limt=1", nil, http.Header{}, 400, "VALIDATION_FAILED", "limt"},
		{"Authorization twice", "GET", "/wallet/balance/" + u.ID, nil, http.Header{"Authorization": {"Bearer " + env.Token(t, u.ID, "user"), "Bearer " + env.AdminToken}}, 400, "VALIDATION_FAILED", "Authorization"},
		{"invalid UTF-8", "POST", "/wallet/add", []byte("{\"user_id\":\"" + u.ID + "\",\"amount\":1000,\"reference\":\"\xff\"}"), jsonType, 400, "VALIDATION_FAILED", "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 2; i++ { // refused every time, never half-acted on
				status, code, named := raw(t, tc.method, tc.path, tc.body, tc.header)
				if status != tc.want || code != tc.wantCode || named != tc.wantNamed {
					t.Fatalf("%s %s = %d %s naming %q, want %d %s naming %q", tc.method, tc.path, status, code, named, tc.want, tc.wantCode, tc.wantNamed)
				}
			}
		})
	}
	if b := env.MustBalance(t, u.ID); b != 0 {
		t.Fatalf("balance after refused top-ups = %d, want 0: a refused request credited the wallet", b)
	}

	// The second half: a text/plain body "containing json" would
	// let any web page sign its visitors up without a CORS preflight.
	email := uniqueEmail("plain")
	signUp := []byte(`{"name":"Plain Text","email":"` + email + `"}`)
	for _, ct := range []string{"text/plain; charset=json", "text/plain", "application/x-www-form-urlencoded"} {
		if status, code, _ := raw(t, "POST", "/users/create", signUp, http.Header{"Content-Type": {ct}, "Authorization": {"-"}}); status != 415 || code != "UNSUPPORTED_MEDIA_TYPE" {
			t.Fatalf("sign-up as %s = %d %s, want 415", ct, status, code)
		}
	}
	form := []byte("--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + email + "\r\n--x--\r\n")
	if status, code, _ := raw(t, "POST", "/users/create", form, http.Header{"Content-Type": {"multipart/form-data; boundary=x"}, "Authorization": {"-"}}); status != 415 || code != "UNSUPPORTED_MEDIA_TYPE" {
		t.Fatalf("sign-up as multipart/form-data = %d %s, want 415", status, code)
	}
	if status, code, _ := raw(t, "POST", "/users/create", signUp, http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Authorization": {"-"}}); status != 201 {
		t.Fatalf("the same sign-up as JSON = %d %s, want 201 (nothing was created before)", status, code)
	}

	// The console's sign-in takes its token from its form's body only.
	if status, _, named := raw(t, "POST", "/console/login?token="+url.QueryEscape(env.AdminToken), nil,
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); status != 400 || named != "token" {
		t.Fatalf("console sign-in with the token in the URL = %d naming %q, want 400", status, named)
	}
	if status, code, _ := raw(t, "POST", "/console/login", []byte(`{"token":"`+env.AdminToken+`"}`), jsonType); status != 415 || code != "UNSUPPORTED_MEDIA_TYPE" {
		t.Fatalf("console sign-in with JSON = %d %s, want 415", status, code)
	}
}
