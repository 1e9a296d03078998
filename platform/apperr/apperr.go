// Package apperr defines FinFlow's error values and maps them to HTTP in
// exactly one place.
//
// Domain packages declare their errors as *Error values with a Kind and a
// stable UPPER_SNAKE code (for example ErrInsufficientFunds). Handlers return
// them, wrapped or not; the server's error handler turns them into the
// contract's error body with HTTP{Status,Body}. Anything that is not an *Error
// is an internal error: the client sees a generic message and the cause is
// logged once.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Kind classifies an error by what the caller can do about it. Each kind has
// exactly one HTTP status.
type Kind int

// The error kinds, one per HTTP status the contract uses.
const (
	KindInternal             Kind = iota // 500: a bug or an unexpected failure
	KindInvalid                          // 400: the request is malformed
	KindUnauthenticated                  // 401
	KindForbidden                        // 403
	KindNotFound                         // 404
	KindConflict                         // 409: the request conflicts with current state
	KindTooLarge                         // 413
	KindUnprocessable                    // 422: well-formed, but a business rule refuses it
	KindRateLimited                      // 429
	KindUnavailable                      // 503: a dependency is down or slow; retry later
	KindTimeout                          // 408: the request itself did not arrive in time
	KindUnsupportedMediaType             // 415: the body is declared as something the route does not take
	KindMethodNotAllowed                 // 405: the path exists, not with this method (the Allow header lists those it has)
	KindHeadersTooLarge                  // 431: the request line and headers are over the server's limit (RFC 6585)
)

var statusByKind = map[Kind]int{
	KindInternal:             http.StatusInternalServerError,
	KindInvalid:              http.StatusBadRequest,
	KindUnauthenticated:      http.StatusUnauthorized,
	KindForbidden:            http.StatusForbidden,
	KindNotFound:             http.StatusNotFound,
	KindConflict:             http.StatusConflict,
	KindTooLarge:             http.StatusRequestEntityTooLarge,
	KindUnprocessable:        http.StatusUnprocessableEntity,
	KindRateLimited:          http.StatusTooManyRequests,
	KindUnavailable:          http.StatusServiceUnavailable,
	KindTimeout:              http.StatusRequestTimeout,
	KindUnsupportedMediaType: http.StatusUnsupportedMediaType,
	KindMethodNotAllowed:     http.StatusMethodNotAllowed,
	KindHeadersTooLarge:      http.StatusRequestHeaderFieldsTooLarge,
}

// Status returns the HTTP status of kind k.
func (k Kind) Status() int {
	if s, ok := statusByKind[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// KindForStatus returns the kind whose status is s, and KindInternal for any
// status FinFlow does not use. It lets a client turn an error response back
// into an *Error.
func KindForStatus(s int) Kind {
	for k, st := range statusByKind {
		if st == s {
			return k
		}
	}
	return KindInternal
}

// Stable codes shared by every service. Domain packages add their own
// (EMAIL_TAKEN, INSUFFICIENT_FUNDS, ...).
const (
	CodeInternal         = "INTERNAL"
	CodeValidationFailed = "VALIDATION_FAILED"
	CodeBodyTooLarge     = "BODY_TOO_LARGE"
	CodeUnavailable      = "UNAVAILABLE"
	CodeRouteNotFound    = "ROUTE_NOT_FOUND"
	CodeUnauthenticated  = "UNAUTHENTICATED"
	CodeForbidden        = "FORBIDDEN"
	CodeRateLimited      = "RATE_LIMITED"
	CodeRequestTimeout   = "REQUEST_TIMEOUT"
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeHeadersTooLarge  = "HEADERS_TOO_LARGE"
)

// Error is an error a client can act on: a kind, a stable code, a message
// for humans and optional details for machines.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details map[string]any
	// Err is an optional cause. It is never shown to clients.
	Err error
}

// New returns an error of the given kind and code.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Invalid returns a VALIDATION_FAILED error that names the offending field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{
		Kind:    KindInvalid,
		Code:    CodeValidationFailed,
		Message: fmt.Sprintf(format, args...),
		Details: map[string]any{"field": field},
	}
}

// Unavailable returns a 503 error for a dependency that did not answer.
func Unavailable(message string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: message, Err: cause}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same kind and code, so a
// sentinel such as ErrInsufficientFunds matches any instance carrying its own
// message and details.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == e.Code
}

// With returns a copy of e with a new message and details, keeping kind and
// code. Use it to add context to a sentinel.
func (e *Error) With(message string, details map[string]any) *Error {
	c := *e
	c.Message = message
	c.Details = details
	return &c
}

// Wrap returns a copy of e carrying cause (for logs, never for clients).
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// Temporary is implemented by errors of a dependency that is down or slow
// (a sidecar, a state store, another service). From turns them into 503.
type Temporary interface {
	Temporary() bool
}

// From returns the *Error in err's chain; for a Temporary error an
// UNAVAILABLE error; otherwise an internal error wrapping err.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var t Temporary
	if errors.As(err, &t) && t.Temporary() {
		return Unavailable("a service FinFlow depends on is not answering; try again shortly", err)
	}
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal error", Err: err}
}

// Body is the contract's error envelope:
// {"error":{"code":...,"message":...,"details":{...}}}.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inside of Body.
type BodyError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// HTTP returns the status and body to send for err. Internal errors get a
// generic message; their cause must be logged by the caller.
func HTTP(err error) (int, Body) {
	e := From(err)
	if e.Kind == KindInternal {
		return http.StatusInternalServerError, Body{Error: BodyError{Code: CodeInternal, Message: "internal error"}}
	}
	return e.Kind.Status(), Body{Error: BodyError{Code: e.Code, Message: e.Message, Details: e.Details}}
}

// Printable returns s as an error message may quote what a client sent:
// printable ASCII as it is, every other character escaped (\u00e9, \u202e,
// \xff for a byte that is not UTF-8), at most n bytes in all. So a quote
// never carries control or invisible characters into a log line or an
// answer, and "\u0430mount" (a Cyrillic а) cannot pass for "amount".
func Printable(s string, n int) string {
	out := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r >= 0x20 && r < 0x7f:
			piece = string(r)
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf("\\x%02x", s[i])
		case r > 0xffff:
			piece = fmt.Sprintf("\\U%08x", r)
		default:
			piece = fmt.Sprintf("\\u%04x", r)
		}
		if len(out)+len(piece) > n {
			break
		}
		out = append(out, piece...)
		i += size
	}
	return string(out)
}
