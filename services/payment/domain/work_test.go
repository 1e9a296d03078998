package domain

import (
	"context"
	"testing"
	"time"
)

// The runs of one payment's gateway work (work.loop): Kicks during a run
// make one run more, however many came, and so do Kicks during the tail
// (kickLater); the tail follows only a run no Kick asked to follow; once
// ctx ends no run asked for is started; and the payment is out of flight
// after its last run.
func TestWorkLoopRunsOnceMoreWhenKicked(t *testing.T) {
	cases := []struct {
		name        string
		duringRun   int  // Kicks while the first run runs
		duringTail  int  // Kicks while the first tail runs
		cancel      bool // ctx ends during the first run
		runs, tails int
	}{
		{name: "no Kick", runs: 1, tails: 1},
		{name: "one Kick during the run", duringRun: 1, runs: 2, tails: 1},
		{name: "five Kicks during the run", duringRun: 5, runs: 2, tails: 1},
		{name: "a Kick during the tail", duringTail: 1, runs: 2, tails: 2},
		{name: "Kicks during the run, then during the tail of the run they asked for", duringRun: 3, duringTail: 3, runs: 3, tails: 2},
		{name: "ctx ended during the run", duringRun: 3, cancel: true, runs: 1, tails: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const id = "pay_1"
			var w work
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inRun, letRun := make(chan struct{}), make(chan struct{})
			runs, tails := 0, 0 // the loop's goroutine only, read after it ends
			run := func(context.Context) {
				runs++
				if runs == 1 {
					close(inRun)
					<-letRun
				}
			}
			tail := func(context.Context) {
				tails++
				if tails == 1 {
					for range tc.duringTail {
						w.claim(id, true)
					}
				}
			}
			if !w.claim(id, true) {
				t.Fatal("claim of an idle payment = false")
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.loop(ctx, id, make(chan struct{}, 1), run, tail)
			}()
			<-inRun
			for range tc.duringRun {
				if w.claim(id, true) {
					t.Fatal("claim during a run = true: a second goroutine for one payment")
				}
			}
			if tc.cancel {
				cancel()
			}
			close(letRun)
			<-done
			if runs != tc.runs || tails != tc.tails {
				t.Fatalf("runs, tails = %d, %d; want %d, %d", runs, tails, tc.runs, tc.tails)
			}
			if !w.claim(id, false) {
				t.Fatal("the payment is still in flight after its last run")
			}
		})
	}
}

// Reconciliation's claim (ask false) of a payment whose work runs asks for
// no run more: the next round comes for it.
func TestWorkClaimWithoutAsking(t *testing.T) {
	var w work
	if !w.claim("pay_1", true) {
		t.Fatal("claim of an idle payment = false")
	}
	if w.claim("pay_1", false) {
		t.Fatal("claim(false) of a running payment = true")
	}
	if w.finish("pay_1") {
		t.Fatal("finish = true: a run asked for by a claim that did not ask")
	}
}

// The timers of a payment's work (kickAt, kickLater): one time is armed
// once, and kickLater arms none when a timer fires by its time (the try's
// retryLater armed it): two timers at once would make two runs where one
// is due.
func TestWorkTimers(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		armed      []time.Time
		disarmed   []time.Time
		arm        time.Time
		wantArm    bool
		wantArmdBy bool // armedBy(arm) before arm
	}{
		{name: "nothing armed", arm: at, wantArm: true},
		{name: "the same time armed", armed: []time.Time{at}, arm: at, wantArm: false, wantArmdBy: true},
		{name: "an earlier time armed", armed: []time.Time{at.Add(-time.Second)}, arm: at, wantArm: true, wantArmdBy: true},
		{name: "a later time armed", armed: []time.Time{at.Add(time.Second)}, arm: at, wantArm: true},
		{name: "the same time fired", armed: []time.Time{at}, disarmed: []time.Time{at}, arm: at, wantArm: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w work
			for _, a := range tc.armed {
				w.arm("pay_1", a)
			}
			for _, d := range tc.disarmed {
				w.disarm("pay_1", d)
			}
			if got := w.armedBy("pay_1", tc.arm); got != tc.wantArmdBy {
				t.Fatalf("armedBy(%v) = %v, want %v", tc.arm, got, tc.wantArmdBy)
			}
			if got := w.arm("pay_1", tc.arm); got != tc.wantArm {
				t.Fatalf("arm(%v) = %v, want %v", tc.arm, got, tc.wantArm)
			}
			if w.armedBy("pay_2", tc.arm) {
				t.Fatal("armedBy of another payment = true")
			}
		})
	}
}
