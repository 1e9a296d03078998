package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/finflow/finflow/platform/apperr"
)

// Call invokes method path on app with in as the JSON body (nil for none)
// and decodes a 2xx answer into out (when not nil). It returns the status of
// a 2xx answer. An error answer from the app comes back as the *apperr.Error
// it described (same kind, code, message and details), so errors.Is with a
// domain sentinel works across services; a failure of the call itself is an
// *InvokeError (errors.Is(err, ErrSidecar)).
func (c *Client) Call(ctx context.Context, app, method, path string, in, out any, header http.Header) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("encoding request to %s %s: %w", app, path, err)
		}
	}
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	resp, err := c.Invoke(ctx, app, method, path, body, h)
	if err != nil {
		return 0, err
	}
	if resp.Status >= 300 {
		return resp.Status, remoteError(app, resp)
	}
	if !json.Valid(resp.Body) {
		// Every FinFlow answer is JSON. A 2xx without it (an empty 200 has
		// been seen while a service restarted) says nothing about what
		// happened: the outcome is unknown, never success.
		return 0, &InvokeError{AppID: app, Status: resp.Status, DaprCode: "INVALID_ANSWER",
			Message: fmt.Sprintf("%s answered %d with %d bytes that are not JSON", app, resp.Status, len(resp.Body))}
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return 0, &InvokeError{AppID: app, Status: resp.Status, DaprCode: "INVALID_ANSWER",
				Message: fmt.Sprintf("decoding answer of %s %s: %v", app, path, err)}
		}
	}
	return resp.Status, nil
}

// remoteError rebuilds the app's error from its envelope, stable code
// included, so errors.Is with the sentinel both sides share (package
// contract) works across the call. A 5xx, or an answer without the
// envelope, is a failure of that service (retryable), not a business
// answer: an *InvokeError, still carrying the code it sent (errors.Is
// matches it too).
func remoteError(app string, resp *Response) error {
	var b apperr.Body
	decoded := json.Unmarshal(resp.Body, &b) == nil && b.Error.Code != ""
	if resp.Status < 500 && decoded {
		return &apperr.Error{Kind: apperr.KindForStatus(resp.Status), Code: b.Error.Code, Message: b.Error.Message, Details: b.Error.Details}
	}
	e := &InvokeError{AppID: app, Status: resp.Status, DaprCode: "APP_ERROR", Message: fmt.Sprintf("%s answered %d", app, resp.Status)}
	if decoded {
		e.Code, e.Message = b.Error.Code, fmt.Sprintf("%s answered %d %s: %s", app, resp.Status, b.Error.Code, b.Error.Message)
	}
	return e
}

// CallRead is Call for a read (a GET whose repetition is harmless): a
// failure of the invocation (a timeout, a call that broke on the way) is
// retried a few times with backoff before it is returned; calls that never
// left have had Invoke's own retries already. Answers of the app, errors
// included, are returned at once.
func (c *Client) CallRead(ctx context.Context, app, path string, out any, header http.Header) (int, error) {
	// One resend budget for all attempts, not one each.
	ctx = withResendUntil(ctx, c.resendUntil(ctx))
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		status, err := c.Call(ctx, app, http.MethodGet, path, nil, out, header)
		var ie *InvokeError
		if err == nil || !errors.As(err, &ie) || ie.DaprCode == "APP_ERROR" || ie.undelivered || attempt == 4 {
			return status, err
		}
		select {
		case <-ctx.Done():
			return status, err
		case <-time.After(wait):
		}
		wait *= 3
	}
}
