// Package sidecartest is an in-memory stand-in for the sidecar's state API
// with the Dapr Redis store's rules, for fast unit tests of stores. The
// claim that a store works is made by its contract suite against a real
// sidecar and Redis, never by this.
package sidecartest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/finflow/finflow/platform/sidecar"
)

// MemState is an in-memory sidecar state with the Redis store's rules: an
// ETag must match an existing key's version, Insert succeeds only when the
// key is absent, and a key made by Insert can later be saved only with its
// ETag.
type MemState struct {
	mu       sync.Mutex
	items    map[string]memItem
	failPref string
	failLeft int
	reads    map[string]int // by key: how many times a read named it
	writes   map[string]int // by key: how many times a write named it
	trips    int            // calls served, a bulk call once
	slowPref string
	slowFor  time.Duration
}

type memItem struct {
	value      []byte
	version    int
	firstWrite bool // made by Insert: later writes need the ETag, as in Redis
}

// NewMemState returns an empty MemState.
func NewMemState() *MemState {
	return &MemState{items: map[string]memItem{}, failLeft: -1, reads: map[string]int{}, writes: map[string]int{}}
}

// Count returns how many times reads (Get, and BulkGet once per key) and
// writes (Save, Insert, Delete, and InsertAll and SaveBulk once per key),
// refused ones included, named a key starting with prefix, in any store.
// It tells a test how many round trips a use case makes to which keys.
func (m *MemState) Count(prefix string) (reads, writes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, n := range m.reads {
		if strings.HasPrefix(key, prefix) {
			reads += n
		}
	}
	for key, n := range m.writes {
		if strings.HasPrefix(key, prefix) {
			writes += n
		}
	}
	return reads, writes
}

// RoundTrips returns how many calls the state has served, refused ones
// included, each bulk call (BulkGet, SaveBulk, InsertAll) once: the round
// trips to the sidecar a use case would make.
func (m *MemState) RoundTrips() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.trips
}

// SlowWrites makes every write call that names a key with prefix take d
// before it is applied, as a round trip to the sidecar does, so that
// callers that come meanwhile overlap it; d = 0 turns it off.
func (m *MemState) SlowWrites(prefix string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.slowPref, m.slowFor = prefix, d
}

// trip counts one call and, for a write that SlowWrites names, waits
// before it is applied (without holding the lock).
func (m *MemState) trip(write bool, keys ...string) {
	m.mu.Lock()
	m.trips++
	pref, d := m.slowPref, m.slowFor
	m.mu.Unlock()
	if !write || d == 0 {
		return
	}
	for _, key := range keys {
		if strings.HasPrefix(key, pref) {
			time.Sleep(d)
			return
		}
	}
}

// keysOf returns the keys of items.
func keysOf(items []sidecar.Item) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	return keys
}

// FailAfter makes writes to keys with prefix fail after n more succeed;
// n < 0 turns failures off.
func (m *MemState) FailAfter(prefix string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failPref, m.failLeft = prefix, n
}

// failWrite counts a write of key and reports the failure injected into
// it, if any.
func (m *MemState) failWrite(key string) error {
	m.writes[key]++
	if m.failLeft < 0 || !strings.HasPrefix(key, m.failPref) {
		return nil
	}
	if m.failLeft == 0 {
		return fmt.Errorf("%w: injected failure writing %s", sidecar.ErrSidecar, key)
	}
	m.failLeft--
	return nil
}

func k(store, key string) string { return store + "||" + key }

// Get implements store.State.
func (m *MemState) Get(_ context.Context, st, key string) (sidecar.Item, error) {
	m.trip(false)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(st, key), nil
}

// get reads key under m.mu.
func (m *MemState) get(st, key string) sidecar.Item {
	m.reads[key]++
	it, ok := m.items[k(st, key)]
	if !ok {
		return sidecar.Item{Key: key}
	}
	return sidecar.Item{Key: key, Value: it.value, ETag: fmt.Sprint(it.version)}
}

// BulkGet implements store.State.
func (m *MemState) BulkGet(_ context.Context, st string, keys []string) ([]sidecar.Item, error) {
	m.trip(false)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sidecar.Item, len(keys))
	for i, key := range keys {
		out[i] = m.get(st, key)
	}
	return out, nil
}

// Save implements store.State.
func (m *MemState) Save(_ context.Context, st, key string, value []byte, etag string) error {
	m.trip(true, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.save(st, key, value, etag)
}

// save writes key under m.mu.
func (m *MemState) save(st, key string, value []byte, etag string) error {
	if err := m.failWrite(key); err != nil {
		return err
	}
	it, ok := m.items[k(st, key)]
	if ok && it.firstWrite && etag == "" {
		return fmt.Errorf("%w: failed to set key %s (first-write key saved without its ETag)", sidecar.ErrSidecar, key)
	}
	if ok && etag != "" && etag != fmt.Sprint(it.version) {
		return sidecar.ErrETagMismatch
	}
	m.items[k(st, key)] = memItem{value: append([]byte(nil), value...), version: it.version + 1, firstWrite: it.firstWrite}
	return nil
}

// SaveBulk implements the sidecar's SaveBulk.
func (m *MemState) SaveBulk(_ context.Context, st string, items []sidecar.Item) error {
	m.trip(true, keysOf(items)...)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range items {
		if err := m.save(st, it.Key, it.Value, ""); err != nil {
			return err
		}
	}
	return nil
}

// Insert implements store.State.
func (m *MemState) Insert(_ context.Context, st, key string, value []byte, _ int) error {
	m.trip(true, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failWrite(key); err != nil {
		return err
	}
	if _, ok := m.items[k(st, key)]; ok {
		return sidecar.ErrExists
	}
	m.items[k(st, key)] = memItem{value: append([]byte(nil), value...), version: 1, firstWrite: true}
	return nil
}

// InsertAll implements the sidecar's InsertAll as Redis does it: every
// item inserted if absent, none undone when another is refused, and a
// refusal reported as a plain sidecar failure.
func (m *MemState) InsertAll(_ context.Context, st string, items []sidecar.Item) error {
	m.trip(true, keysOf(items)...)
	m.mu.Lock()
	defer m.mu.Unlock()
	var refused error
	for _, it := range items {
		err := m.failWrite(it.Key)
		if err == nil {
			if _, ok := m.items[k(st, it.Key)]; ok {
				err = fmt.Errorf("%w: insert all: failed to set key %s", sidecar.ErrSidecar, it.Key)
			} else {
				m.items[k(st, it.Key)] = memItem{value: append([]byte(nil), it.Value...), version: 1}
			}
		}
		if err != nil && refused == nil {
			refused = err
		}
	}
	return refused
}

// Delete implements the sidecar's Delete.
func (m *MemState) Delete(_ context.Context, st, key, etag string) error {
	m.trip(true, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failWrite(key); err != nil {
		return err
	}
	it, ok := m.items[k(st, key)]
	if !ok {
		return nil
	}
	if etag != "" && etag != fmt.Sprint(it.version) {
		return sidecar.ErrETagMismatch
	}
	delete(m.items, k(st, key))
	return nil
}

// SaveTTL implements the sidecar's SaveTTL (the TTL is ignored).
func (m *MemState) SaveTTL(ctx context.Context, st, key string, value []byte, etag string, _ int) error {
	return m.Save(ctx, st, key, value, etag)
}
