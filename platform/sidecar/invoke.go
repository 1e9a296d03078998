package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	// undelivered: the call certainly never left (Invoke retries it).
	undelivered bool
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("invoking %s: sidecar answered %d %s: %s", e.AppID, e.Status, e.DaprCode, e.Message)
}

// Unwrap lets errors.Is(err, ErrSidecar) match.
func (e *InvokeError) Unwrap() error { return ErrSidecar }

// undeliveredBudget is how long Invoke keeps retrying a call that
// certainly did not leave (see undelivered) when the client sets none.
const undeliveredBudget = 5 * time.Second

// Invoke calls method on the app appID through the sidecar, forwarding
// header (request id, content type). path may carry a query string. A
// non-nil error means the call did not reach the app or the sidecar reported
// a failure (*InvokeError); any answer of the app, 4xx and 5xx included, is
// returned as a Response.
//
// A call that certainly never left (see undelivered: our sidecar refused
// the connection, or the target's sidecar could not be dialled) is sent
// again with backoff for up to 5 s, within ctx: after a sidecar restarts,
// its peers' connections to it stay in gRPC's reconnect backoff for a few
// seconds, and Dapr tears them down only under its built-in retry, which
// FinFlow's resiliency policy replaces (it would replay calls that did
// arrive). Any other failure is returned at once.
func (c *Client) Invoke(ctx context.Context, appID, method, path string, body []byte, header http.Header) (*Response, error) {
	budget := c.undeliveredBudget
	if budget == 0 {
		budget = undeliveredBudget
	}
	deadline := time.Now().Add(budget)
	wait := 50 * time.Millisecond
	for {
		resp, err := c.invokeOnce(ctx, appID, method, path, body, header)
		var ie *InvokeError
		if err == nil || !errors.As(err, &ie) || !ie.undelivered || time.Now().Add(wait).After(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return resp, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 400*time.Millisecond)
	}
}

// invokeOnce is one attempt of Invoke.
func (c *Client) invokeOnce(ctx context.Context, appID, method, path string, body []byte, header http.Header) (*Response, error) {
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
		var op *net.OpError
		dial := errors.As(err, &op) && op.Op == "dial"
		return nil, &InvokeError{AppID: appID, Status: 0, DaprCode: "UNREACHABLE", Message: err.Error(), undelivered: dial}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, &InvokeError{AppID: appID, Status: resp.StatusCode, DaprCode: "READ_FAILED", Message: err.Error()}
	}
	if derr := daprError(appID, resp.StatusCode, raw); derr != nil {
		derr.undelivered = derr.DaprCode == "ERR_DIRECT_INVOKE" && notSent(derr.Message)
		return nil, derr
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// notSent reports whether a sidecar's ERR_DIRECT_INVOKE message says the
// call never went out to the target's sidecar: gRPC failed it before any
// stream was opened, because the connection could not be dialled or is
// waiting out its reconnect backoff ("last connection error"), or the
// target is not resolved. A call that broke after it was sent (EOF, reset
// while reading, a deadline) is not one of them.
func notSent(msg string) bool {
	for _, marker := range []string{
		"desc = last connection error:",              // fail-fast while reconnecting
		"transport: Error while dialing",             // the dial itself failed
		"transport: authentication handshake failed", // TLS never completed
		"couldn't find service",                      // name not resolved
	} {
		if strings.Contains(msg, marker) {
			return true
		}
	}
	return false
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
