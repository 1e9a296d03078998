// Package server builds FinFlow's Fiber apps the same way in every service:
// the contract's error envelope from one error handler, a 64 KiB body limit,
// read/write/idle timeouts, a request id on every response and log line,
// panic recovery, strict JSON decoding, and a graceful stop.
//
// Every request head is checked as the client sent it before any route
// sees it (unambiguousFraming has the rules): a head that another HTTP
// hop could read differently (request smuggling, another host, another
// version) is answered 400, an Expect it cannot meet 417, and
// "Expect: 100-continue" with a body over the limit 413 before the body
// is sent; the connection is then closed. An empty Host and an empty port
// are valid (RFC 9112 3.2, RFC 3986 3.2.3) and accepted.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/valyala/fasthttp"

	"github.com/finflow/finflow/platform/apperr"
)

// BodyLimit is the largest request body FinFlow accepts (the contract's 64 KiB).
const BodyLimit = 64 << 10

// readLimit is how much of a body the HTTP server reads before it gives up
// on the connection. It is larger than BodyLimit so that a client sending a
// body somewhat over the limit gets a clean 413 answer rather than a reset
// connection while it is still writing.
const readLimit = 1 << 20

// Config describes one service's HTTP server.
type Config struct {
	// Name is the service name used in logs (user, wallet, ...).
	Name string
	// Logger receives access and error logs. Required.
	Logger *slog.Logger
	// ReadTimeout, WriteTimeout and IdleTimeout bound slow clients; zero
	// values take the defaults below.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Observe, when set, is told about every request served: its route
	// pattern ("unmatched" when no route matched), method, final status and
	// duration (package metrics).
	Observe func(route, method string, status int, d time.Duration)
}

// Default timeouts, generous enough for a payment that waits on two
// downstream services and short enough that a slow client cannot hold a
// connection for long.
const (
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
)

// New returns a Fiber app with FinFlow's conventions installed. Register
// routes on it, then call Run.
func New(cfg Config) *fiber.App {
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	app := fiber.New(fiber.Config{
		AppName:               cfg.Name,
		BodyLimit:             readLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ReadBufferSize:        headLimit, // also the request head limit
		CaseSensitive:         true,      // the contract's paths are exact: /Payment/pay
		StrictRouting:         true,
		DisableStartupMessage: true,
		// Every string a handler gets from the request (a header, a path
		// parameter, a query value) is its own copy, not a view of
		// fasthttp's buffer that the next request overwrites: FinFlow keeps
		// such strings past the request (cache keys, verified identity
		// tokens, work handed to goroutines), where a view would change
		// under it.
		Immutable:    true,
		ErrorHandler: errorHandler(cfg.Logger),
		// No route takes a form: a multipart body is refused by the route's
		// media-type check (415) like any other, never parsed first.
		DisablePreParseMultipartForm: true,
	})
	// Fiber answers a method it does not know (FOO, a lower-case get) in
	// plain text before any handler runs; FinFlow answers it in the
	// contract's envelope.
	app.Server().Handler = unambiguousFraming(knownMethods(app.Server().Handler))
	app.Use(requestContext(cfg.Logger, cfg.Observe))
	app.Use(recover.New())
	app.Use(func(c *fiber.Ctx) error {
		if len(c.Request().Body()) > BodyLimit {
			return fiber.ErrRequestEntityTooLarge
		}
		return c.Next()
	})
	return app
}

// knownMethods answers a request whose method Fiber does not route (any
// but the nine of RFC 9110 and PATCH, exactly as spelt there) with 400
// VALIDATION_FAILED naming the method, in the contract's envelope and with
// a request id; every other request goes to next.
func knownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	known := make(map[string]bool, len(fiber.DefaultMethods))
	for _, m := range fiber.DefaultMethods {
		known[m] = true
	}
	return func(ctx *fasthttp.RequestCtx) {
		if known[string(ctx.Method())] {
			next(ctx)
			return
		}
		writeError(ctx, apperr.Invalid("method", "%q is not an HTTP method FinFlow serves", apperr.Printable(string(ctx.Method()), 100)))
	}
}

