package money

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

// 200 concurrent debits and credits on one wallet (debits through the
// payment service's sidecar, as it calls them; credits as admin top-ups
// through the gateway): the final balance and the ledger agree exactly, and
// no debit that would overdraw was applied.
// Dapr's Redis state store does not roll back multi-key transactions; this
// is the test that the wallet's one-key design holds anyway.
func TestConcurrentDebitsAndCreditsOnOneWallet(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Hot Wallet", fmt.Sprintf("hot.%d@example.in", rand.Int64()))
	env.MustCreateWallet(t, u.ID)
	const seed = 20000
	env.MustTopUp(t, u.ID, seed, "")

	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var credited, debited int64
	applied, refused := 0, 0
	type op struct {
		path string
		body map[string]any
	}
	var appliedOps []op
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path, amount := "/wallet/deduct", int64(200+rand.IntN(600))
			if i%3 == 0 {
				path, amount = "/wallet/add", int64(100+rand.IntN(200))
			}
			body := map[string]any{"user_id": u.ID, "amount": amount, "reference": fmt.Sprintf("op-%d", i)}
			var r *harness.Response
			if path == "/wallet/add" {
				r = env.Do(t, "POST", path, body, nil) // top-ups: admins, through the gateway
			} else {
				r = env.InvokeAs(t, "payment", "wallet", "POST", path, body) // debits: the payment service's route
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == http.StatusOK && path == "/wallet/add":
				credited += amount
				applied++
				appliedOps = append(appliedOps, op{path, body})
			case r.Status == http.StatusOK:
				debited += amount
				applied++
				appliedOps = append(appliedOps, op{path, body})
			case r.Status == http.StatusUnprocessableEntity && r.ErrorCode() == "INSUFFICIENT_FUNDS":
				refused++
			default:
				t.Errorf("%s %d = %d %s", path, amount, r.Status, r.Body)
			}
		}(i)
	}
	wg.Wait()
	balance := env.MustBalance(t, u.ID)
	if want := seed + credited - debited; balance != want {
		t.Fatalf("balance %d, want %d + %d - %d = %d", balance, seed, credited, debited, want)
	}
	ledger, _ := env.MustConsistentLedger(t, u.ID)
	if len(ledger) != 1+applied {
		t.Fatalf("ledger has %d entries, want %d (seed + %d applied)", len(ledger), 1+applied, applied)
	}
	// Every applied operation sent again with its reference is answered as
	// before and moves nothing, also those whose entries have moved from
	// the wallet document to ledger pages.
	var rwg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, o := range appliedOps {
		rwg.Add(1)
		sem <- struct{}{}
		go func(o op) {
			defer rwg.Done()
			defer func() { <-sem }()
			var r *harness.Response
			if o.path == "/wallet/add" {
				r = env.Do(t, "POST", o.path, o.body, nil)
			} else {
				r = env.InvokeAs(t, "payment", "wallet", "POST", o.path, o.body)
			}
			if r.Status != http.StatusOK {
				t.Errorf("repeating %s %v = %d %s", o.path, o.body, r.Status, r.Body)
			}
		}(o)
	}
	rwg.Wait()
	if again := env.MustBalance(t, u.ID); again != balance {
		t.Fatalf("repeating the applied operations moved the balance from %d to %d", balance, again)
	}
	if again, _ := env.MustConsistentLedger(t, u.ID); len(again) != len(ledger) {
		t.Fatalf("repeating the applied operations grew the ledger from %d to %d entries", len(ledger), len(again))
	}
	if refused == 0 {
		t.Errorf("no debit was refused: the overdraft path was not exercised (debited %d of %d)", debited, seed+credited)
	}
	t.Logf("%d applied (%d credited, %d debited), %d refused for insufficient funds, final balance %d", applied, credited, debited, refused, balance)
}
