package server

import (
	"context"
	"log/slog"

	"github.com/finflow/finflow/platform/tracectx"
)

// contextHandler adds the request id and trace id of the context to every
// line logged with one (slog's *Context methods), unless the logger was
// made with them already (the request-scoped logger of Log). So a domain
// use case that logs with its request's context is found by the same ids
// as the request's access line.
type contextHandler struct {
	slog.Handler
	hasIDs bool
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.hasIDs && ctx != nil {
		if rid, ok := tracectx.RequestID(ctx); ok {
			r.AddAttrs(slog.String("request_id", rid))
		}
		if tp, ok := tracectx.From(ctx); ok {
			r.AddAttrs(slog.String("trace_id", tp.TraceID))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := h.hasIDs
	for _, a := range attrs {
		if a.Key == "request_id" || a.Key == "trace_id" {
			has = true
		}
	}
	return contextHandler{Handler: h.Handler.WithAttrs(attrs), hasIDs: has}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{Handler: h.Handler.WithGroup(name), hasIDs: h.hasIDs}
}
