// Package server builds FinFlow's Fiber apps the same way in every service:
// the contract's error envelope from one error handler, a 64 KiB body limit,
// read/write/idle timeouts, a request id on every response and log line,
// panic recovery, strict JSON decoding, and a graceful stop.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
		ReadBufferSize:        8 << 10, // also the request header limit
		CaseSensitive:         true,    // the contract's paths are exact: /Payment/pay
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
	app.Server().Handler = knownMethods(app.Server().Handler)
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
		status, body := apperr.HTTP(apperr.Invalid("method", "%q is not an HTTP method FinFlow serves", apperr.Printable(string(ctx.Method()), 100)))
		raw, err := json.Marshal(body)
		if err != nil {
			raw = []byte(`{"error":{"code":"VALIDATION_FAILED","message":"unknown HTTP method"}}`)
		}
		ctx.Response.Header.Set(HeaderRequestID, NewRequestID())
		ctx.SetContentType(fiber.MIMEApplicationJSON)
		ctx.SetStatusCode(status)
		ctx.SetBody(raw)
	}
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
		return apperr.Invalid("request", "malformed request: %s", fe.Message)
	}
	if fe.Code >= 500 {
		return fmt.Errorf("fiber: %w", fe)
	}
	return apperr.New(apperr.KindForStatus(fe.Code), apperr.CodeValidationFailed, fe.Message)
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
