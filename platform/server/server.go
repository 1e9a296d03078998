// Package server builds FinFlow's Fiber apps the same way in every service:
// the contract's error envelope from one error handler, a 64 KiB body limit,
// read/write/idle timeouts, a request id on every response and log line,
// panic recovery, strict JSON decoding, and a graceful stop.
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

// HeaderLimit is the most bytes a request line and its headers may take
// together (fasthttp's read buffer); more is 431 HEADERS_TOO_LARGE.
const HeaderLimit = 8 << 10

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
		ReadBufferSize:        HeaderLimit, // also the request header limit
		CaseSensitive:         true,        // the contract's paths are exact: /Payment/pay
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
// from what the client meant. It is checked here because fasthttp takes
// each of these without complaint, and a handler would then see a request
// that is not the one sent (a lost path, another host, a body read by the
// wrong length):
//
//   - framing (request smuggling): Content-Length given more than once with
//     different values (RFC 9110 8.6), Content-Length beside
//     Transfer-Encoding (RFC 9112 6.1), a Transfer-Encoding other than one
//     chunked (RFC 9112 6.1: chunked must be the final coding, and FinFlow
//     understands no other; fasthttp reads any value but identity as
//     chunked and identity as no body at all), Transfer-Encoding on an
//     HTTP/1.0 request (RFC 9112 6.1), or a header line folded onto the
//     next (RFC 9112 5.2);
//   - headers: a header name that is not a token, or a value with a NUL or
//     a bare CR in it (RFC 9110 5.1, 5.5);
//   - Host (RFC 9112 3.2, RFC 9110 7.2): missing on HTTP/1.1 (unless the
//     target is an absolute URI, which names the host), given more than
//     once, or not uri-host [":" port] as RFC 3986 spells it (a name
//     of letters, digits and - . _ ~ ! $ & ' ( ) * + , ; =, an IPv4
//     address or a bracketed IPv6 address; a port of digits only);
//     fasthttp would route such a request with an empty path;
//   - the request line (RFC 9112 3): a version other than HTTP/1.1 or
//     HTTP/1.0, more than three parts (a space or control character in the
//     target), or a target that is neither a path nor an absolute http(s)
//     URI with a valid host (nor * on OPTIONS).
//
// The answer is 400 VALIDATION_FAILED in the contract's envelope (field
// headers for the headers, request for the request line), and the
// connection is closed: what follows on it cannot be told apart from this
// request.
func unambiguousFraming(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		field, problem := "request", requestLineProblem(&ctx.Request.Header)
		if problem == "" {
			field, problem = "headers", framingProblem(&ctx.Request.Header)
		}
		if problem == "" {
			next(ctx)
			return
		}
		ctx.SetConnectionClose()
		writeError(ctx, apperr.Invalid(field, "%s", problem))
	}
}

// requestLineProblem reads the request line as fasthttp split it (method,
// target, version) for what unambiguousFraming refuses; "" when there is
// none. fasthttp takes the last space-separated word as the version and
// everything between the method and it as the target, so a request line
// with more than three parts shows as a target with a space in it. (A line
// with no version at all, HTTP/0.9's form, fasthttp reads as HTTP/1.0 and
// cannot be told apart from one that says so.)
func requestLineProblem(h *fasthttp.RequestHeader) string {
	if p := h.Protocol(); !bytes.Equal(p, []byte("HTTP/1.1")) && !bytes.Equal(p, []byte("HTTP/1.0")) {
		return fmt.Sprintf("HTTP version \"%s\" is not served; send HTTP/1.1 or HTTP/1.0", apperr.Printable(string(p), 40))
	}
	target := h.RequestURI()
	for _, c := range target {
		if c == ' ' {
			return "the request line has more than three parts (method, target, version); a space in a path or query is sent as %20"
		}
		if c < ' ' || c == 0x7f {
			return "the request target has a control character in it; send it percent-encoded"
		}
	}
	switch {
	case len(target) > 0 && target[0] == '/':
		return ""
	case string(target) == "*" && string(h.Method()) == fiber.MethodOptions:
		return ""
	}
	const notATarget = "the request target is neither a path starting with / nor an absolute http or https URI"
	scheme, rest, ok := bytes.Cut(target, []byte("://"))
	if !ok || !bytes.EqualFold(scheme, []byte("http")) && !bytes.EqualFold(scheme, []byte("https")) {
		return notATarget
	}
	authority := rest
	if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if len(authority) == 0 {
		return "the request target is an http URI with no host"
	}
	if p := hostProblem(authority); p != "" {
		return "the request target's host: " + p
	}
	return ""
}

