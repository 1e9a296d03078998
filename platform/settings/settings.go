// Package settings holds a service's runtime settings: whole numbers and
// strings read from the Dapr configuration store and watched for changes,
// so an operator can change them without a restart.
//
// Every setting is declared with a default (and, for numbers, bounds). A
// value missing from the store keeps the default; a value that is not valid
// is ignored with a warning and the last good value stays.
package settings

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
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
	s := &Settings{log: log, entries: make(map[string]*entry, len(decls)), strs: map[string]*strEntry{}}
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
// updates the declared settings they name.
func (s *Settings) Apply(values map[string]string) {
	for k, raw := range values {
		if se, ok := s.strs[k]; ok {
			v := strings.TrimSpace(raw)
			if se.decl.Valid != nil && !se.decl.Valid(v) {
				s.log.Warn("ignoring invalid runtime setting", "key", k, "value", raw, "keeping", *se.value.Load())
				continue
			}
			if old := se.value.Swap(&v); *old != v {
				s.log.Info("runtime setting changed", "key", k, "from", *old, "to", v)
			}
			continue
		}
		e, ok := s.entries[k]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil || v < e.decl.Min || v > e.decl.Max {
			s.log.Warn("ignoring invalid runtime setting", "key", k, "value", raw,
				"min", e.decl.Min, "max", e.decl.Max, "keeping", e.value.Load())
			continue
		}
		if old := e.value.Swap(v); old != v {
			s.log.Info("runtime setting changed", "key", k, "from", old, "to", v)
		}
	}
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

// Watcher is what Watch needs from the sidecar client.
type Watcher interface {
	WatchConfig(ctx context.Context, store string, keys []string, log *slog.Logger, apply func(map[string]string))
}

// Watch keeps s up to date with the configuration store until ctx is done.
// It returns at once; the watch runs in the background.
func (s *Settings) Watch(ctx context.Context, w Watcher, store string) {
	go w.WatchConfig(ctx, store, s.Keys(), s.log, s.Apply)
}
