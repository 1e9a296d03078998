package harness

import (
	"testing"
	"time"
)

// ClockMark is one moment read from both of the machine's clocks: the wall
// clock, which FinFlow stores and compares across processes (a payment's
// created_at, a retry's due time, a Razorpay order's lifetime), and the
// monotonic clock, which a test's own waits run on. A machine paused and
// resumed (a virtual machine's snapshot or migration) or an NTP step moves
// the first and not the second, and every deadline FinFlow keeps in wall
// time then passes early by the step.
type ClockMark struct{ at time.Time }

// MarkClock reads both clocks now.
func MarkClock() ClockMark { return ClockMark{at: time.Now()} }

// Stepped returns how far the wall clock has moved beyond the monotonic
// clock since m: zero on a machine that ran on undisturbed, positive when
// the wall clock stepped ahead, negative when it stepped back.
func (m ClockMark) Stepped() time.Duration {
	now := time.Now()
	wall := now.Round(0).Sub(m.at.Round(0)) // Round(0) drops the monotonic reading
	return wall - now.Sub(m.at)
}

// clockStepTolerance is the step below which the clocks are taken to agree
// (a small NTP slew, the granularity of the readings).
const clockStepTolerance = time.Second

// UnlessClockStepped runs try, a case whose claim holds only while none of
// FinFlow's wall-clock deadlines passes early (a payment left without an
// order must not expire while the case runs, say); try returns what went
// wrong, or "" when the claim held. When it went wrong and the wall clock
// stepped more than a second while it ran, the premise failed, not
// FinFlow: the step is logged and the case runs once more, from the start.
// Otherwise, and on a second failure, the test fails with what try said.
func UnlessClockStepped(t *testing.T, try func() string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		mark := MarkClock()
		failed := try()
		if failed == "" {
			return
		}
		step := mark.Stepped()
		if attempt == 1 && step.Abs() > clockStepTolerance {
			t.Logf("the machine's wall clock stepped %s against its monotonic clock while the case ran, so FinFlow's deadlines moved with it; running the case once more. It said: %s", step, failed)
			continue
		}
		t.Fatal(failed)
	}
}
