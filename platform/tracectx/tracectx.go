// Package tracectx carries W3C trace context (the traceparent header)
// through FinFlow: the gateway starts a trace for every request that does
// not bring one, every service logs its trace id on every line, and every
// call a service makes (service invocation, pub/sub) passes it on, so one
// payment can be followed from the gateway through the services and the
// Razorpay webhook's pub/sub hop to the payment service. Dapr's own spans
// (config/dapr-config.yaml) join the same trace when turned on.
package tracectx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Header is the W3C trace context header.
const Header = "traceparent"

// Parent is a parsed traceparent.
type Parent struct {
	TraceID string // 32 lower-case hex digits, not all zero
	SpanID  string // 16 lower-case hex digits, not all zero
	Flags   string // 2 hex digits; 01 means sampled
}

// Parse reads a traceparent header (version 00 or a later one, whose first
// four fields are read the same way). ok is false for anything malformed.
func Parse(h string) (Parent, bool) {
	parts := strings.Split(strings.TrimSpace(h), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || (parts[0] == "00" && len(parts) != 4) {
		return Parent{}, false
	}
	p := Parent{TraceID: parts[1], SpanID: parts[2], Flags: parts[3]}
	if !hexOf(p.TraceID, 32) || !hexOf(p.SpanID, 16) || !hexOf(p.Flags, 2) || !hexOf(parts[0], 2) {
		return Parent{}, false
	}
	if p.TraceID == strings.Repeat("0", 32) || p.SpanID == strings.Repeat("0", 16) {
		return Parent{}, false
	}
	return p, true
}

func hexOf(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// New starts a new trace (sampled).
func New() Parent {
	return Parent{TraceID: randomHex(16), SpanID: randomHex(8), Flags: "01"}
}

// Child returns the context to send on an outgoing call: same trace, a new
// span id.
func (p Parent) Child() Parent {
	return Parent{TraceID: p.TraceID, SpanID: randomHex(8), Flags: p.Flags}
}

// String formats p as a version 00 traceparent header.
func (p Parent) String() string { return "00-" + p.TraceID + "-" + p.SpanID + "-" + p.Flags }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if strings.Trim(hex.EncodeToString(b), "0") == "" {
		b[0] = 1 // all-zero ids are invalid
	}
	return hex.EncodeToString(b)
}

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Parent) context.Context { return context.WithValue(ctx, ctxKey{}, p) }

// From returns the trace context ctx carries, if any.
func From(ctx context.Context) (Parent, bool) {
	p, ok := ctx.Value(ctxKey{}).(Parent)
	return p, ok
}

// HeaderRequestID carries a request's id from the gateway through the
// sidecars to every service the request reaches, and back to the client.
const HeaderRequestID = "X-Request-Id"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves: log
// lines written with it carry the id, and calls made with it to other
// services (sidecar.Client.Invoke) send it on in HeaderRequestID.
func WithRequestID(ctx context.Context, rid string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, rid)
}

// RequestID returns the request id ctx carries, if any.
func RequestID(ctx context.Context) (string, bool) {
	rid, ok := ctx.Value(requestIDKey{}).(string)
	return rid, ok && rid != ""
}
