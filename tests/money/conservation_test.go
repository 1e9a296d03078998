package money

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// payOutcome is a definite answer to a payment request.
type payOutcome struct {
	status    int
	code      string
	paymentID string
	body      string
	retries   int // answers that were not definite (outage, key in use)
}

// payWithKey sends POST /Payment/pay with an Idempotency-Key until it gets
// a definite answer: it retries, with the same key, on 409
// IDEMPOTENCY_KEY_IN_USE (the same request still running) and on 5xx (an
// outage), as a careful client would.
func payWithKey(t *testing.T, billID, key string, giveUp time.Duration) payOutcome {
	t.Helper()
	deadline := time.Now().Add(giveUp)
	retries := 0
	for {
		r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": billID}, map[string]string{"Idempotency-Key": key})
		retry := r.Status >= 500 || (r.Status == http.StatusConflict && r.ErrorCode() == "IDEMPOTENCY_KEY_IN_USE")
		if !retry {
			out := payOutcome{status: r.Status, code: r.ErrorCode(), body: string(r.Body)}
			var b struct {
				ID    string `json:"id"`
				Error struct {
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			_ = json.Unmarshal(r.Body, &b)
			out.paymentID = b.ID
			if id, ok := b.Error.Details["payment_id"].(string); ok {
				out.paymentID = id
			}
			out.retries = retries
			return out
		}
		retries++
		if time.Now().After(deadline) {
			t.Errorf("pay %s with key %s: still %d %s after %s", billID, key, r.Status, r.Body, giveUp)
			return payOutcome{status: r.Status}
		}
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
	}
}

// setupAccounts makes users with wallets, idempotent top-ups (each sent
// three times at once, counted once) and bills.
func setupAccounts(t *testing.T, tag string, users, billsPerUser int, funds func(i int) int64) []*harness.Account {
	t.Helper()
	accounts := make([]*harness.Account, users)
	var wg sync.WaitGroup
	for i := range accounts {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := env.MustCreateUser(t, fmt.Sprintf("%s %d", tag, i), fmt.Sprintf("%s.%d.%d@example.in", tag, i, rand.Int64()))
			env.MustCreateWallet(t, u.ID)
			acc := &harness.Account{UserID: u.ID}
			total := funds(i)
			for part, amount := range []int64{total / 2, total - total/2} {
				key := fmt.Sprintf("topup-%s-%d", u.ID, part)
				var tw sync.WaitGroup
				for r := 0; r < 3; r++ {
					tw.Add(1)
					go func() {
						defer tw.Done()
						for {
							resp := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": u.ID, "amount": amount}, map[string]string{"Idempotency-Key": key})
							if resp.Status == http.StatusOK {
								return
							}
							if resp.Status != http.StatusConflict {
								t.Errorf("top-up = %d %s", resp.Status, resp.Body)
								return
							}
							time.Sleep(20 * time.Millisecond) // in use: the first is still running
						}
					}()
				}
				tw.Wait()
				acc.TopUps += amount
			}
			for b := 0; b < billsPerUser; b++ {
				acc.Bills = append(acc.Bills, env.MustCreateBill(t, u.ID, int64(500+rand.IntN(2500))).ID)
			}
			accounts[i] = acc
		}(i)
	}
	wg.Wait()
	for i, acc := range accounts {
		if acc == nil {
			t.Fatalf("setting up account %d failed (see above)", i)
		}
	}
	return accounts
}

// Hundreds of concurrent payments through the gateway: three competing
// payers per bill, each sending its request twice with one Idempotency-Key,
// some users without enough money. Afterwards every invariant holds: top-ups
// = balance + SUCCESS payments per user, every PAID bill has exactly one
// SUCCESS payment and one debit, nothing is left PENDING, and every repeat
// of a key got the same answer.
func TestMoneyConservation(t *testing.T) {
	t.Parallel()
	const users, billsPerUser, payers, repeats = 8, 6, 3, 2
	accounts := setupAccounts(t, "conserve", users, billsPerUser, func(i int) int64 {
		if i%4 == 0 {
			return 4000 // not enough for six bills
		}
		return 100000
	})

	type attempt struct{ bill, key string }
	var attempts []attempt
	for _, acc := range accounts {
		for _, bill := range acc.Bills {
			for p := 0; p < payers; p++ {
				for r := 0; r < repeats; r++ {
					attempts = append(attempts, attempt{bill, fmt.Sprintf("pay-%s-%d", bill, p)})
				}
			}
		}
	}
	rand.Shuffle(len(attempts), func(i, j int) { attempts[i], attempts[j] = attempts[j], attempts[i] })

	var mu sync.Mutex
	byKey := map[string][]payOutcome{}
	var ids []string
	var wg sync.WaitGroup
	slots := make(chan struct{}, 48)
	for _, a := range attempts {
		wg.Add(1)
		slots <- struct{}{}
		go func(a attempt) {
			defer wg.Done()
			defer func() { <-slots }()
			out := payWithKey(t, a.bill, a.key, 60*time.Second)
			mu.Lock()
			defer mu.Unlock()
			byKey[a.key] = append(byKey[a.key], out)
			if out.paymentID != "" {
				ids = append(ids, out.paymentID)
			}
		}(a)
	}
	wg.Wait()
	t.Logf("%d payment requests sent", len(attempts))

	statuses := map[string]int{}
	for key, outs := range byKey {
		for _, o := range outs[1:] {
			if o.status != outs[0].status || o.paymentID != outs[0].paymentID {
				t.Errorf("key %s answered differently: %d %s then %d %s", key, outs[0].status, outs[0].body, o.status, o.body)
			}
		}
		for _, o := range outs {
			statuses[fmt.Sprintf("%d %s", o.status, o.code)]++
			switch {
			case o.status == http.StatusCreated, o.status == http.StatusAccepted:
			case o.status == http.StatusConflict && o.code == "BILL_ALREADY_PAID":
			case o.status == http.StatusUnprocessableEntity && o.code == "INSUFFICIENT_FUNDS":
			default:
				t.Errorf("unexpected answer %d %s", o.status, o.body)
			}
		}
	}
	t.Logf("answers: %v", statuses)

	env.WaitFinal(t, ids, 60*time.Second)
	successes := env.AuditMoney(t, accounts)
	for i, acc := range accounts {
		if i%4 == 0 {
			continue
		}
		for _, bill := range acc.Bills {
			if b := env.MustBill(t, bill); b.Status != "PAID" {
				t.Errorf("bill %s of a funded user is %s", bill, b.Status)
			}
		}
	}
	t.Logf("%d bills paid by %d distinct payments recorded", successes, len(unique(ids)))
}

func unique(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}
