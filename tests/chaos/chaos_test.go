// Package chaos is FinFlow's chaos run (`make chaos`, and a short smoke
// version in `make test`): sustained mixed load through the gateway while a
// random app or sidecar is killed (SIGKILL) and restarted every few
// seconds and Redis is killed and restarted (persisting every write for
// this run); then the system is left to settle and every money invariant is
// checked. It fails on any violation.
//
// With CHAOS_REPLICAS=2 (`make chaos-replicas`) it runs on the replica
// topology (harness.Options.Replicas: two instances of every app but
// razorpay, on two hosts, the gateways behind a round-robin balancer) and
// kills instances while their twins serve: an app, a sidecar or both (a
// whole "pod") of one instance at a time, never both instances of an app,
// and neither razorpay nor Redis, which have no twin. The same audit
// follows, and the run fails too when the load did not reach every
// instance or no call crossed hosts.
package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

type config struct {
	replicas   int
	mode       string
	command    string
	duration   time.Duration // of the load under chaos
	killEvery  time.Duration
	redisEvery time.Duration
	users      int
	workers    int
	recovery   time.Duration // how long payments may take to be final afterwards
}

func loadConfig() config {
	c := config{mode: "smoke", command: "make test (smoke)", duration: 20 * time.Second, killEvery: 3 * time.Second,
		redisEvery: 12 * time.Second, users: 6, workers: 4, recovery: 90 * time.Second}
	if os.Getenv("CHAOS_MODE") == "full" {
		c = config{mode: "full", command: "make chaos", duration: 3 * time.Minute, killEvery: 5 * time.Second,
			redisEvery: 45 * time.Second, users: 30, workers: 12, recovery: 2 * time.Minute}
	}
	if os.Getenv("CHAOS_REPLICAS") == "2" {
		c.replicas = 2
		c.mode = "replicas-" + c.mode
		c.command = strings.Replace(c.command, "make chaos", "make chaos-replicas", 1)
		if c.command == "make test (smoke)" {
			c.command = "make test (replicas smoke)"
		}
	}
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			c.duration = d
		}
	}
	return c
}

// TestMain moves the run into a network namespace of its own first when it
// runs on the replica topology (harness.InPrivateNetwork).
func TestMain(m *testing.M) {
	if loadConfig().replicas > 1 {
		code, reran, err := harness.InPrivateNetwork()
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
			os.Exit(1)
		}
		if reran {
			os.Exit(code)
		}
	}
	os.Exit(m.Run())
}

