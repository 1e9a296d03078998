package sidecar_test

import (
	"context"
	"sync"
	"testing"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
)

type use struct {
	Payment string `json:"payment"`
	Amount  int64  `json:"amount"`
}

// The first value bound to a key holds: a retry of it gets it back, another
// value gets the first, and of racing binders every one learns the one
// that won.
func TestBind(t *testing.T) {
	ctx := context.Background()
	st := sidecartest.NewMemState()
	first := use{Payment: "pay_a", Amount: 100}
	for _, tc := range []struct {
		name string
		bind use
	}{{"the first", first}, {"its retry", first}, {"another request", use{Payment: "pay_b", Amount: 100}}} {
		got, err := sidecar.Bind(ctx, st, "s", "key/k", tc.bind)
		if err != nil || got != first {
			t.Fatalf("%s: Bind = %+v, %v; want %+v", tc.name, got, err, first)
		}
	}
	var wg sync.WaitGroup
	won := make([]use, 16)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := sidecar.Bind(ctx, st, "s", "key/race", use{Payment: "pay_r", Amount: int64(i)})
			if err != nil {
				t.Error(err)
			}
			won[i] = got
		}()
	}
	wg.Wait()
	for _, w := range won {
		if w != won[0] {
			t.Fatalf("racing binders learned %+v and %+v", won[0], w)
		}
	}
}
