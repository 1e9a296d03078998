package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrNoChange, returned by Update's change function, ends Update without
// writing anything (the document is already as it should be).
var ErrNoChange = errors.New("state: no change")

// Versioned is what Update needs of a state client (Client, or the
// in-memory sidecartest.MemState).
type Versioned interface {
	Get(ctx context.Context, store, key string) (Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// Update is FinFlow's one read-modify-write of a JSON document kept under
// one state key: it reads the document into a T (the zero T when there is
// none, and found false), lets change edit it, and writes it back only if
// the stored document is still the one read (by ETag; inserted if there
// was none), starting over after a jittered pause when another writer came
// first (RetryConflicts), until it succeeds or ctx ends. Given a Cache, the
// read may come from memory: then only a write is trusted, and a change
// that writes nothing (or fails) is decided again on a fresh read.
//
// change returns nil to write the document, ErrNoChange to leave it as it
// is (Update then returns it as read, and no error), or any other error to
// end Update with that error. It may run several times: it must decide
// from the document it is given, nothing else it changed before.
// Update returns the document as written.
func Update[T any](ctx context.Context, st Versioned, store, key string, change func(doc *T, found bool) error) (T, error) {
	var out T
	err := RetryConflicts(ctx, func() error {
		it, err := st.Get(ctx, store, key)
		if err != nil {
			return fmt.Errorf("reading %s: %w", key, err)
		}
		var doc T
		if it.Found() {
			if err := json.Unmarshal(it.Value, &doc); err != nil {
				return fmt.Errorf("decoding %s: %w", key, err)
			}
		}
		if err := change(&doc, it.Found()); err != nil {
			if it.Cached {
				// Decided on a copy from memory without writing: decide
				// again on the store's document.
				if f, ok := st.(Forgetter); ok {
					f.Forget(store, key)
				}
				return errStale
			}
			if errors.Is(err, ErrNoChange) {
				out = doc
				return nil
			}
			return err
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", key, err)
		}
		if it.Found() {
			err = st.Save(ctx, store, key, raw, it.ETag)
		} else {
			err = st.Insert(ctx, store, key, raw, 0)
		}
		if err == nil {
			out = doc
		}
		return err
	})
	return out, err
}

// RetryConflicts runs attempt until it returns anything but a write
// conflict (ErrETagMismatch or ErrExists: another writer came first),
// pausing a little longer, with jitter, before each new attempt, or until
// ctx ends (then ctx's error, wrapped). Update is built on it; a store whose
// read is not one Get (the wallet reads its document and a reference key
// in one bulk read) uses it directly.
func RetryConflicts(ctx context.Context, attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		if errors.Is(err, errStale) {
			n--
			continue
		}
		if !errors.Is(err, ErrETagMismatch) && !errors.Is(err, ErrExists) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d write conflicts)", ctx.Err(), n+1)
		case <-time.After(conflictPause(n)):
		}
	}
}

// conflictPause is how long to wait after the n-th conflict (from 0): a
// random 1 to 1+3·min(n,10) milliseconds, so racing writers spread out and
// a hot document is retried quickly.
func conflictPause(n int) time.Duration {
	return time.Duration(1+rand.IntN(1+min(n, 10)*3)) * time.Millisecond
}
