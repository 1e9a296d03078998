package sidecar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
)

// newCached returns a store that counts the reads reaching it
// (MemState.Count) and a Cache in front of it.
func newCached(t *testing.T) (*sidecartest.MemState, sidecar.Versioned) {
	t.Helper()
	st := sidecartest.NewMemState()
	c := sidecar.NewCache(st, "s", "memory", 16)
	if _, ok := c.(*sidecar.Cache); !ok {
		t.Fatalf("NewCache(memory) = %T, want a *sidecar.Cache", c)
	}
	return st, c
}

// A document this process inserted or wrote last is changed with one
// round trip: the write, from the copy in memory.
func TestCacheSkipsTheReadOfItsOwnWrites(t *testing.T) {
	ctx := context.Background()
	st, c := newCached(t)
	if err := c.Insert(ctx, "s", "doc", []byte(`{"n":1}`), 0); err != nil {
		t.Fatal(err)
	}
	for want := 2; want <= 4; want++ {
		got, err := sidecar.Update(ctx, c, "s", "doc", func(x *counter, _ bool) error { x.N++; return nil })
		if err != nil || got.N != want {
			t.Fatalf("Update = %+v, %v; want n=%d", got, err, want)
		}
	}
	if n, _ := st.Count(""); n != 0 {
		t.Fatalf("%d reads reached the store; want 0", n)
	}
	it, _ := st.Get(ctx, "s", "doc")
	if string(it.Value) != `{"n":4,"writes":null}` || it.ETag != "4" {
		t.Fatalf("stored %s at version %s; want n=4 at version 4", it.Value, it.ETag)
	}
}

// Another writer (another process) changing the document behind the
// cache's back loses nothing: the stale write is refused and redone on a
// fresh read.
func TestCacheStaleCopyIsRefusedAndRedone(t *testing.T) {
	ctx := context.Background()
	st, c := newCached(t)
	if err := c.Insert(ctx, "s", "doc", []byte(`{"n":1}`), 0); err != nil {
		t.Fatal(err)
	}
	// Elsewhere: n becomes 10.
	if err := st.Save(ctx, "s", "doc", []byte(`{"n":10}`), "1"); err != nil {
		t.Fatal(err)
	}
	got, err := sidecar.Update(ctx, c, "s", "doc", func(x *counter, _ bool) error { x.N++; return nil })
	if err != nil || got.N != 11 {
		t.Fatalf("Update after another writer = %+v, %v; want n=11", got, err)
	}
}

// A decision that writes nothing (or fails) is never taken on a copy from
// memory: it is taken again on the store's document.
func TestCacheDecidesAgainOnAFreshRead(t *testing.T) {
	ctx := context.Background()
	refused := errors.New("refused")
	for _, tc := range []struct {
		name    string
		outcome error
	}{
		{"no change", sidecar.ErrNoChange},
		{"refused", refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, c := newCached(t)
			if err := c.Insert(ctx, "s", "doc", []byte(`{"n":1}`), 0); err != nil {
				t.Fatal(err)
			}
			if err := st.Save(ctx, "s", "doc", []byte(`{"n":7}`), "1"); err != nil {
				t.Fatal(err)
			}
			var seen []int
			got, err := sidecar.Update(ctx, c, "s", "doc", func(x *counter, _ bool) error {
				seen = append(seen, x.N)
				if x.N == 1 {
					return tc.outcome // would be wrong: n is 7 in the store
				}
				return sidecar.ErrNoChange
			})
			if err != nil || got.N != 7 || len(seen) != 2 || seen[1] != 7 {
				t.Fatalf("Update = %+v, %v, saw %v; want the decision retaken on n=7", got, err, seen)
			}
		})
	}
}

// Stores whose ETags are not versions FinFlow can predict get no cache.
func TestCacheOnlyForKnownVersions(t *testing.T) {
	st := sidecartest.NewMemState()
	for _, tc := range []struct {
		typ    string
		cached bool
	}{
		{"state.redis", true},
		{"memory", true},
		{"state.postgresql", false},
		{"state.mongodb", false},
	} {
		_, ok := sidecar.NewCache(st, "s", tc.typ, 8).(*sidecar.Cache)
		if ok != tc.cached {
			t.Errorf("NewCache(%s) cached = %v, want %v", tc.typ, ok, tc.cached)
		}
	}
}

// Eviction keeps at most size copies and never loses a write.
func TestCacheEviction(t *testing.T) {
	ctx := context.Background()
	st := sidecartest.NewMemState()
	c := sidecar.NewCache(st, "s", "memory", 2)
	for _, key := range []string{"a", "b", "c", "a"} {
		if _, err := sidecar.Update(ctx, c, "s", key, func(x *counter, _ bool) error { x.N++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	it, _ := st.Get(ctx, "s", "a")
	if string(it.Value) != `{"n":2,"writes":null}` {
		t.Fatalf("a = %s, want n=2", it.Value)
	}
	// a was written last, c before it; b was used least recently.
	cache := c.(*sidecar.Cache)
	for key, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if _, ok := cache.Lookup(key); ok != want {
			t.Errorf("after a, b, c, a with room for 2: copy of %s kept = %v, want %v", key, ok, want)
		}
	}
}

// The copy used least recently is the one dropped: a copy a compare-and-swap
// started from just now outlives one nobody has asked for.
func TestCacheDropsTheLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	st := sidecartest.NewMemState()
	c := sidecar.NewCache(st, "s", "memory", 2).(*sidecar.Cache)
	for _, key := range []string{"a", "b"} {
		if err := c.Insert(ctx, "s", key, []byte(`{}`), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Lookup("a"); !ok {
		t.Fatal("copy of a missing before the cache was full")
	}
	if err := c.Insert(ctx, "s", "c", []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if _, ok := c.Lookup(key); ok != want {
			t.Errorf("copy of %s kept = %v, want %v", key, ok, want)
		}
	}
}