// unambiguousFraming refuses, before any handler runs, a request whose
// head another HTTP hop, or FinFlow's own router, could read differently
// from what the client meant. Served through Serve (every FinFlow server),
// the head is checked byte for byte as it arrives, before fasthttp reads
// it (headConn), because fasthttp takes some of these without a trace and
// waits out the read timeout on others; served otherwise (app.Test), the
// head is checked as fasthttp parsed it (headRefusal). The rules, each
// from RFC 9112 (HTTP/1.1) or RFC 9110 (HTTP semantics):
//
//   - lines (RFC 9112 2.2): every line of the head ends in CRLF; a bare
//     LF or a CR anywhere else is refused. Empty lines before the request
//     line are skipped. The head, with them, fits in 8 KiB.
//   - the request line (RFC 9112 3): exactly method SP target SP version.
//     Refused: no version (HTTP/0.9's "GET /path", which fasthttp reads
//     as HTTP/1.0), a version other than HTTP/1.1 or HTTP/1.0 as so
//     spelt, more than three parts (a space in the target, two spaces, a
//     trailing one), a control character in the target, or a target that
//     is neither a path nor an absolute http(s) URI with a valid host
//     (nor * on OPTIONS). An unknown method is knownMethods' to refuse.
//   - header lines (RFC 9112 5): name ":" value. Refused: a line that
//     starts with space or tab (obsolete line folding, 5.2, or whitespace
//     before the first header), a line with no colon, whitespace between
//     the name and the colon (5.1), a name that is not a token (RFC 9110
//     5.1), a NUL in the value (RFC 9110 5.5). Other control characters
//     in a value are left to the route that reads the header, which
//     names it.
//   - framing (request smuggling, RFC 9112 6): Content-Length that is not
//     digits only (a sign, spaces inside, a list), or given more than once
//     with different values (RFC 9110 8.6); Content-Length beside
//     Transfer-Encoding (6.1 allows either refusing or letting chunked
//     win; FinFlow refuses, so no hop before it can have read the other);
//     a Transfer-Encoding other than one chunked (fasthttp reads any value
//     but identity as chunked and identity as no body at all), or any on
//     an HTTP/1.0 request. A chunked body whose framing is malformed (a
//     size that is not 1 to 8 hex digits, data not followed by CRLF, a
//     trailer line without a colon or folded) ends the connection with
//     400 (field request).
//   - Host (RFC 9112 3.2, RFC 9110 7.2): missing on HTTP/1.1 (unless the
//     target is an absolute URI, which names the host), given more than
//     once, not uri-host [":" port] as RFC 3986 spells it (hostProblem),
//     or, beside an absolute target, naming another host or port than the
//     target does (RFC 9112 3.2.2 says the target's wins; a hop before
//     FinFlow may have routed by Host). An empty Host, and an empty port
//     (Host: a:), are valid (RFC 9112 3.2, RFC 3986 3.2.3) and accepted.
//   - Expect (RFC 9110 10.1.1): any expectation but one 100-continue
//     (letter case aside) is answered 417 EXPECTATION_FAILED. With
//     100-continue and a Content-Length over BodyLimit the answer is 413
//     BODY_TOO_LARGE at once, without 100 Continue and without reading
//     the body. On HTTP/1.0, 100-continue is ignored, as the RFC says.
//
// The answer is 400 VALIDATION_FAILED (field headers for the header
// lines, request for the request line and a target that disagrees with
// Host), 413 or 417 as said, in the contract's envelope with a request
// id, and the connection is closed: what follows on it cannot be told
// apart from this request. The answer never quotes the request beyond
// the one value at fault.
func unambiguousFraming(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		refusal := headRefusal(ctx)
		if refusal == nil {
			next(ctx)
			return
		}
		ctx.SetConnectionClose()
		writeError(ctx, refusal)
	}
}

// hostProblem says what is wrong with a Host header's value (or an
// absolute target's authority) as uri-host [":" port] (RFC 3986 3.2.2,
// 3.2.3); "" when nothing is. An empty value is the one a client sends
// when the URI has no authority (RFC 9112 3.2); a port without a host is
// not. Percent-encoding is refused: no host FinFlow serves needs it, and
// a decoded %2F would be a path.
func hostProblem(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	bad := fmt.Sprintf("\"%s\" is not a host name, IPv4 address or [IPv6] address with an optional :port", apperr.Printable(string(v), 64))
	var name, port []byte
	hasPort := false
	if v[0] == '[' {
		end := bytes.IndexByte(v, ']')
		if end < 0 {
			return bad
		}
		literal, rest := v[1:end], v[end+1:]
		if !ipLiteral(literal) {
			return bad
		}
		if len(rest) > 0 {
			if rest[0] != ':' {
				return bad
			}
			port, hasPort = rest[1:], true
		}
	} else {
		name, port, hasPort = bytes.Cut(v, []byte{':'})
		if len(name) == 0 {
			return bad
		}
		for _, c := range name {
			if !isUnreserved(c) && !isSubDelim(c) {
				return bad
			}
		}
	}
	if hasPort {
		if len(port) > 5 {
			return bad
		}
		n := 0
		for _, c := range port {
			if c < '0' || c > '9' {
				return bad
			}
			n = n*10 + int(c-'0')
		}
		if n > 65535 {
			return bad
		}
	}
	return ""
}

