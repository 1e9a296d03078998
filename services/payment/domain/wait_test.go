package domain

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// changes stands in for settings.Settings.Changed: set stores a new
// interval and closes the channel handed out so far.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
	ms atomic.Int64
}

func newChanges(d time.Duration) *changes {
	c := &changes{ch: make(chan struct{})}
	c.ms.Store(int64(d / time.Millisecond))
	return c
}

func (c *changes) interval() time.Duration { return time.Duration(c.ms.Load()) * time.Millisecond }

func (c *changes) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

func (c *changes) set(d time.Duration) {
	c.ms.Store(int64(d / time.Millisecond))
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.ch)
	c.ch = make(chan struct{})
}

// A loop's interval is a runtime setting: shortened while the loop waits,
// it takes effect when the settings say they changed, not after the old
// interval; lengthened, the wait goes on; a change of another setting
// (the interval the same) leaves the wait as it was; a cancelled context
// ends the wait.
func TestWaitIntervalReadsTheSettingOnChange(t *testing.T) {
	tests := []struct {
		name   string
		then   time.Duration // the interval after the change
		ends   bool          // the wait ends soon after the change
		cancel bool
	}{
		{name: "shortened from an hour to 10 ms", then: 10 * time.Millisecond, ends: true},
		{name: "shortened to below the time already waited", then: time.Millisecond, ends: true},
		{name: "another setting changed", then: time.Hour},
		{name: "lengthened", then: 2 * time.Hour},
		{name: "cancelled", then: time.Hour, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChanges(time.Hour)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan bool, 1)
			go func() { done <- waitInterval(ctx, c.interval, c.changed) }()
			time.Sleep(20 * time.Millisecond)
			c.set(tt.then)
			if tt.cancel {
				cancel()
			}
			select {
			case ok := <-done:
				switch {
				case tt.cancel && ok:
					t.Fatal("waitInterval = true after cancel, want false")
				case !tt.cancel && !tt.ends:
					t.Fatalf("the wait ended (%v) though the interval is still %v", ok, tt.then)
				case tt.ends && !ok:
					t.Fatal("waitInterval = false, want true")
				}
			case <-time.After(wait(tt.ends || tt.cancel)):
				if tt.ends || tt.cancel {
					t.Fatal("the wait did not end after the change")
				}
			}
		})
	}
}

// wait is how long a case waits for the wait to end: long when it must
// (a slow machine is not a failure), short when it must not.
func wait(mustEnd bool) time.Duration {
	if mustEnd {
		return 10 * time.Second
	}
	return 300 * time.Millisecond
}

// Without a change signal the interval is read once, and the wait ends
// when it has passed.
func TestWaitIntervalWithoutChangeSignal(t *testing.T) {
	if !waitInterval(context.Background(), func() time.Duration { return 5 * time.Millisecond }, nil) {
		t.Fatal("waitInterval = false, want true")
	}
}
