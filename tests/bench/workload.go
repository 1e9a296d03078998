package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/finflow/finflow/tests/bench/floor"
	"github.com/finflow/finflow/tests/harness"
)

// User is a benchmark customer: a funded wallet and a dev token.
type User struct {
	ID, Token string
}

// Queue is a list of targets handed out once each, refillable between
// levels.
type Queue struct {
	mu      sync.Mutex
	targets []vegeta.Target
}

// Push adds targets.
func (q *Queue) Push(ts ...vegeta.Target) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.targets = append(q.targets, ts...)
}

// Len is how many are left.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.targets)
}

// Targeter hands out the queue's targets; the attack ends when it is empty.
func (q *Queue) Targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		q.mu.Lock()
		defer q.mu.Unlock()
		if len(q.targets) == 0 {
			return vegeta.ErrNoTargets
		}
		*t = q.targets[len(q.targets)-1]
		q.targets = q.targets[:len(q.targets)-1]
		return nil
	}
}

// Funds is each benchmark wallet's top-up: enough for any run.
const Funds = 1_000_000_000 // paise: ₹1 crore

// Workload makes the benchmark's data through the gateway and remembers
// what it made, for the reads and the money audit.
type Workload struct {
	Env   *harness.Env
	Users []User
	token map[string]string // user id -> token

	mu       sync.Mutex
	bills    map[string][]string // user id -> bills made
	payments []paid
	codes    map[int]int
	pages    map[string]*pageCount // listing kind -> pages answered
}

// pageCount is how many listing pages of one kind were answered, and how
// many items they held.
type pageCount struct{ pages, items int }

type paid struct {
	ID, UserID, Status string
}

// SetupUsers signs up n users, opens and funds their wallets (with an
// Idempotency-Key, as a careful client would) and gets each a dev token.
func (w *Workload) SetupUsers(tb testing.TB, n int) {
	w.token = map[string]string{}
	w.bills = map[string][]string{}
	w.codes = map[int]int{}
	w.pages = map[string]*pageCount{}
	users := make([]User, n)
	stamp := time.Now().UnixNano()
	Parallel(n, 32, func(i int) {
		u := w.Env.MustCreateUser(tb, fmt.Sprintf("Bench %d", i), fmt.Sprintf("bench.%d.%d@example.in", stamp, i))
		w.Env.MustCreateWallet(tb, u.ID)
		w.Env.MustTopUp(tb, u.ID, Funds, "bench-topup-"+u.ID)
		users[i] = User{ID: u.ID, Token: w.Env.Token(tb, u.ID, "user")}
	})
	w.Users = users
	for _, u := range users {
		w.token[u.ID] = u.Token
	}
}

// MakeBills creates n bills spread over the users and returns a payment
// request for each at path ("/Payment/pay" or "/Payment/rozarpay"), with an
// Idempotency-Key, sent with the payer's token.
func (w *Workload) MakeBills(tb testing.TB, n int, path string) []vegeta.Target {
	out := make([]vegeta.Target, n)
	Parallel(n, 32, func(i int) {
		u := w.Users[rand.IntN(len(w.Users))]
		b := w.Env.MustCreateBill(tb, u.ID, 100+rand.Int64N(900))
		w.mu.Lock()
		w.bills[u.ID] = append(w.bills[u.ID], b.ID)
		w.mu.Unlock()
		body, _ := json.Marshal(map[string]string{"bill_id": b.ID})
		out[i] = JSONTarget(http.MethodPost, w.Env.BaseURL+path, u.Token, body, "Idempotency-Key", "bench-"+b.ID)
	})
	return out
}

// RecordPayment remembers a payment answer (for the reads and the audit).
func (w *Workload) RecordPayment(r *vegeta.Result) {
	var p struct {
		ID     string `json:"id"`
		UserID string `json:"user_id"`
		Status string `json:"status"`
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.codes[int(r.Code)]++
	if r.Code >= 200 && r.Code < 300 && json.Unmarshal(r.Body, &p) == nil && p.ID != "" {
		w.payments = append(w.payments, paid{ID: p.ID, UserID: p.UserID, Status: p.Status})
	}
}

// Payments returns the payments recorded so far.
func (w *Workload) Payments() []paid {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]paid(nil), w.payments...)
}

