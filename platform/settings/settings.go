// Package settings holds a service's runtime settings: whole-number values
// read from the Dapr configuration store and watched for changes, so an
// operator can change them without a restart.
//
// Every setting is declared with a default and bounds. A value missing from
// the store keeps the default; a value that is not a whole number or is out
// of bounds is ignored with a warning and the last good value stays.
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

// Settings is a set of declared settings and their current values. It is
// safe for concurrent use; reads are one atomic load.
type Settings struct {
	log     *slog.Logger
	entries map[string]*entry
}

type entry struct {
	decl  Int
	value atomic.Int64
}

// New returns Settings holding the defaults of decls.
func New(log *slog.Logger, decls ...Int) *Settings {
	s := &Settings{log: log, entries: make(map[string]*entry, len(decls))}
	for _, d := range decls {
		e := &entry{decl: d}
		e.value.Store(d.Default)
		s.entries[d.Key] = e
	}
	return s
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
	keys := make([]string, 0, len(s.entries))
	for k := range s.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Apply takes new raw values (as the configuration store holds them) and
// updates the declared settings they name.
func (s *Settings) Apply(values map[string]string) {
	for k, raw := range values {
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
func (s *Settings) Snapshot() map[string]int64 {
	out := make(map[string]int64, len(s.entries))
	for k, e := range s.entries {
		out[k] = e.value.Load()
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