// framingProblem reads the raw request headers (as received) for what
// unambiguousFraming refuses; "" when there is none.
func framingProblem(h *fasthttp.RequestHeader) string {
	raw := h.RawHeaders()
	var length, host []byte
	lengths, hosts, codings := 0, 0, 0
	var coding []byte
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return "a header line folded onto the next (obsolete line folding) is not accepted"
		}
		name, value, _ := bytes.Cut(line, []byte{':'})
		// The value as fasthttp keeps it: without the spaces around it, but
		// with any tab (a Host of "\tx" is not x to its router).
		name, value = bytes.TrimSpace(name), bytes.Trim(value, " ")
		if !isToken(name) {
			return fmt.Sprintf("header name \"%s\" has a character a header name cannot have", apperr.Printable(string(name), 64))
		}
		// NUL and a bare CR are what RFC 9110 5.5 calls dangerous (another
		// hop may end the line there); other control characters are left
		// to the route that reads the header, which names it.
		if bytes.IndexByte(value, 0) >= 0 || bytes.IndexByte(value, '\r') >= 0 {
			return fmt.Sprintf("header %s has a NUL or CR character in its value", apperr.Printable(string(name), 64))
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if lengths > 0 && !bytes.Equal(value, length) {
				return "Content-Length is given more than once, with different values"
			}
			length, lengths = value, lengths+1
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			coding, codings = value, codings+1
		case bytes.EqualFold(name, []byte("Host")):
			host, hosts = value, hosts+1
		}
	}
	switch {
	case codings > 0 && lengths > 0:
		return "a request has Content-Length or Transfer-Encoding, not both"
	case codings > 0 && !h.IsHTTP11():
		return "an HTTP/1.0 request cannot have Transfer-Encoding; send Content-Length"
	case codings > 1 || codings == 1 && !bytes.EqualFold(coding, []byte("chunked")):
		return "Transfer-Encoding is accepted only as chunked, given once"
	case hosts == 0 && h.IsHTTP11() && !absoluteForm(h.RequestURI()):
		// With an absolute target the host is the target's (RFC 9112
		// 3.2.2), so there is no doubt which it is; Go's
		// httputil.DumpRequest (Fiber's app.Test) sends such a request
		// without Host.
		return "an HTTP/1.1 request must have a Host header"
	case hosts > 1:
		return "Host is given more than once; send it once"
	case hosts == 1:
		if p := hostProblem(host); p != "" {
			return "Host: " + p
		}
	}
	return ""
}

// absoluteForm reports whether a request target is an absolute URI
// (http://host/path) rather than a path.
func absoluteForm(target []byte) bool {
	return len(target) > 0 && target[0] != '/' && bytes.Contains(target, []byte("://"))
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
		if status == fiber.StatusUnauthorized {
			// RFC 9110 section 11.6.1 and RFC 6750 section 3: a 401 says
			// which scheme it wants.
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="finflow"`)
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
		// 431, not 400 (RFC 6585 §5): the client learns that shorter
		// headers (fewer cookies, a shorter token) would be taken.
		return apperr.New(apperr.KindHeadersTooLarge, apperr.CodeHeadersTooLarge,
			fmt.Sprintf("the request line and headers are larger than %d bytes", HeaderLimit))
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

// Serve is Run on an existing listener (tests listen on port 0).
func Serve(ctx context.Context, app *fiber.App, ln net.Listener, shutdownTimeout time.Duration) error {
	errc := make(chan error, 1)
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
