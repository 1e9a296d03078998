package sidecar_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
)

type counter struct {
	N      int   `json:"n"`
	Writes []int `json:"writes"`
}

// Racing writers of one document all land, each exactly once: the
// compare-and-swap rereads and reapplies after every conflict.
func TestUpdateUnderContention(t *testing.T) {
	st := sidecartest.NewMemState()
	ctx := context.Background()
	const writers = 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := sidecar.Update(ctx, st, "s", "doc", func(c *counter, _ bool) error {
				c.N++
				c.Writes = append(c.Writes, i)
				return nil
			})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := sidecar.Update(ctx, st, "s", "doc", func(*counter, bool) error { return sidecar.ErrNoChange })
	if err != nil || got.N != writers || len(got.Writes) != writers {
		t.Fatalf("after %d racing updates: %+v, %v", writers, got, err)
	}
}

// The change function decides: write (found says whether the document
// existed), write nothing (ErrNoChange: no error, the document as read),
// or fail (its error, nothing written).
func TestUpdateChangeOutcomes(t *testing.T) {
	st := sidecartest.NewMemState()
	ctx := context.Background()
	refused := errors.New("refused")
	cases := []struct {
		name      string
		change    func(*counter, bool) error
		wantErr   error
		wantN     int
		wantFound bool
	}{
		{"first write inserts", func(c *counter, found bool) error { c.N = 1; return nil }, nil, 1, false},
		{"found afterwards", func(c *counter, found bool) error { c.N++; return nil }, nil, 2, true},
		{"no change", func(c *counter, found bool) error { c.N = 99; return sidecar.ErrNoChange }, nil, 99, true},
		{"stored value kept after no change", func(c *counter, found bool) error { return sidecar.ErrNoChange }, nil, 2, true},
		{"refused", func(c *counter, found bool) error { c.N = 50; return refused }, refused, 0, true},
		{"nothing written by a refusal", func(c *counter, found bool) error { return sidecar.ErrNoChange }, nil, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sawFound bool
			got, err := sidecar.Update(ctx, st, "s", "doc", func(c *counter, found bool) error {
				sawFound = found
				return tc.change(c, found)
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || got.N != tc.wantN || sawFound != tc.wantFound {
				t.Fatalf("Update = %+v, %v (found %v); want n=%d, err %v, found %v", got, err, sawFound, tc.wantN, tc.wantErr, tc.wantFound)
			}
		})
	}
}

// A document that never stops conflicting ends with the caller's context.
func TestRetryConflictsEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tries := 0
	err := sidecar.RetryConflicts(ctx, func() error { tries++; return sidecar.ErrETagMismatch })
	if !errors.Is(err, context.DeadlineExceeded) || tries < 2 {
		t.Fatalf("RetryConflicts = %v after %d tries, want the deadline after several", err, tries)
	}
	other := errors.New("store down")
	if err := sidecar.RetryConflicts(context.Background(), func() error { return other }); !errors.Is(err, other) {
		t.Fatalf("a failure that is not a conflict = %v, want it returned at once", err)
	}
}