// TestChaos runs the chaos and checks the money afterwards.
func TestChaos(t *testing.T) {
	cfg := loadConfig()
	env, err := harness.Start(harness.Options{Name: "chaos", Replicas: cfg.replicas, PersistRedis: true, Settings: map[string]int64{
		// Recovery acts quickly so that the run settles in seconds.
		"payments.recovery.interval_ms": 500,
		"payments.recovery.min_age_ms":  2000,
		"payments.step_timeout_ms":      3000,
		// Reconciliation is held back: every Razorpay result must arrive
		// through the webhook and pub/sub path, so that a lost one shows.
		"payments.reconcile.after_ms":        3_600_000,
		"gateway.ratelimit.user_per_minute":  10_000_000,
		"gateway.ratelimit.admin_per_minute": 10_000_000,
		// Every user's dev token comes from one address.
		"gateway.ratelimit.anonymous_per_minute": 10_000_000,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	r := &run{env: env, cfg: cfg, report: &Report{Mode: cfg.mode, Command: cfg.command, Started: time.Now()}}
	defer func() {
		if leaks := env.SecretsInLogs(); len(leaks) > 0 {
			t.Errorf("secrets found in the logs: %v", leaks)
		}
	}()

	if cfg.replicas > 1 {
		fmt.Fprintf(os.Stderr, "chaos: %s mode; %d users, %d clients, %s of load, one instance's app, sidecar or both killed every %s while its twin serves\n",
			cfg.mode, cfg.users, cfg.workers, cfg.duration, cfg.killEvery)
	} else {
		fmt.Fprintf(os.Stderr, "chaos: %s mode; %d users, %d clients, %s of load, a kill every %s, Redis restarted every %s\n",
			cfg.mode, cfg.users, cfg.workers, cfg.duration, cfg.killEvery, cfg.redisEvery)
	}
	r.setup(t)

	ctx, stop := context.WithTimeout(context.Background(), cfg.duration)
	defer stop()
	r.opDeadline = time.Now().Add(cfg.duration + cfg.recovery)
	var wg sync.WaitGroup
	for i := 0; i < cfg.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client(ctx)
		}()
	}
	r.chaos(ctx)
	chaosEnd := time.Now()
	wg.Wait()

	// Settle: every process up, the gateway healthy, every payment final.
	r.heal(t)
	r.waitFinal(t, chaosEnd)
	r.check(t)
	if rep, err := env.Replicas(context.Background()); err != nil {
		t.Error(err)
	} else if rep != nil {
		r.report.Replicas = rep
		r.report.Violations = append(r.report.Violations, rep.Problems...)
	}
	r.report.Took = time.Since(r.report.Started)
	r.write(t)
	for _, v := range r.report.Violations {
		t.Error(v)
	}
	if r.report.Payments["WALLET SUCCESS"] == 0 {
		t.Error("no wallet payment succeeded during the run")
	}
}

// run is one chaos run's state.
type run struct {
	env        *harness.Env
	cfg        config
	opDeadline time.Time

	mu       sync.Mutex
	users    []*user
	payments []*payment
	topups   []*razorpayTopUp
	report   *Report

	attempted, succeeded, refused, failed atomic.Int64
}

type user struct {
	mu    sync.Mutex
	acc   harness.Account
	token string
}

type payment struct {
	id, billID, method, userID string
	outcome                    string // the simulator's outcome for a Razorpay payment, or "no order"
	answered                   bool
}

// razorpayTopUp is a top-up through Razorpay: its key (so heal can ask
// again), and once answered, its id and what the customer did at the
// simulator.
type razorpayTopUp struct {
	u       *user
	key, id string
	amount  int64
	outcome string // captured, failed, or "" (never paid at the simulator)
}

// send sends a request until it gets an answer that is not a failure
// (no answer, 5xx, 429, or a keyed request still in flight), or the run's
// deadline passes; it counts every attempt.
func (r *run) send(method, path string, body any, header map[string]string) (*harness.Response, bool) {
	wait := 100 * time.Millisecond
	for {
		r.attempted.Add(1)
		resp, err := r.env.Try(method, path, body, header)
		switch {
		case err != nil, resp.Status >= 500, resp.Status == http.StatusTooManyRequests,
			resp.Status == http.StatusConflict && resp.ErrorCode() == "IDEMPOTENCY_KEY_IN_USE":
			r.failed.Add(1)
		case resp.Status >= 400:
			r.refused.Add(1)
			return resp, true
		default:
			r.succeeded.Add(1)
			return resp, true
		}
		if time.Now().After(r.opDeadline) {
			return resp, false
		}
		time.Sleep(wait + time.Duration(rand.IntN(100))*time.Millisecond)
		wait = min(wait*2, 2*time.Second)
	}
}

func (r *run) setup(t *testing.T) {
	r.opDeadline = time.Now().Add(2 * time.Minute)
	for i := 0; i < r.cfg.users; i++ {
		u := r.env.MustCreateUser(t, fmt.Sprintf("Chaos %d", i), fmt.Sprintf("chaos.%d.%d@example.in", time.Now().UnixNano(), i))
		r.env.MustCreateWallet(t, u.ID)
		r.env.MustTopUp(t, u.ID, 5_000_000, "chaos-topup-0-"+u.ID)
		r.users = append(r.users, &user{acc: harness.Account{UserID: u.ID, TopUps: 5_000_000}, token: r.env.Token(t, u.ID, "user")})
	}
}

// client sends a random mix of operations until ctx ends.
func (r *run) client(ctx context.Context) {
	for ctx.Err() == nil {
		u := r.users[rand.IntN(len(r.users))]
		switch n := rand.IntN(100); {
		case n < 45:
			r.pay(u, "WALLET")
		case n < 62:
			r.pay(u, "RAZORPAY")
		case n < 87:
			r.read(u)
		case n < 93:
			r.topUp(u)
		default:
			r.topUpThroughRazorpay(u, &razorpayTopUp{u: u, key: fmt.Sprintf("chaos-rzp-topup-%d", rand.Int64()), amount: int64(100 + rand.IntN(5000))})
		}
	}
}

// pay creates a bill and pays it, with Idempotency-Keys so that every retry
// is the same request.
func (r *run) pay(u *user, method string) {
	key := fmt.Sprintf("chaos-%d", rand.Int64())
	resp, ok := r.send(http.MethodPost, "/billing/create", map[string]any{"user_id": u.acc.UserID, "amount": 100 + rand.IntN(2000), "description": "Chaos"},
		map[string]string{"Idempotency-Key": key + "-bill"})
	if !ok || resp.Status != http.StatusCreated {
		r.problem("creating a bill: %v", answer(resp, ok))
		return
	}
	var bill harness.Bill
	_ = json.Unmarshal(resp.Body, &bill)
	u.mu.Lock()
	u.acc.Bills = append(u.acc.Bills, bill.ID)
	u.mu.Unlock()
	p := &payment{billID: bill.ID, method: method, userID: u.acc.UserID}
	r.mu.Lock()
	r.payments = append(r.payments, p)
	r.mu.Unlock()

	path := "/Payment/pay"
	if method == "RAZORPAY" {
		path = "/Payment/rozarpay"
	}
	resp, ok = r.send(http.MethodPost, path, map[string]any{"bill_id": bill.ID},
		map[string]string{"Idempotency-Key": key + "-pay", "Authorization": "Bearer " + u.token})
	if !ok {
		return // answered later by heal, with the same key
	}
	if method == "RAZORPAY" && resp.Status == http.StatusUnprocessableEntity && resp.ErrorCode() == "GATEWAY_REFUSED" {
		// Razorpay refused the order: the payment failed before any money
		// could move. Checked in check.
		var e struct {
			Error struct {
				Details struct {
					PaymentID string `json:"payment_id"`
				} `json:"details"`
			} `json:"error"`
		}
		_ = json.Unmarshal(resp.Body, &e)
		r.mu.Lock()
		p.id, p.answered, p.outcome = e.Error.Details.PaymentID, true, "no order"
		r.mu.Unlock()
		if p.id == "" {
			r.problem("%s %s: %d %s", path, bill.ID, resp.Status, resp.Body)
		}
		return
	}
	var out harness.Payment
	if json.Unmarshal(resp.Body, &out) != nil || out.ID == "" || resp.Status >= 300 {
		r.problem("%s %s: %d %s", path, bill.ID, resp.Status, resp.Body)
		return
	}
	r.mu.Lock()
	p.id, p.answered = out.ID, true
	r.mu.Unlock()
	if method == "RAZORPAY" && out.Razorpay != nil {
		outcome := "captured"
		if rand.IntN(5) == 0 {
			outcome = "failed"
		}
		// The customer pays at the simulator, which delivers each webhook
		// twice and retries until the gateway answers 2xx.
		if _, err := r.env.TrySimPay(out.Razorpay.OrderID, outcome, 1, true); err != nil {
			r.problem("paying at the simulator: %v", err)
			return
		}
		r.mu.Lock()
		p.outcome = outcome
		r.mu.Unlock()
	}
}

func (r *run) read(u *user) {
	if rand.IntN(2) == 0 {
		r.send(http.MethodGet, "/wallet/balance/"+u.acc.UserID, nil, map[string]string{"Authorization": "Bearer " + u.token})
		return
	}
	r.mu.Lock()
	var id string
	if n := len(r.payments); n > 0 {
		id = r.payments[rand.IntN(n)].id
	}
	r.mu.Unlock()
	if id != "" {
		r.send(http.MethodGet, "/Payment/"+id, nil, nil)
	}
}

// topUp credits the wallet with a key; it counts once it is answered 200.
func (r *run) topUp(u *user) {
	amount := int64(1000 + rand.IntN(5000))
	key := fmt.Sprintf("chaos-topup-%d", rand.Int64())
	resp, ok := r.send(http.MethodPost, "/wallet/add", map[string]any{"user_id": u.acc.UserID, "amount": amount}, map[string]string{"Idempotency-Key": key})
	if !ok {
		// Unknown whether it happened: send the same keyed request until it
		// is answered, after the chaos (see heal).
		r.mu.Lock()
		r.report.pendingTopUps = append(r.report.pendingTopUps, pendingTopUp{u, amount, key})
		r.mu.Unlock()
		return
	}
	if resp.Status != http.StatusOK {
		r.problem("top-up: %d %s", resp.Status, resp.Body)
		return
	}
	u.mu.Lock()
	u.acc.TopUps += amount
	u.mu.Unlock()
}

// topUpThroughRazorpay tops the wallet up through Razorpay as its owner,
// then pays at the simulator (1 in 5 fails), every webhook sent twice. A
// top-up not answered during the chaos is asked for again, with the same
// key, by heal.
func (r *run) topUpThroughRazorpay(u *user, tu *razorpayTopUp) {
	r.mu.Lock()
	if tu.id == "" && tu.outcome == "" && !containsTopUp(r.topups, tu) {
		r.topups = append(r.topups, tu)
	}
	r.mu.Unlock()
	resp, ok := r.send(http.MethodPost, "/wallet/topup", map[string]any{"user_id": u.acc.UserID, "amount": tu.amount},
		map[string]string{"Idempotency-Key": tu.key, "Authorization": "Bearer " + u.token})
	if !ok {
		return // asked for again by heal
	}
	var out harness.TopUp
	if resp.Status != http.StatusCreated || json.Unmarshal(resp.Body, &out) != nil || out.Razorpay == nil {
		r.problem("top-up through Razorpay: %d %s", resp.Status, resp.Body)
		return
	}
	outcome := "captured"
	if rand.IntN(5) == 0 {
		outcome = "failed"
	}
	if _, err := r.env.TrySimPay(out.Razorpay.OrderID, outcome, 1, true); err != nil {
		r.problem("paying a top-up at the simulator: %v", err)
		return
	}
	r.mu.Lock()
	tu.id, tu.outcome = out.ID, outcome
	r.mu.Unlock()
}

func containsTopUp(list []*razorpayTopUp, tu *razorpayTopUp) bool {
	for _, x := range list {
		if x == tu {
			return true
		}
	}
	return false
}

type pendingTopUp struct {
	u      *user
	amount int64
	key    string
}

// chaos kills a random process every killEvery and restarts it, and Redis
// every redisEvery, until ctx ends; on the replica topology, see
// chaosReplicas.
func (r *run) chaos(ctx context.Context) {
	if r.cfg.replicas > 1 {
		r.chaosReplicas(ctx)
		return
	}
	targets := []topology.Which{topology.AppProcess, topology.SidecarProcess}
	apps := []string{"gateway", "user", "wallet", "billing", "payment", "razorpay"}
	nextRedis := time.Now().Add(r.cfg.redisEvery)
	tick := time.NewTicker(r.cfg.killEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		began := time.Now()
		var what string
		var err error
		if time.Now().After(nextRedis) {
			what = "redis"
			err = r.env.RestartRedis()
			nextRedis = time.Now().Add(r.cfg.redisEvery)
		} else {
			app, which := apps[rand.IntN(len(apps))], targets[rand.IntN(2)]
			what = app + " " + which.String()
			if err = r.env.Topology.Kill(app, which); err == nil {
				time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
				err = r.env.Topology.Restart(context.Background(), app, which)
			}
		}
		ev := Event{At: began.Sub(r.report.Started), What: what, Down: time.Since(began)}
		if err != nil {
			ev.Err = err.Error()
		}
		r.mu.Lock()
		r.report.Events = append(r.report.Events, ev)
		r.mu.Unlock()
		fmt.Fprintf(os.Stderr, "chaos: %6.1fs killed and restarted %-18s back in %s %s\n", ev.At.Seconds(), what, ev.Down.Round(time.Millisecond), ev.Err)
	}
}

// chaosReplicas kills, every killEvery, one random instance of a
// replicated app (its app, its sidecar, or both as a pod dies) and
// restarts it, while its twin serves; never both instances of an app at
// once, and never razorpay or Redis, which have no twin.
func (r *run) chaosReplicas(ctx context.Context) {
	var targets []*topology.App
	for _, app := range harness.ReplicatedApps {
		targets = append(targets, r.env.Topology.Instances(app)...)
	}
	tick := time.NewTicker(r.cfg.killEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		began := time.Now()
		a := targets[rand.IntN(len(targets))]
		which := [][]topology.Which{{topology.AppProcess}, {topology.SidecarProcess}, {topology.AppProcess, topology.SidecarProcess}}[rand.IntN(3)]
		what := a.Instance + " " + which[0].String()
		if len(which) == 2 {
			what = a.Instance + " app+sidecar"
		}
		var err error
		for _, w := range which {
			if err = r.env.Topology.Kill(a.Instance, w); err != nil {
				break
			}
		}
		if err == nil {
			time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
			err = r.env.Topology.Revive(context.Background(), a.Instance)
		}
		ev := Event{At: began.Sub(r.report.Started), What: what, Down: time.Since(began)}
		if err != nil {
			ev.Err = err.Error()
		}
		r.mu.Lock()
		r.report.Events = append(r.report.Events, ev)
		r.mu.Unlock()
		fmt.Fprintf(os.Stderr, "chaos: %6.1fs killed and restarted %-24s back in %s %s\n", ev.At.Seconds(), what, ev.Down.Round(time.Millisecond), ev.Err)
	}
}

// heal restarts anything that is not running and finishes what the clients
// left unanswered, with the same keys.
func (r *run) heal(t *testing.T) {
	for _, a := range r.env.Topology.Apps() {
		for _, which := range []topology.Which{topology.AppProcess, topology.SidecarProcess} {
			if !r.env.Topology.Running(a.Instance, which) {
				if err := r.env.Topology.Restart(context.Background(), a.Instance, which); err != nil {
					t.Fatalf("restarting %s %s after the chaos: %v", a.Instance, which, err)
				}
			}
		}
	}
	if err := r.env.WaitHealthy(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	r.opDeadline = time.Now().Add(r.cfg.recovery)
	for _, p := range r.report.pendingTopUps {
		resp, ok := r.send(http.MethodPost, "/wallet/add", map[string]any{"user_id": p.u.acc.UserID, "amount": p.amount}, map[string]string{"Idempotency-Key": p.key})
		if !ok || resp.Status != http.StatusOK {
			r.problem("top-up %s never answered: %v", p.key, answer(resp, ok))
			continue
		}
		p.u.acc.TopUps += p.amount
	}
	for _, tu := range r.topups {
		if tu.id == "" {
			r.topUpThroughRazorpay(tu.u, tu)
		}
	}
}

// waitFinal waits until no payment is PENDING and measures the time to
// recover from the end of the chaos.
func (r *run) waitFinal(t *testing.T, chaosEnd time.Time) {
	// Payments whose answer never came are found from their bills.
	for _, p := range r.payments {
		if p.id != "" {
			continue
		}
		resp, err := r.env.Try(http.MethodGet, "/billing/"+p.billID, nil, nil)
		var b harness.Bill
		if err == nil && json.Unmarshal(resp.Body, &b) == nil && b.PaymentID != nil {
			p.id = *b.PaymentID
		}
	}
	deadline := time.Now().Add(r.cfg.recovery)
	for {
		pending := 0
		for _, p := range r.payments {
			if p.id == "" {
				continue
			}
			resp, err := r.env.Try(http.MethodGet, "/Payment/"+p.id, nil, nil)
			var out harness.Payment
			if err != nil || json.Unmarshal(resp.Body, &out) != nil || out.Status == "PENDING" {
				pending++
			}
		}
		for _, tu := range r.topups {
			if tu.id == "" || tu.outcome == "" {
				continue
			}
			resp, err := r.env.Try(http.MethodGet, "/wallet/topup/"+tu.id, nil, nil)
			var out harness.TopUp
			if err != nil || json.Unmarshal(resp.Body, &out) != nil || out.Status == "PENDING" {
				pending++
			}
		}
		if pending == 0 {
			r.report.Recovered = time.Since(chaosEnd)
			return
		}
		if time.Now().After(deadline) {
			r.report.Violations = append(r.report.Violations, fmt.Sprintf("%d payments still PENDING %s after the chaos ended", pending, time.Since(chaosEnd).Round(time.Second)))
			r.report.Recovered = -1
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// check audits the money and the Razorpay results.
func (r *run) check(t *testing.T) {
	var accounts []*harness.Account
	for _, u := range r.users {
		acc := u.acc
		accounts = append(accounts, &acc)
	}
	violations, _ := r.env.Audit(t, accounts)
	r.report.Violations = append(r.report.Violations, violations...)
	r.report.Payments = map[string]int{}
	for _, p := range r.payments {
		if p.id == "" {
			r.report.Payments["no payment made"]++
			continue
		}
		out := r.env.MustPayment(t, p.id)
		if p.outcome == "no order" {
			r.report.Payments[out.Method+" "+out.Status+" (no order: razorpay service down)"]++
		} else {
			r.report.Payments[out.Method+" "+out.Status]++
		}
		if p.outcome == "" {
			continue
		}
		// A verified webhook result is applied exactly once: captured makes
		// the payment SUCCESS and the bill PAID by it, failed makes it FAILED
		// and leaves the bill UNPAID; never a refund or a second payment.
		bill := r.env.MustBill(t, p.billID)
		want, wantBill := "SUCCESS", "PAID"
		if p.outcome == "failed" || p.outcome == "no order" {
			want, wantBill = "FAILED", "UNPAID"
		}
		if out.Status != want || bill.Status != wantBill || (wantBill == "PAID" && (bill.PaymentID == nil || *bill.PaymentID != p.id)) {
			r.report.Violations = append(r.report.Violations, fmt.Sprintf("Razorpay payment %s (%s at the simulator) is %s, its bill %s", p.id, p.outcome, out.Status, bill.Status))
		}
		if out.Refund != nil || out.SettledBy != nil {
			r.report.Violations = append(r.report.Violations, fmt.Sprintf("Razorpay payment %s was refunded or settled twice: %+v %+v", p.id, out.Refund, out.SettledBy))
		}
	}
	// A top-up through Razorpay is credited once exactly when the customer
	// paid at the simulator (the audit checks the credits in the ledgers).
	for _, tu := range r.topups {
		if tu.id == "" {
			r.report.Payments["TOPUP never answered"]++
			continue
		}
		out := r.env.MustGetTopUp(t, tu.id)
		r.report.Payments["TOPUP "+out.Status]++
		want := map[string]string{"captured": "SUCCESS", "failed": "FAILED", "": "FAILED"}[tu.outcome]
		if tu.outcome == "" && out.Status == "PENDING" {
			continue // never paid at the simulator: expires with its order
		}
		if out.Status != want || out.Refund != nil || out.SettledBy != nil {
			r.report.Violations = append(r.report.Violations, fmt.Sprintf("top-up %s (%s at the simulator) is %s (refund %+v, settled by %v)", tu.id, tu.outcome, out.Status, out.Refund, out.SettledBy))
		}
	}
	r.report.Requests = [4]int64{r.attempted.Load(), r.succeeded.Load(), r.refused.Load(), r.failed.Load()}
}

func (r *run) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.report.Problems) < 20 {
		r.report.Problems = append(r.report.Problems, fmt.Sprintf(format, args...))
	}
}

func answer(resp *harness.Response, ok bool) string {
	if resp == nil {
		return "no answer"
	}
	s := fmt.Sprintf("%d %s", resp.Status, resp.Body)
	if !ok {
		s = "still failing: " + s
	}
	return s
}

// Event is one kill and restart.
type Event struct {
	At   time.Duration
	What string
	Down time.Duration // from the kill until it was healthy again
	Err  string
}

// Report is what a chaos run did and found.
type Report struct {
	Mode, Command string
	Started       time.Time
	Took          time.Duration
	Events        []Event
	Requests      [4]int64       // attempted, succeeded (2xx), refused (4xx), failed (no answer, 5xx, 429, in flight)
	Payments      map[string]int // "WALLET SUCCESS" -> n
	Recovered     time.Duration  // chaos end -> no payment PENDING (-1: never)
	Violations    []string
	Problems      []string // unexpected answers that are not money violations
	// Replicas is how the work spread over the instances (replica runs).
	Replicas *harness.ReplicaReport

	pendingTopUps []pendingTopUp
}

func (r *run) write(t *testing.T) {
	rep := r.report
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# FinFlow chaos run (%s)\n\n- When: %s, took %s\n- Command: `%s`\n", rep.Mode, rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Took.Round(time.Second), rep.Command)
	w("- Load: %d clients for %s (45 %% wallet payments, 17 %% Razorpay payments paid at the simulator with every webhook sent twice, 25 %% reads, 6 %% top-ups by an admin, 7 %% top-ups through Razorpay paid at the simulator), every write with an Idempotency-Key and retried until answered\n", r.cfg.workers, r.cfg.duration)
	if rep.Replicas != nil {
		w("- Topology: two instances of gateway, user, wallet, billing and payment, each beside its own sidecar, on two hosts (network namespaces joined by a veth pair, mDNS across them); one razorpay, one Redis, one Sentry; clients and webhooks reach the gateways through a round-robin balancer\n")
		w("- Chaos: every %s one random instance's app, sidecar, or both (a pod) SIGKILLed and restarted while its twin serves; never both instances of an app, never razorpay or Redis (no twin)\n\n", r.cfg.killEvery)
	} else {
		w("- Chaos: a random app or sidecar SIGKILLed and restarted every %s, Redis SIGKILLed and restarted every %s (append-only file, fsync on every write)\n\n", r.cfg.killEvery, r.cfg.redisEvery)
	}
	w("## Result\n\n| | |\n|---|---|\n")
	w("| invariant violations | **%d** |\n", len(rep.Violations))
	w("| requests attempted | %d |\n| answered 2xx | %d |\n| answered 4xx | %d |\n| failed (no answer, 5xx, 429, key in flight), retried | %d |\n", rep.Requests[0], rep.Requests[1], rep.Requests[2], rep.Requests[3])
	keys := make([]string, 0, len(rep.Payments))
	for k := range rep.Payments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w("| payments %s | %d |\n", k, rep.Payments[k])
	}
	if rep.Recovered >= 0 {
		w("| time to recover (chaos end → healthy, every payment final) | %s |\n", rep.Recovered.Round(100*time.Millisecond))
	} else {
		w("| time to recover | not within %s |\n", r.cfg.recovery)
	}
	w("| kills and restarts | %d |\n\n", len(rep.Events))
	w("Checked after the run: per user, top-ups (an admin's and through Razorpay) = balance + SUCCESS wallet payments and the ledger is consistent; every top-up through Razorpay is SUCCESS (credited once, for its amount) exactly when it was captured at the simulator, else FAILED; every PAID bill is paid by exactly one SUCCESS payment with exactly one debit (none for Razorpay); no payment PENDING; every Razorpay payment matches what the customer did at the simulator (captured: SUCCESS and the bill PAID by it; failed: FAILED and the bill UNPAID), with no refund or second settlement (a result applied twice would show there). Reconciliation was held back so that every Razorpay result had to come through the webhook and pub/sub.\n\n")
	if len(rep.Violations) > 0 {
		w("## Violations\n\n")
		for _, v := range rep.Violations {
			w("- %s\n", v)
		}
		w("\n")
	}
	if len(rep.Problems) > 0 {
		w("## Unexpected answers\n\n")
		for _, p := range rep.Problems {
			w("- %s\n", p)
		}
		w("\n")
	}
	if rep.Replicas != nil {
		w("## Replicas\n\n| instance | requests of work served | packets from the other host at its sidecar |\n|---|---|---|\n")
		names := make([]string, 0, len(rep.Replicas.Work))
		for n := range rep.Replicas.Work {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			w("| %s | %d | %d |\n", n, rep.Replicas.Work[n], rep.Replicas.CrossHost[n])
		}
		w("\nCounted since each instance's last start (a restart begins its metrics again). The balancer sent the gateways: %v.\n\n", rep.Replicas.Gateways)
	}
	w("## Kills\n\n| at | process | back healthy after | error |\n|---|---|---|---|\n")
	for _, e := range rep.Events {
		w("| %.1f s | %s | %s | %s |\n", e.At.Seconds(), e.What, e.Down.Round(time.Millisecond), e.Err)
	}
	dir := filepath.Join(r.env.Root, "var", "chaos", rep.Started.Format("20060102-150405")+"-"+rep.Mode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.MarshalIndent(rep, "", "  ")
	_ = os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(r.env.Root, "var", "chaos", "latest-"+rep.Mode)
	_ = os.Remove(latest)
	_ = os.Symlink(filepath.Base(dir), latest)
	out := b.String()
	out = out[:strings.Index(out, "Checked after")]
	for _, p := range rep.Problems {
		out += "unexpected: " + p + "\n"
	}
	fmt.Fprintf(os.Stderr, "chaos: report in %s\n%s\n", dir, out)
}
