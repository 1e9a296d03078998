package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/tracectx"
)

// HeaderRequestID carries the request id from the gateway through the
// sidecars to every service, and back to the client.
const HeaderRequestID = tracectx.HeaderRequestID

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyLogger
	keyQuiet
	keyBaseLogger
)

// requestContext gives every request an id (the caller's, when it is a sane
// one, otherwise a new one), echoes it in the response, joins the caller's
// W3C trace (or starts one) and keeps it in the request's context for the
// calls the service makes, logs one access line per request and makes a
// request-scoped logger (with request_id and trace_id) available through
// Log.
func requestContext(base *slog.Logger, observe func(route, method string, status int, d time.Duration)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		rid := ensureRequestID(c)
		// The caller's trace (a sidecar passes it on), or a new one.
		tp, ok := tracectx.Parse(c.Get(tracectx.Header))
		if !ok {
			tp = tracectx.New()
		}
		c.SetUserContext(tracectx.WithRequestID(tracectx.With(c.UserContext(), tp), rid))
		c.Locals(keyBaseLogger, base)
		log := base.With("request_id", rid, "trace_id", tp.TraceID)
		c.Locals(keyLogger, log)
		err := c.Next()
		log, _ = c.Locals(keyLogger).(*slog.Logger) // a handler may have joined another trace (JoinTrace)
		if err != nil {
			// Let the error handler write the response now so the access
			// line below records the final status.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				log.Error("writing error response", "err", herr.Error())
			}
		}
		if observe != nil {
			route := c.Route().Path
			if c.Route().Method == "USE" {
				route = "unmatched" // no route: keep raw paths out of the labels
			}
			observe(route, c.Method(), c.Response().StatusCode(), time.Since(start))
		}
		level := slog.LevelInfo
		quiet, _ := c.Locals(keyQuiet).(bool)
		if p := c.Path(); p == "/healthz" || p == "/readyz" || quiet && c.Response().StatusCode() < 400 {
			level = slog.LevelDebug // probes and ticks every few seconds would drown the log
		}
		log.Log(c.UserContext(), level, "request",
			"method", c.Method(),
			"path", c.Path(),
			"status", c.Response().StatusCode(),
			"duration_ms", time.Since(start).Milliseconds(),
		)
		return nil
	}
}

// Quiet is a handler to put before a route's own that the sidecar calls
// every few seconds (a cron binding's tick): its access line is logged at
// debug level unless it answers 400 or more.
func Quiet(c *fiber.Ctx) error {
	c.Locals(keyQuiet, true)
	return c.Next()
}

// ensureRequestID returns the request's id, assigning one if it has none yet.
func ensureRequestID(c *fiber.Ctx) string {
	if rid, ok := c.Locals(keyRequestID).(string); ok {
		return rid
	}
	rid := c.Get(HeaderRequestID)
	if !validRequestID(rid) {
		rid = NewRequestID()
	}
	c.Locals(keyRequestID, rid)
	c.Set(HeaderRequestID, rid)
	return rid
}

// RequestID returns the id of the request c is serving.
func RequestID(c *fiber.Ctx) string { return ensureRequestID(c) }

// NewRequestID returns a fresh random request id.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// validRequestID accepts 1 to 128 characters from a safe set, so a client's
// id can be logged and forwarded without escaping.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Log returns the request-scoped logger (with request_id), or base when the
// request has none yet.
func Log(c *fiber.Ctx, base *slog.Logger) *slog.Logger {
	if l, ok := c.Locals(keyLogger).(*slog.Logger); ok {
		return l
	}
	return base.With("request_id", ensureRequestID(c))
}

// JoinTrace makes the request part of trace tp from here on: its context
// (for the calls it makes) and its log lines, the access line included. A
// handler uses it when the trace arrives inside the request rather than in
// its header (a pub/sub delivery's CloudEvent).
func JoinTrace(c *fiber.Ctx, tp tracectx.Parent) {
	c.SetUserContext(tracectx.With(c.UserContext(), tp))
	if base, ok := c.Locals(keyBaseLogger).(*slog.Logger); ok {
		c.Locals(keyLogger, base.With("request_id", ensureRequestID(c), "trace_id", tp.TraceID))
	}
}
