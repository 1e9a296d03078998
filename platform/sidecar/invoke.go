package sidecar

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/finflow/finflow/platform/apperr"
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
	// Code is the stable code of the app's own 5xx answer, when it sent
	// the contract's envelope ("" otherwise).
	Code    string
	Message string
	// undelivered: the call certainly never left (Invoke retries it).
	undelivered bool
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("invoking %s: sidecar answered %d %s: %s", e.AppID, e.Status, e.DaprCode, e.Message)
}

// Unwrap lets errors.Is(err, ErrSidecar) match.
func (e *InvokeError) Unwrap() error { return ErrSidecar }

// Is lets errors.Is match the *apperr.Error sentinel whose code the app
// answered with (a 503 GATEWAY_UNAVAILABLE, say).
func (e *InvokeError) Is(target error) bool {
	t, ok := target.(*apperr.Error)
	return ok && e.Code != "" && t.Code == e.Code
}

// defaultCallTimeout bounds a call whose context has no deadline.
const defaultCallTimeout = 10 * time.Second

// undeliveredBudget is how long Invoke keeps retrying a call that
// certainly did not leave (see invokeOnce) when the client sets none.
const undeliveredBudget = 5 * time.Second

type resendKey struct{}

// ResendFor returns ctx under which Invoke sends a call that never left
// again for at most d (0: never; a shorter bound already in ctx stays):
// for probes, which must report a peer that is down within about d, yet
// not report one down because daprd's first lookup of it answered no
// address (see NotSent), which one resend 50 ms later gets past.
func ResendFor(ctx context.Context, d time.Duration) context.Context {
	return withResendUntil(ctx, time.Now().Add(max(d, 0)))
}

// withResendUntil bounds Invoke's resends under ctx to t (an earlier bound
// already in ctx stays).
func withResendUntil(ctx context.Context, t time.Time) context.Context {
	if prev, ok := ctx.Value(resendKey{}).(time.Time); ok && prev.Before(t) {
		return ctx
	}
	return context.WithValue(ctx, resendKey{}, t)
}

// resendUntil is when Invoke stops resending under ctx.
func (c *Client) resendUntil(ctx context.Context) time.Time {
	until := time.Now().Add(cmp.Or(c.undeliveredBudget, undeliveredBudget))
	if t, ok := ctx.Value(resendKey{}).(time.Time); ok && t.Before(until) {
		until = t
	}
	return until
}

// Invoke calls method on the app appID through the sidecar, forwarding
// header (request id, content type). path may carry a query string. A
// non-nil error means the call did not reach the app or the sidecar reported
// a failure (*InvokeError); any answer of the app, 4xx and 5xx included, is
// returned as a Response. A call whose ctx has no deadline gets one of
// 10 s.
//
// A call that certainly never left (see invokeOnce) is sent again with
// backoff for up to 5 s, within ctx (and ResendFor's bound): after a
// sidecar restarts, its peers' connections to it stay in gRPC's reconnect
// backoff for seconds, and Dapr tears them down only under its built-in
// retry, which FinFlow's resiliency policy replaces because it would replay
// calls that did arrive. Any other failure is returned at once.
func (c *Client) Invoke(ctx context.Context, appID, method, path string, body []byte, header http.Header) (*Response, error) {
	// FinFlow's resiliency policy sets no timeout on app targets (see
	// components/resiliency.yaml), so every call is bounded here.
	ctx, cancel := boundedContext(ctx, cmp.Or(c.callTimeout, defaultCallTimeout))
	defer cancel()
	until := c.resendUntil(ctx)
	wait := 50 * time.Millisecond
	for {
		resp, err := c.invokeOnce(ctx, appID, method, path, body, header)
		var ie *InvokeError
		if err == nil || !errors.As(err, &ie) || !ie.undelivered || time.Now().Add(wait).After(until) {
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
	// Whether any of the request reached our sidecar: net/http may write
	// it on a kept-alive connection that then dies and retry on a new one
	// that fails to dial, so a dial error alone does not prove nothing left.
	var wrote atomic.Bool
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { wrote.Store(true) },
		WroteHeaders:     func() { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(traced, method, u, rd)
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
	if rid, ok := tracectx.RequestID(ctx); ok && req.Header.Get(tracectx.HeaderRequestID) == "" {
		req.Header.Set(tracectx.HeaderRequestID, rid)
	}
	if tp, ok := tracectx.From(ctx); ok && req.Header.Get(tracectx.Header) == "" {
		req.Header.Set(tracectx.Header, tp.Child().String())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &InvokeError{AppID: appID, Status: 0, DaprCode: "UNREACHABLE", Message: err.Error(), undelivered: !wrote.Load()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, &InvokeError{AppID: appID, Status: resp.StatusCode, DaprCode: "READ_FAILED", Message: err.Error()}
	}
	if derr := daprError(appID, resp.StatusCode, raw); derr != nil {
		derr.undelivered = NotSent(derr.DaprCode, derr.Message)
		return nil, derr
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// retriedByDapr matches Dapr's message after its own retries ("failed to
// invoke target wallet after 3 retries"): the message is then the last
// attempt's, and an earlier attempt may have arrived.
var retriedByDapr = regexp.MustCompile(`after ([0-9]+) retries`)

// NotSent reports whether a sidecar's error (its errorCode and message)
// says the call never went out to the target's sidecar, so that sending it
// again cannot apply it twice: an ERR_DIRECT_INVOKE where gRPC failed it
// before any stream was opened, because the connection could not be
// dialled or is waiting out its reconnect backoff ("last connection
// error"), or the target is not resolved, or was resolved to no address
// at all (daprd 1.14's mDNS resolver can answer a first lookup with an
// empty address and no error: components-contrib's
// nameresolution/mdns ResolveID may read the error channel that
// pubAddrToSubs has closed after sending the address; the next lookup
// finds the address in its cache); or the target's sidecar could not connect to its
// app (the app is down while its sidecar lives and is still resolved, so
// a resend may reach another instance of the app id). A call that broke
// after it was sent (EOF, reset while reading, a deadline) is not one of
// them, nor is one Dapr itself sent more than once (FinFlow sets no retry
// on app targets; a test in tests/deploy keeps it so).
func NotSent(code, msg string) bool {
	if code != "ERR_DIRECT_INVOKE" {
		return false
	}
	if m := retriedByDapr.FindStringSubmatch(msg); m != nil && m[1] != "0" {
		return false
	}
	if strings.Contains(msg, "error invoking app channel:") && strings.Contains(msg, "connect: connection refused") {
		return true
	}
	for _, marker := range []string{
		"desc = last connection error:",              // fail-fast while reconnecting
		"transport: Error while dialing",             // the dial itself failed
		"transport: authentication handshake failed", // TLS never completed
		"couldn't find service",                      // name not resolved
		"received empty target in Build()",           // resolved to no address
		"app is not in a healthy state",              // the target's sidecar holds calls while its app fails its health checks (daprd 1.14 messages.ErrAppUnhealthy, before the app channel)
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
