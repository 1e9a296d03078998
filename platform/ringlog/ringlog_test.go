package ringlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/finflow/finflow/platform/sidecar/sidecartest"
)

func TestLogKeepsNewestFirstAndCaps(t *testing.T) {
	cases := []struct {
		name    string
		batches [][]int
		max     int
		want    []int
	}{
		{"one batch", [][]int{{1, 2, 3}}, 10, []int{3, 2, 1}},
		{"batches append newest first", [][]int{{1, 2}, {3}}, 10, []int{3, 2, 1}},
		{"capped at max", [][]int{{1, 2, 3}, {4, 5}}, 3, []int{5, 4, 3}},
		{"nothing written", nil, 3, []int{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := New(sidecartest.NewMemState(), "s", "log", tc.max, slog.New(slog.NewTextHandler(io.Discard, nil)))
			for _, b := range tc.batches {
				for _, v := range b {
					l.Add(v)
				}
				l.Flush(ctx)
			}
			raw, err := l.Entries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := []int{}
			for _, r := range raw {
				var v int
				if err := json.Unmarshal(r, &v); err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("entries = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("entries = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestAddNeverBlocks(t *testing.T) {
	l := New(sidecartest.NewMemState(), "s", "log", 5, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < queueSize+10; i++ {
		l.Add(i)
	}
	if got := l.dropped.Load(); got != 10 {
		t.Fatalf("dropped = %d, want 10", got)
	}
}