// ipLiteral reports whether s (what is inside the brackets) is an
// IPv6address or an IPvFuture of RFC 3986 3.2.2; an IPv6 zone is not
// part of a URI's host.
func ipLiteral(s []byte) bool {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		version, rest, ok := bytes.Cut(s[1:], []byte{'.'})
		if !ok || len(version) == 0 || len(rest) == 0 {
			return false
		}
		for _, c := range version {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		for _, c := range rest {
			if !isUnreserved(c) && !isSubDelim(c) && c != ':' {
				return false
			}
		}
		return true
	}
	addr, err := netip.ParseAddr(string(s))
	return err == nil && addr.Is6() && addr.Zone() == ""
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// isSubDelim reports whether c is an RFC 3986 sub-delim.
func isSubDelim(c byte) bool { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }

// isToken reports whether s is a non-empty RFC 9110 token (a header name).
func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// writeError answers ctx with err in the contract's envelope, with a
// request id, outside Fiber (before any route).
func writeError(ctx *fasthttp.RequestCtx, err error) {
	status, body := apperr.HTTP(err)
	raw, merr := json.Marshal(body)
	if merr != nil {
		raw = []byte(`{"error":{"code":"VALIDATION_FAILED","message":"malformed request"}}`)
	}
	ctx.Response.Header.Set(HeaderRequestID, NewRequestID())
	ctx.SetContentType(fiber.MIMEApplicationJSON)
	ctx.SetStatusCode(status)
	ctx.SetBody(raw)
}

// errorHandler writes every error in the contract's envelope. It is the only
// place where errors become HTTP responses.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			err = fromFiber(c, fe)
		}
		status, body := apperr.HTTP(err)
		if status >= 500 {
			// Logged once, here; the client sees only the generic message.
			Log(c, log).Error("request failed", "status", status, "err", err.Error())
		}
		if status == fiber.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
		ensureRequestID(c)
		return c.Status(status).JSON(body)
	}
}

// fromFiber turns Fiber's own errors (no route, body too large, timeouts)
// into FinFlow errors with stable codes.
func fromFiber(c *fiber.Ctx, fe *fiber.Error) error {
	switch fe.Code {
	case fiber.StatusNotFound:
		return apperr.New(apperr.KindNotFound, apperr.CodeRouteNotFound, fmt.Sprintf("no route %s %s", c.Method(), c.Path()))
	case fiber.StatusMethodNotAllowed:
		// Fiber has set Allow to the methods the path has (RFC 9110 15.5.6).
		return apperr.New(apperr.KindMethodNotAllowed, apperr.CodeMethodNotAllowed,
			fmt.Sprintf("%s is not a method of %s; see the Allow header", c.Method(), c.Path()))
	case fiber.StatusRequestEntityTooLarge:
		return apperr.New(apperr.KindTooLarge, apperr.CodeBodyTooLarge, fmt.Sprintf("request body is larger than %d bytes", BodyLimit))
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return apperr.Invalid("headers", "request headers are too large")
	case fiber.StatusRequestTimeout:
		// 408, not 400: HTTP clients treat a 408 on a connection they left
		// idle as the server closing it, and retry elsewhere quietly.
		return apperr.New(apperr.KindTimeout, apperr.CodeRequestTimeout, "request was not received in time")
	case fiber.StatusBadRequest:
		return apperr.Invalid("request", "malformed request: %s", parseError(fe.Message))
	}
	if fe.Code >= 500 {
		return fmt.Errorf("fiber: %w", fe)
	}
	return apperr.New(apperr.KindForStatus(fe.Code), apperr.CodeValidationFailed, parseError(fe.Message))
}

// parseError is what a client is told of fasthttp's reason for refusing
// to parse its request: the reason without the copy of the request that
// fasthttp appends ("Buffer size=347, contents: ..."), which would echo
// the request's headers (its bearer token among them) into an error body
// that proxies and clients log; printable ASCII, at most 120 bytes.
func parseError(msg string) string {
	if i := strings.Index(msg, ". Buffer size="); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, "contents:"); i >= 0 {
		msg = msg[:i]
	}
	return apperr.Printable(msg, 120)
}

// Run serves app on addr until ctx is done, then stops it, giving in-flight
// requests up to shutdownTimeout to finish.
func Run(ctx context.Context, app *fiber.App, addr string, shutdownTimeout time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return Serve(ctx, app, ln, shutdownTimeout)
}

// Serve is Run on an existing listener (tests listen on port 0). It reads
// every connection through a headConn, which checks each request head
// before fasthttp parses it (unambiguousFraming).
func Serve(ctx context.Context, app *fiber.App, ln net.Listener, shutdownTimeout time.Duration) error {
	errc := make(chan error, 1)
	// Each connection's request heads are checked as they arrive
	// (headConn), before fasthttp reads them.
	ln = headListener{Listener: ln, readTimeout: app.Server().ReadTimeout}
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	if err := app.ShutdownWithTimeout(shutdownTimeout); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	return nil
}

// NewLogger returns the JSON logger every FinFlow service uses. LOG_LEVEL
// (debug, info, warn, error) sets the level; info by default. A line
// logged with a request's context (InfoContext and friends) carries that
// request's request_id and trace_id.
func NewLogger(service string) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})
	return slog.New(contextHandler{Handler: h}).With("service", service)
}
