// Package envconfig loads a service's start-up settings from the environment
// and fails fast, naming every missing or malformed variable at once.
//
//	env := envconfig.New()
//	port := env.Int("APP_PORT", 8081)
//	store := env.String("STATE_STORE", "user-store")
//	if err := env.Err(); err != nil { ... }
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env reads variables and collects the problems it finds.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New returns an Env that reads the process environment.
func New() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap returns an Env that reads m; for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// String returns the variable's value, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.lookup(name); ok && v != "" {
		return v
	}
	return def
}

// Required returns the variable's value and records an error when it is unset
// or empty.
func (e *Env) Required(name string) string {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		e.errs = append(e.errs, fmt.Errorf("%s is required", name))
	}
	return v
}

// Int returns the variable as an int, or def when unset. A value that is not
// a whole number is recorded as an error.
func (e *Env) Int(name string, def int) int {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a whole number", name, v))
		return def
	}
	return n
}

// Duration returns the variable as a time.Duration (for example "5s"), or
// def when unset.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration (like 5s): %v", name, v, err))
		return def
	}
	return d
}

// Bool returns the variable as a bool ("true", "1", "false", "0"), or def.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not true or false", name, v))
		return def
	}
	return b
}

// Err returns every problem found so far, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}
