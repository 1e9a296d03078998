package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// Response is an answer from the gateway.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
}

// ErrorCode returns the contract error's code, or "" when the body is not
// an error envelope.
func (r *Response) ErrorCode() string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

// ErrorDetails returns the contract error's details (nil when the body is
// not an error envelope or has none).
func (r *Response) ErrorDetails() map[string]any {
	var b struct {
		Error struct {
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Details
}

// ErrorField returns the error's details.field.
func (r *Response) ErrorField() string {
	f, _ := r.ErrorDetails()["field"].(string)
	return f
}

// client keeps enough idle connections for suites that send from many
// goroutines at once.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
	Proxy: http.ProxyFromEnvironment, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second,
}}

// MustJSON sends a request as e.Do does, fails the test unless the answer
// has status want, and returns its body decoded into a T.
func MustJSON[T any](e *Env, tb testing.TB, method, path string, body any, want int) T {
	tb.Helper()
	r := e.Do(tb, method, path, body, nil)
	if r.Status != want {
		tb.Fatalf("%s %s = %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	var v T
	r.JSON(tb, &v)
	return v
}

// Do sends a request to the gateway. body may be nil, a string or []byte
// (sent as is) or anything else (sent as JSON). JSON bodies get
// Content-Type: application/json unless header sets one. The admin token is
// sent unless header sets Authorization ("" sends none). A request that gets
// no answer fails the test.
func (e *Env) Do(tb testing.TB, method, path string, body any, header map[string]string) *Response {
	tb.Helper()
	r, err := e.Try(method, path, body, header)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Try is Do for suites where a request may get no answer (a gateway killed
// by the chaos suite): it returns the error instead of failing the test.
func (e *Env) Try(method, path string, body any, header map[string]string) (*Response, error) {
	var raw []byte
	isJSON := false
	switch b := body.(type) {
	case nil:
	case string:
		raw, isJSON = []byte(b), true
	case []byte:
		raw, isJSON = b, true
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
		isJSON = true
	}
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.BaseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if _, set := header["Authorization"]; !set && e.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: answer}
	if e.contract != nil {
		e.contract.check(method, e.BaseURL+path, req.Header, raw, r)
	}
	return r, nil
}

// User is the contract's user object.
type User struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Email     string  `json:"email"`
	Phone     *string `json:"phone"`
	CreatedAt string  `json:"created_at"`
}

// MustCreateUser signs up a user through the gateway and fails the test
// unless it gets 201.
func (e *Env) MustCreateUser(tb testing.TB, name, email string) User {
	tb.Helper()
	resp := e.Do(tb, "POST", "/users/create", map[string]any{"name": name, "email": email}, nil)
	if resp.Status != http.StatusCreated {
		tb.Fatalf("POST /users/create %s = %d %s, want 201", email, resp.Status, resp.Body)
	}
	var u User
	resp.JSON(tb, &u)
	return u
}
