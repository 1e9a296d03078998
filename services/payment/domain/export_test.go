package domain

import "time"

// WaitIdle waits until no gateway work runs in this process (Kick's
// goroutines, their tails included, and the runs asked for while they
// ran: a payment stays in flight until its last run ends), for tests that
// move a fake clock or change the processor after work they started: what
// runs in the background must not race them. It fails the wait after 10 s.
func (pr *Processor) WaitIdle() bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pr.work.mu.Lock()
		n := len(pr.work.inflight)
		pr.work.mu.Unlock()
		if n == 0 {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// Timers returns when the timers armed for payment id's gateway work
// (kickAt) fire.
func (pr *Processor) Timers(id string) []time.Time {
	pr.work.mu.Lock()
	defer pr.work.mu.Unlock()
	return append([]time.Time(nil), pr.work.timers[id]...)
}
