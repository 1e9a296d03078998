package domain

import (
	"context"
	"testing"
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
