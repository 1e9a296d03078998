// Package peerstest holds stand-ins for the services that FinFlow's
// services ask through package peers, for unit tests of one service.
package peerstest

import (
	"context"
	"sync"
)

// Directory stands in for the user service as a peers.UserDirectory: every
// user exists but those in Gone, and Err, when set, is its answer to every
// question. The zero value knows every user. Safe for concurrent use.
type Directory struct {
	Gone map[string]bool
	Err  error

	mu    sync.Mutex
	asked int
}

// Exists answers as the user service would: whether userID is known, or
// Err.
func (d *Directory) Exists(_ context.Context, userID string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked++
	if d.Err != nil {
		return false, d.Err
	}
	return !d.Gone[userID], nil
}

// Asked is how many questions Exists has answered.
func (d *Directory) Asked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked
}