// ReadTargets alternates balance reads of the users and status reads of up
// to max recorded payments, one for one as the floor's reads alternate
// (there are more payments than users: balances go round the users again;
// with no payments, balances only), each with its owner's token.
func (w *Workload) ReadTargets(max int) []vegeta.Target {
	ps := w.Payments()
	if len(ps) > max {
		ps = ps[:max]
	}
	var out []vegeta.Target
	for i := 0; i < len(w.Users) || i < len(ps); i++ {
		if len(w.Users) > 0 {
			u := w.Users[i%len(w.Users)]
			out = append(out, JSONTarget(http.MethodGet, w.Env.BaseURL+"/wallet/balance/"+u.ID, u.Token, nil))
		}
		if len(ps) > 0 {
			p := ps[i%len(ps)]
			out = append(out, JSONTarget(http.MethodGet, w.Env.BaseURL+"/Payment/"+p.ID, w.token[p.UserID], nil))
		}
	}
	return out
}

// listPaths is the gateway path of each listing kind, before the user id.
var listPaths = map[string]string{floor.KindBills: "/billing/user/", floor.KindPayments: "/Payment/user/"}

// RecordPage counts the items of an answered listing page (the floor reads
// as many records per page as FinFlow's pages held).
func (w *Workload) RecordPage(r *vegeta.Result) {
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if r.Code != http.StatusOK || json.Unmarshal(r.Body, &page) != nil {
		return
	}
	for kind, path := range listPaths {
		if strings.HasPrefix(r.URL, w.Env.BaseURL+path) {
			w.mu.Lock()
			defer w.mu.Unlock()
			c := w.pages[kind]
			if c == nil {
				c = &pageCount{}
				w.pages[kind] = c
			}
			c.pages++
			c.items += len(page.Items)
			return
		}
	}
}

// ItemsPerPage returns the mean number of items in the answered pages of
// kind, rounded (0 when none was answered).
func (w *Workload) ItemsPerPage(kind string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.pages[kind]
	if c == nil || c.pages == 0 {
		return 0
	}
	return (c.items + c.pages/2) / c.pages
}

// ListTarget is the first page (20) of u's bills (floor.KindBills) or
// payments (floor.KindPayments), with u's token.
func (w *Workload) ListTarget(kind string, u User) vegeta.Target {
	return JSONTarget(http.MethodGet, w.Env.BaseURL+listPaths[kind]+u.ID+"?limit=20", u.Token, nil)
}

// Payers returns the users who have paid at least one bill so far.
func (w *Workload) Payers() []User {
	w.mu.Lock()
	defer w.mu.Unlock()
	paid := map[string]bool{}
	for _, p := range w.payments {
		paid[p.UserID] = true
	}
	var out []User
	for _, u := range w.Users {
		if paid[u.ID] {
			out = append(out, u)
		}
	}
	return out
}

// ListTargets alternates the first page of every user's bills and of
// their payments.
func (w *Workload) ListTargets() []vegeta.Target {
	var out []vegeta.Target
	for _, u := range w.Users {
		out = append(out, w.ListTarget(floor.KindBills, u), w.ListTarget(floor.KindPayments, u))
	}
	return out
}

// Accounts returns what the audit needs for up to max users.
func (w *Workload) Accounts(max int) []*harness.Account {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*harness.Account
	for _, u := range w.Users {
		if len(out) == max {
			break
		}
		out = append(out, &harness.Account{UserID: u.ID, TopUps: Funds, Bills: append([]string(nil), w.bills[u.ID]...)})
	}
	return out
}

// Parallel runs f(0..n-1) on workers goroutines.
func Parallel(n, workers int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
