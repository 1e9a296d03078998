// Package settings holds a service's runtime settings: whole numbers and
// strings read from the Dapr configuration store and watched for changes,
// so an operator can change them without a restart.
//
// Every setting is declared with a default (and, for numbers, bounds). A
// key the store does not hold (never set, or deleted) gives the default, so
// a running service and one started afresh agree; a value that is not valid
// is ignored with a warning and the last good value stays.
//
// A loop that waits between rounds takes Changed before it reads the
// settings it waits on, and waits on it as well, so a change applies at
// once instead of after the wait it started with.
package settings

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Int declares one whole-number setting.
type Int struct {
	Key      string
	Default  int64
	Min, Max int64
}

// String declares one text setting. Valid, when set, accepts or refuses a
// value.
type String struct {
	Key     string
	Default string
	Valid   func(string) bool
}

// Settings is a set of declared settings and their current values. It is
// safe for concurrent use; reads are one atomic load.
type Settings struct {
	log     *slog.Logger
	entries map[string]*entry
	strs    map[string]*strEntry
	// changed is closed, and replaced, by every Apply that changes a value.
	changed atomic.Pointer[chan struct{}]
	// mu serialises Apply; raw is the last raw value Apply took per key, so
	// a store read again (every re-subscription, every resync) neither
	// logs nor warns about what it already said.
	mu  sync.Mutex
	raw map[string]string
}

type strEntry struct {
	decl  String
	value atomic.Pointer[string]
}

type entry struct {
	decl  Int
	value atomic.Int64
}

// New returns Settings holding the defaults of decls.
func New(log *slog.Logger, decls ...Int) *Settings {
	s := &Settings{log: log, entries: make(map[string]*entry, len(decls)), strs: map[string]*strEntry{}, raw: map[string]string{}}
	ch := make(chan struct{})
	s.changed.Store(&ch)
	for _, d := range decls {
		e := &entry{decl: d}
		e.value.Store(d.Default)
		s.entries[d.Key] = e
	}
	return s
}

// WithStrings declares text settings as well, and returns s.
func (s *Settings) WithStrings(decls ...String) *Settings {
	for _, d := range decls {
		e := &strEntry{decl: d}
		v := d.Default
		e.value.Store(&v)
		s.strs[d.Key] = e
	}
	return s
}

// Text returns the current value of a text setting. Asking for an
// undeclared key is a programming error and panics.
func (s *Settings) Text(key string) string {
	e, ok := s.strs[key]
	if !ok {
		panic("settings: undeclared key " + key)
	}
	return *e.value.Load()
}

// Get returns the current value of key. Asking for an undeclared key is a
// programming error and panics.
func (s *Settings) Get(key string) int64 {
	e, ok := s.entries[key]
	if !ok {
		panic("settings: undeclared key " + key)
	}
	return e.value.Load()
}

// Keys returns the declared keys, sorted.
func (s *Settings) Keys() []string {
	keys := make([]string, 0, len(s.entries)+len(s.strs))
	for k := range s.entries {
		keys = append(keys, k)
	}
	for k := range s.strs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Apply takes new raw values (as the configuration store holds them) and
// updates the declared settings they name. An empty value means the store
// holds no value for the key (the key was deleted, or a full read did not
// find it): the setting goes back to its declared default. A value Apply
// already took for that key is skipped without a word, so the store can be
// read again as often as needed.
func (s *Settings) Apply(values map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for k, raw := range values {
		se, isText := s.strs[k]
		e, isInt := s.entries[k]
		if !isText && !isInt {
			continue
		}
		if last, seen := s.raw[k]; seen && last == raw {
			continue
		}
		s.raw[k] = raw
		v := strings.TrimSpace(raw)
		switch {
		case isText && v == "":
			if old := se.value.Swap(&se.decl.Default); *old != se.decl.Default {
				s.log.Info("runtime setting not in the store; back to its default", "key", k, "from", *old, "to", se.decl.Default)
				changed = true
			}
		case isText:
			if se.decl.Valid != nil && !se.decl.Valid(v) {
				s.log.Warn("ignoring invalid runtime setting", "key", k, "value", raw, "keeping", *se.value.Load())
				continue
			}
			if old := se.value.Swap(&v); *old != v {
				s.log.Info("runtime setting changed", "key", k, "from", *old, "to", v)
				changed = true
			}
		case v == "":
			if old := e.value.Swap(e.decl.Default); old != e.decl.Default {
				s.log.Info("runtime setting not in the store; back to its default", "key", k, "from", old, "to", e.decl.Default)
				changed = true
			}
		default:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < e.decl.Min || n > e.decl.Max {
				s.log.Warn("ignoring invalid runtime setting", "key", k, "value", raw,
					"min", e.decl.Min, "max", e.decl.Max, "keeping", e.value.Load())
				continue
			}
			if old := e.value.Swap(n); old != n {
				s.log.Info("runtime setting changed", "key", k, "from", old, "to", n)
				changed = true
			}
		}
	}
	if changed {
		next := make(chan struct{})
		close(*s.changed.Swap(&next))
	}
}

// Changed returns a channel that is closed when Apply next changes the value
// of any setting (a value applied again, or refused, closes nothing). Every
// change closes the channel handed out so far and starts a new one, so take
// Changed before reading the settings a wait depends on:
//
//	for {
//		changed := set.Changed()
//		select {
//		case <-time.After(time.Duration(set.Get(key)) * time.Millisecond):
//			work()
//		case <-changed: // the interval changed: wait again with the new one
//		case <-ctx.Done():
//			return
//		}
//	}
func (s *Settings) Changed() <-chan struct{} {
	return *s.changed.Load()
}

// Snapshot returns every declared setting's current value.
func (s *Settings) Snapshot() map[string]any {
	out := make(map[string]any, len(s.entries)+len(s.strs))
	for k, e := range s.entries {
		out[k] = e.value.Load()
	}
	for k, e := range s.strs {
		out[k] = *e.value.Load()
	}
	return out
}

// Watcher is what Watch needs from the sidecar client. WatchConfig calls
// apply with every change to keys, and with all of keys whenever it reads
// them afresh, a key the store does not hold given as "".
type Watcher interface {
	WatchConfig(ctx context.Context, store string, keys []string, log *slog.Logger, apply func(map[string]string))
}

// Watch keeps s up to date with the configuration store until ctx is done.
// It returns at once; the watch runs in the background.
func (s *Settings) Watch(ctx context.Context, w Watcher, store string) {
	go w.WatchConfig(ctx, store, s.Keys(), s.log, s.Apply)
}
