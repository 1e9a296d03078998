package replicas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

// waitServing waits until a restarted instance serves again: its sidecar
// sends it calls once its app health probe has passed again, and until
// then mDNS still hands out that sidecar for some calls, which fail (503).
// It reads path through the balancer until the instance has served work
// (its metrics began again from zero at the restart).
func waitServing(t *testing.T, instance, path string) {
	t.Helper()
	harness.WaitFor(t, 60*time.Second, instance+" serving again after its restart", func() bool {
		if _, err := env.Try("GET", path, nil, nil); err != nil {
			t.Fatal(err)
		}
		n, err := harness.WorkServed(env.InstanceMetrics[instance])
		return err == nil && n > 0
	})
}

// served reads one route's request count on an instance.
func served(t *testing.T, instance, route string) int64 {
	t.Helper()
	n, err := harness.RouteServed(env.InstanceMetrics[instance], route)
	if err != nil {
		t.Fatalf("reading %s's metrics: %v", instance, err)
	}
	return n
}

// Both billing instances' sidecars deliver the cron binding's ticks, so two
// schedulers run at once (and one of them dies and comes back meanwhile):
// every subscription still gets exactly one bill for its period, and
// autopay pays it exactly once from the wallet.
func TestSubscriptionsBilledOnceByTwoSchedulers(t *testing.T) {
	t.Parallel()
	const users, perUser = 4, 3
	const funds = 1_000_000
	ticks := map[string]int64{"billing": served(t, "billing", "/billing-schedule"), "billing-2": served(t, "billing-2", "/billing-schedule")}

	type sub struct {
		acc *harness.Account
		s   harness.Subscription
	}
	var subs []sub
	var accounts []*harness.Account
	start := time.Now().UTC()
	for i := 0; i < users; i++ {
		u := env.MustCreateUser(t, fmt.Sprintf("Subscriber %d", i), fmt.Sprintf("replica.sub.%d.%d@example.in", i, rand.Int64()))
		env.MustCreateWallet(t, u.ID)
		env.MustTopUp(t, u.ID, funds, "replica-sub-topup-"+u.ID)
		acc := &harness.Account{UserID: u.ID, TopUps: funds}
		accounts = append(accounts, acc)
		for j := 0; j < perUser; j++ {
			k := i*perUser + j
			// Periods begin over about 35 s, so that the ticks of both
			// instances, before and after the kill below, each meet some.
			at := start.Add(time.Duration(k*3) * time.Second).Format(time.RFC3339)
			s := env.MustCreateSubscription(t, map[string]any{"user_id": u.ID, "amount": 1000 + k, "description": fmt.Sprintf("Replica plan %d", k),
				"interval": "DAILY", "autopay": true, "start_at": at})
			subs = append(subs, sub{acc, s})
		}
	}

	// One scheduler dies while periods begin; its twin goes on billing.
	if err := env.Topology.Kill("billing", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	twinTicks := served(t, "billing-2", "/billing-schedule")
	harness.WaitFor(t, 60*time.Second, "a tick of billing-2 while billing is down", func() bool {
		return served(t, "billing-2", "/billing-schedule") > twinTicks
	})
	if env.Topology.Running("billing", topology.AppProcess) {
		t.Fatal("billing came back by itself: the outage did not happen")
	}
	if err := env.Topology.Restart(context.Background(), "billing", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	waitServing(t, "billing", "/billing/user/"+accounts[0].UserID)

	bills := map[string]harness.ListedBill{}
	harness.WaitFor(t, 3*time.Minute, "every subscription's first bill made and paid by autopay", func() bool {
		for _, s := range subs {
			if b, ok := bills[s.s.ID]; ok && b.Status == "PAID" {
				continue
			}
			got := env.SubscriptionBills(t, s.s.UserID, s.s.ID)
			if len(got) == 0 {
				return false
			}
			bills[s.s.ID] = got[0]
			if got[0].Status != "PAID" {
				bills[s.s.ID] = got[0]
				return false
			}
		}
		return true
	})
	// Both schedulers tick at least twice more after the last bill: a
	// second bill for a period, or a second autopay, would come from them.
	after := map[string]int64{"billing": served(t, "billing", "/billing-schedule"), "billing-2": served(t, "billing-2", "/billing-schedule")}
	harness.WaitFor(t, 90*time.Second, "two more ticks on each billing instance", func() bool {
		return served(t, "billing", "/billing-schedule") >= after["billing"]+2 && served(t, "billing-2", "/billing-schedule") >= after["billing-2"]+2
	})
	for inst, before := range ticks {
		if n := served(t, inst, "/billing-schedule"); n-before < 3 {
			t.Errorf("%s's scheduler ticked %d times during the test: the two schedulers did not both run", inst, n-before)
		}
	}
	for _, s := range subs {
		got := env.SubscriptionBills(t, s.s.UserID, s.s.ID)
		if len(got) != 1 {
			ids := make([]string, len(got))
			for i, b := range got {
				ids[i] = b.ID
			}
			t.Errorf("subscription %s has %d bills for its first period, want 1: %v", s.s.ID, len(got), ids)
		}
		for _, b := range got {
			s.acc.Bills = append(s.acc.Bills, b.ID)
			if b.Status != "PAID" || b.Amount != s.s.Amount {
				t.Errorf("bill %s of subscription %s is %s for %d, want PAID for %d", b.ID, s.s.ID, b.Status, b.Amount, s.s.Amount)
			}
		}
	}
	// Autopay debited each bill once: the audit finds any second debit or
	// second SUCCESS payment of a bill.
	env.AuditMoney(t, accounts)
	for _, acc := range accounts {
		var want int64 = funds
		for _, s := range subs {
			if s.acc == acc {
				want -= s.s.Amount
			}
		}
		if got := env.MustBalance(t, acc.UserID); got != want {
			t.Errorf("user %s's balance = %d, want %d (each subscription's bill paid once)", acc.UserID, got, want)
		}
	}
}

// pay pays a bill from the wallet with an Idempotency-Key, as a careful
// client does: a 5xx, no answer or a key still in flight is sent again with
// the same key. It returns the final answer's status, the payment id and
// how often it had to retry.
func pay(t *testing.T, billID, key string) (int, string, int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for retries := 0; ; retries++ {
		r, err := env.Try("POST", "/Payment/pay", map[string]any{"bill_id": billID}, map[string]string{"Idempotency-Key": key})
		if err == nil && r.Status < 500 && !(r.Status == http.StatusConflict && r.ErrorCode() == "IDEMPOTENCY_KEY_IN_USE") {
			var b struct {
				ID    string `json:"id"`
				Error struct {
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			_ = json.Unmarshal(r.Body, &b)
			if id, ok := b.Error.Details["payment_id"].(string); ok {
				b.ID = id
			}
			return r.Status, b.ID, retries
		}
		if time.Now().After(deadline) {
			t.Errorf("paying %s with key %s: no final answer after 90 s (last: %v %v)", billID, key, r, err)
			return 0, "", retries
		}
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
	}
}

// waitFinal polls payments until none is PENDING, failing the test after
// timeout. A read answered 503 is counted and asked again: with one app
// instance dead beside its live sidecar, mDNS still hands out that sidecar
// for some of the calls (docs/deploy.md, Replicas). It returns the 503s.
func waitFinal(t *testing.T, ids []string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	unavailable := 0
	left := ids
	for len(left) > 0 {
		var still []string
		for _, id := range left {
			r := env.Do(t, "GET", "/Payment/"+id, nil, nil)
			var p harness.Payment
			switch {
			case r.Status == http.StatusServiceUnavailable:
				unavailable++
				still = append(still, id)
			case r.Status != http.StatusOK:
				t.Fatalf("GET /Payment/%s = %d %s", id, r.Status, r.Body)
			default:
				r.JSON(t, &p)
				if p.Status == "PENDING" {
					still = append(still, id)
				}
			}
		}
		left = still
		if len(left) > 0 && time.Now().After(deadline) {
			t.Fatalf("%d payments still PENDING after %s (first: %s)", len(left), timeout, left[0])
		}
		if len(left) > 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	return unavailable
}

// One payment instance freezes (SIGSTOP) while payments are sent, so that
// the calls routed to it hang in it, and is then killed (SIGKILL) with
// them and stays down: its twin serves the retries and its recovery loop
// finishes what the dead one left PENDING; nothing is settled twice, and
// the money adds up after the dead one comes back.
func TestPaymentInstanceKilledMidFlight(t *testing.T) {
	const users, billsPerUser = 6, 6
	var accounts []*harness.Account
	var bills []string
	for i := 0; i < users; i++ {
		u := env.MustCreateUser(t, fmt.Sprintf("Payer %d", i), fmt.Sprintf("replica.payer.%d.%d@example.in", i, rand.Int64()))
		env.MustCreateWallet(t, u.ID)
		env.MustTopUp(t, u.ID, 500_000, "replica-pay-topup-"+u.ID)
		acc := &harness.Account{UserID: u.ID, TopUps: 500_000}
		for j := 0; j < billsPerUser; j++ {
			b := env.MustCreateBill(t, u.ID, int64(1000+rand.IntN(9000)))
			acc.Bills = append(acc.Bills, b.ID)
			bills = append(bills, b.ID)
		}
		accounts = append(accounts, acc)
	}
	twinWork, err := harness.WorkServed(env.InstanceMetrics["payment-2"])
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var ids []string
	answers := map[int]int{}
	disturbed := 0
	var wg sync.WaitGroup
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Topology.Restart(context.Background(), "payment", topology.AppProcess)
		}
	})
	if err := env.Topology.Freeze("payment", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	var outstanding atomic.Int64
	for i, bill := range bills {
		if i == len(bills)/3 {
			// Some of the payments sent so far are stuck in the frozen
			// instance (the others were answered by its twin): it dies with them.
			harness.WaitFor(t, 30*time.Second, "a payment stuck in the frozen instance", func() bool { return outstanding.Load() > 0 })
			if err := env.Topology.Kill("payment", topology.AppProcess); err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		outstanding.Add(1)
		go func(bill string) {
			defer wg.Done()
			status, id, retries := pay(t, bill, "replica-pay-"+bill)
			outstanding.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			answers[status]++
			if retries > 0 || status == http.StatusAccepted {
				disturbed++
			}
			if id != "" {
				ids = append(ids, id)
			}
		}(bill)
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("answers by status: %v; %d payments met the dead instance (202 or retried)", answers, disturbed)
	for status, n := range answers {
		if status != http.StatusCreated && status != http.StatusAccepted {
			t.Errorf("%d payments answered %d: funded users' payments must end 201 or 202", n, status)
		}
	}
	if disturbed == 0 {
		t.Fatal("no payment met the killed instance: the test did not test anything")
	}
	// Final while the killed instance is still down: its twin did the work.
	unanswered := waitFinal(t, ids, 90*time.Second)
	t.Logf("reads while one payment instance was down: %d answered 503", unanswered)
	if env.Topology.Running("payment", topology.AppProcess) {
		t.Fatal("the killed payment instance is running again: the twin's part is not shown")
	}
	if n, err := harness.WorkServed(env.InstanceMetrics["payment-2"]); err != nil || n <= twinWork {
		t.Fatalf("payment-2 served %d requests of work, %d before (%v): the twin did not take over", n, twinWork, err)
	}
	if err := env.Topology.Restart(context.Background(), "payment", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitServing(t, "payment", "/Payment/"+ids[0])
	for _, b := range bills {
		if got := env.MustBill(t, b); got.Status != "PAID" {
			t.Errorf("bill %s is %s, want PAID", b, got.Status)
		}
	}
	env.AuditMoney(t, accounts)
}

// A user's rate limit is one budget in Redis for both gateways: requests
// sent to the two gateways in turn get exactly userPerMinute answers
// between them in one window, then both refuse.
func TestRateLimitSharedByBothGateways(t *testing.T) {
	t.Parallel()
	a, b := env.Gateway(t, "gateway"), env.Gateway(t, "gateway-2")
	for attempt := 1; ; attempt++ {
		// A fixed window per minute: begin with time to spare in this one.
		if left := time.Minute - time.Duration(time.Now().UnixMilli()%60000)*time.Millisecond; left < 10*time.Second {
			time.Sleep(left + 100*time.Millisecond)
		}
		u := env.MustCreateUser(t, "Limited", fmt.Sprintf("replica.limited.%d@example.in", rand.Int64()))
		env.MustCreateWallet(t, u.ID)
		as := env.As(t, u.ID)
		window := time.Now().UnixMilli() / 60000
		allowed := map[string]int{}
		refused := map[string]int{}
		firstRefusal := -1
		for i := 0; i < 2*userPerMinute+4; i++ {
			gw, name := a, "gateway"
			if i%2 == 1 {
				gw, name = b, "gateway-2"
			}
			r := gw.Do(t, "GET", "/wallet/balance/"+u.ID, nil, as)
			switch r.Status {
			case http.StatusOK:
				allowed[name]++
				if firstRefusal >= 0 {
					t.Fatalf("request %d to %s allowed after request %d was refused: two budgets", i, name, firstRefusal)
				}
			case http.StatusTooManyRequests:
				refused[name]++
				if firstRefusal < 0 {
					firstRefusal = i
				}
			default:
				t.Fatalf("GET /wallet/balance/%s on %s = %d %s", u.ID, name, r.Status, r.Body)
			}
		}
		if time.Now().UnixMilli()/60000 != window {
			if attempt == 3 {
				t.Fatal("three attempts crossed a minute's window")
			}
			continue // a new window began midway: both counts are right, the sum is not one window's
		}
		total := allowed["gateway"] + allowed["gateway-2"]
		if total != userPerMinute || allowed["gateway"] == 0 || allowed["gateway-2"] == 0 || refused["gateway"] == 0 || refused["gateway-2"] == 0 {
			t.Fatalf("allowed %v, refused %v in one window: want %d allowed between both gateways (one budget), then both refusing", allowed, refused, userPerMinute)
		}
		t.Logf("one window: allowed %v (%d, the limit), refused %v", allowed, total, refused)
		return
	}
}

// An ops console session started on one gateway works on the other (the
// sessions are in the gateway's state store, not a gateway's memory), and
// signing out on that other one ends it on both.
func TestConsoleSessionOnEitherGateway(t *testing.T) {
	t.Parallel()
	a, b := env.Gateway(t, "gateway"), env.Gateway(t, "gateway-2")
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(a.BaseURL+"/console/login", url.Values{"token": {env.AdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session string
	for _, ck := range resp.Cookies() {
		if ck.Name == "finflow_console" {
			session = ck.Value
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == "" {
		t.Fatalf("signing in on gateway = %d, cookie %q; want 303 and a session", resp.StatusCode, session)
	}
	withCookie := func(gw *harness.Env, method, path string) (int, string) {
		req, _ := http.NewRequest(method, gw.BaseURL+path, nil)
		req.AddCookie(&http.Cookie{Name: "finflow_console", Value: session})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		name       string
		gw         *harness.Env
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"the console on the other gateway", b, "GET", "/console", 200, `id="money"`},
		{"the console on the first gateway", a, "GET", "/console", 200, `id="money"`},
		{"signing out on the other gateway", b, "POST", "/console/logout", http.StatusSeeOther, ""},
		{"the ended session on the first gateway", a, "GET", "/console", 401, `action="/console/login"`},
		{"the ended session on the other gateway", b, "GET", "/console", 401, `action="/console/login"`},
	} {
		status, body := withCookie(tc.gw, tc.method, tc.path)
		if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
			t.Errorf("%s: %s %s = %d, want %d with %q; body: %.300s", tc.name, tc.method, tc.path, status, tc.wantStatus, tc.wantBody, body)
		}
	}
}
