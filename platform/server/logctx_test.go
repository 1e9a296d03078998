package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/tracectx"
)

// A line logged with a request's context carries its ids once, whether the
// logger is the base one or the request-scoped one that has them already.
func TestLogLinesCarryTheRequestsIDs(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(contextHandler{Handler: slog.NewJSONHandler(&buf, nil)})
	tp := tracectx.New()
	ctx := tracectx.WithRequestID(tracectx.With(context.Background(), tp), "req_abc")
	cases := []struct {
		name string
		log  func()
		want int // times each id appears
	}{
		{"base logger with the context", func() { base.InfoContext(ctx, "domain line") }, 1},
		{"request logger with the context", func() { base.With("request_id", "req_abc", "trace_id", tp.TraceID).InfoContext(ctx, "access line") }, 1},
		{"no context", func() { base.Info("background line") }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.log()
			line := buf.String()
			if n := strings.Count(line, `"request_id":"req_abc"`); n != tc.want {
				t.Fatalf("request_id %d times in %s, want %d", n, line, tc.want)
			}
			if n := strings.Count(line, `"trace_id":"`+tp.TraceID+`"`); n != tc.want {
				t.Fatalf("trace_id %d times in %s, want %d", n, line, tc.want)
			}
		})
	}
}
