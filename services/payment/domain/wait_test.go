package domain

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A loop's interval is a runtime setting: shortened while the loop waits,
// it takes effect within intervalRecheck, not after the old interval; and
// a cancelled context ends the wait.
func TestWaitIntervalReadsTheSettingAgain(t *testing.T) {
	var ms atomic.Int64
	ms.Store(int64(time.Hour / time.Millisecond))
	interval := func() time.Duration { return time.Duration(ms.Load()) * time.Millisecond }
	done := make(chan bool, 1)
	go func() { done <- waitInterval(context.Background(), interval) }()
	time.Sleep(50 * time.Millisecond)
	ms.Store(10)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("waitInterval = false, want true")
		}
	case <-time.After(10 * intervalRecheck):
		t.Fatal("an interval shortened from an hour while waiting did not end the wait")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ms.Store(int64(time.Hour / time.Millisecond))
	go func() { done <- waitInterval(ctx, interval) }()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("waitInterval = true after cancel, want false")
		}
	case <-time.After(10 * intervalRecheck):
		t.Fatal("a cancelled context did not end the wait")
	}
}
