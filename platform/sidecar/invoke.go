package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/finflow/finflow/platform/tracectx"
)

// Response is an app's answer to an invocation, status and body as the app
// sent them.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// InvokeError is a failure of the invocation itself, reported by a sidecar
// (target unknown or unreachable, timeout, circuit open, access denied), not
// an answer from the target app.
type InvokeError struct {
	AppID    string
	Status   int
	DaprCode string
	Message  string
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("invoking %s: sidecar answered %d %s: %s", e.AppID, e.Status, e.DaprCode, e.Message)
}

// Unwrap lets errors.Is(err, ErrSidecar) match.
func (e *InvokeError) Unwrap() error { return ErrSidecar }

// Invoke calls method on the app appID through the sidecar, forwarding
// header (request id, content type). path may carry a query string. A
// non-nil error means the call did not reach the app or the sidecar reported
// a failure (*InvokeError); any answer of the app, 4xx and 5xx included, is
// returned as a Response.
func (c *Client) Invoke(ctx context.Context, appID, method, path string, body []byte, header http.Header) (*Response, error) {
	u := c.httpBase + "/v1.0/invoke/" + url.PathEscape(appID) + "/method/" + strings.TrimPrefix(path, "/")
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("invoking %s %s: %w", appID, path, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.token != "" {
		req.Header.Set("dapr-api-token", c.token)
	}
	if tp, ok := tracectx.From(ctx); ok && req.Header.Get(tracectx.Header) == "" {
		req.Header.Set(tracectx.Header, tp.Child().String())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &InvokeError{AppID: appID, Status: 0, DaprCode: "UNREACHABLE", Message: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, &InvokeError{AppID: appID, Status: resp.StatusCode, DaprCode: "READ_FAILED", Message: err.Error()}
	}
	if derr := daprError(appID, resp.StatusCode, raw); derr != nil {
		return nil, derr
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// daprError recognises the sidecar's own error body ({"errorCode": ...}),
// which FinFlow's apps never send: theirs is {"error": {...}}.
func daprError(appID string, status int, body []byte) *InvokeError {
	if status < 400 || !bytes.Contains(body, []byte(`"errorCode"`)) {
		return nil
	}
	var e struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrorCode == "" {
		return nil
	}
	return &InvokeError{AppID: appID, Status: status, DaprCode: e.ErrorCode, Message: e.Message}
}
