package tracectx_test

import (
	"context"
	"testing"

	"github.com/finflow/finflow/platform/tracectx"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true},
		{"", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", false},
	}
	for _, tc := range cases {
		if _, ok := tracectx.Parse(tc.in); ok != tc.ok {
			t.Errorf("Parse(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
}

func TestNewChildAndContext(t *testing.T) {
	p := tracectx.New()
	if _, ok := tracectx.Parse(p.String()); !ok {
		t.Fatalf("New() = %q does not parse", p)
	}
	c := p.Child()
	if c.TraceID != p.TraceID || c.SpanID == p.SpanID {
		t.Fatalf("Child() = %+v of %+v: same trace, new span expected", c, p)
	}
	if _, ok := tracectx.From(context.Background()); ok {
		t.Fatal("an empty context carries a trace")
	}
	if got, ok := tracectx.From(tracectx.With(context.Background(), p)); !ok || got != p {
		t.Fatalf("From(With(p)) = %+v %v", got, ok)
	}
}
