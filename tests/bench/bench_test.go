package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/finflow/finflow/tests/bench/floor"
	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

// config is one benchmark mode. `make test` runs the smoke mode (seconds,
// to keep the benchmark working, with no timing threshold); `make bench`
// the full one.
type config struct {
	mode       string
	command    string
	levels     []int
	step       time.Duration // each closed-loop level
	half       time.Duration // the half-peak open-loop run
	warm       time.Duration // unrecorded run at half peak before it
	users      int
	calibrate  int // requests of each kind in the calibration run
	idle       time.Duration
	rzRate     float64
	rzDur      time.Duration
	auditUsers int
	readPays   int
	url        string // a running FinFlow to measure instead of starting one
	profile    bool   // capture CPU and mutex profiles of every app at the peak of payments, reads and listings
}

func loadConfig() config {
	c := config{mode: "smoke", command: "make test (smoke)", levels: []int{1, 4}, step: time.Second, half: time.Second,
		users: 8, calibrate: 12, idle: time.Second, rzRate: 5, rzDur: time.Second, auditUsers: 8, readPays: 50}
	if os.Getenv("BENCH_MODE") == "full" {
		c = config{mode: "full", command: "make bench", levels: []int{1, 2, 4, 8, 16, 32, 64, 128, 256}, step: 8 * time.Second, half: 10 * time.Second, warm: 5 * time.Second,
			users: 400, calibrate: 200, idle: 3 * time.Second, rzRate: 20, rzDur: 15 * time.Second, auditUsers: 100, readPays: 4000}
	}
	if v := os.Getenv("BENCH_STEP"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			c.step, c.half = d, d
		}
	}
	if v := os.Getenv("BENCH_LEVELS"); v != "" {
		c.levels = nil
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
				c.levels = append(c.levels, n)
			}
		}
	}
	c.url = os.Getenv("BENCH_URL")
	c.profile = os.Getenv("BENCH_PROFILE") != ""
	return c
}

// halfPeak offers rate for cfg.half and returns that run, after an
// unrecorded cfg.warm at the same rate: the overload levels before it leave
// a backlog (queued requests, grown pools, recovery work) that is not what
// a system at half its peak sees.
func halfPeak(a Attack, rate float64, cfg config) Level {
	if cfg.warm > 0 {
		a.Open(rate, cfg.warm)
	}
	return a.Open(rate, cfg.half)
}

// benchSettings lift the per-caller rate limits so that they do not cap
// the measurement; the limiter still runs (one Redis round trip) on every
// request.
var benchSettings = map[string]int64{
	"gateway.ratelimit.user_per_minute":  10_000_000,
	"gateway.ratelimit.admin_per_minute": 10_000_000,
	// Every user's dev token comes from one address.
	"gateway.ratelimit.anonymous_per_minute": 10_000_000,
}

// TestBench measures FinFlow through the gateway, then the floor (the same
// sidecar chain with handlers that do nothing), and writes the report.
func TestBench(t *testing.T) {
	cfg := loadConfig()
	rep := &Report{Mode: cfg.mode, Command: cfg.command, Started: time.Now(), Machine: Machine()}
	progress := os.Stderr

	env, err := startFinFlow(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			env.Stop()
		}
	}
	defer stop()
	rep.Commit = Commit(env.Root)
	rep.Daprd, _ = topology.DaprdVersion(topology.FindDaprd(env.Root))
	under := os.Getpid()
	if cfg.url != "" {
		rep.Attached, under = cfg.url, 0
	}
	procs, err := FindProcesses(under)
	if err != nil {
		t.Fatal(err)
	}
	requireEveryProcess(t, env, procs)
	scraper := &Scraper{MetricsPorts: metricsPorts(env, under), Redis: env.Redis()}
	if len(scraper.MetricsPorts) == 0 {
		t.Fatal("found no sidecar to read metrics from")
	}

	fmt.Fprintf(progress, "bench: %s mode; creating %d funded users\n", cfg.mode, cfg.users)
	w := &Workload{Env: env}
	w.SetupUsers(t, cfg.users)
	if t.Failed() {
		t.FailNow()
	}

	// Calibration: what one request of each kind costs in hops and state
	// round trips, for the report and the floor's plan.
	rep.PerRequest, rep.Plan = calibrate(t, cfg, w, scraper)
	for _, kind := range floor.Kinds {
		fmt.Fprintf(progress, "bench: one %s request = %s\n", kind, rep.Plan.Describe(kind))
	}
	if hops, _ := rep.Plan.Totals(floor.KindPay); hops < 3 {
		t.Errorf("a wallet payment measured %d service invocations; it makes at least gateway->payment, payment->billing, payment->wallet", hops)
	}

	// (a) Wallet payments: rising concurrency, then half the peak rate.
	payQ := &Queue{}
	pay := Attack{Name: "pay", Targeter: payQ.Targeter(), OnResult: w.RecordPayment, Procs: procs, Progress: progress, Scraper: scraper}
	rep.Pay, err = pay.Ramp(cfg.levels, cfg.step, func(c int, best float64) error {
		need := int(max(best*2, 40*float64(c))*cfg.step.Seconds()*1.2) + 20
		if n := need - payQ.Len(); n > 0 {
			payQ.Push(w.MakeBills(t, n, "/Payment/pay")...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	peak := Peak(rep.Pay)
	if peak.Throughput == 0 {
		t.Fatalf("no wallet payment succeeded: %+v", rep.Pay)
	}
	if cfg.profile && env.Pprof != nil {
		if n := int(peak.Throughput*12*1.3) - payQ.Len(); n > 0 {
			payQ.Push(w.MakeBills(t, n, "/Payment/pay")...)
		}
		profile(t, env, "pay", pay, peak.Concurrency, reportDir(env.Root, rep))
	}
	if n := int(peak.Throughput/2*(cfg.half+cfg.warm).Seconds()*1.3) + 10 - payQ.Len(); n > 0 {
		payQ.Push(w.MakeBills(t, n, "/Payment/pay")...)
	}
	rep.HalfWarmUp = cfg.warm
	rep.PayHalf = halfPeak(pay, peak.Throughput/2, cfg)

	// (b) The Razorpay flow.
	rep.Razorpay = w.Razorpay(t, cfg.rzRate, cfg.rzDur, procs, progress)

	// (c) Reads.
	reads := Attack{Name: "reads", Targeter: RoundRobin(w.ReadTargets(cfg.readPays)), Procs: procs, Progress: progress}
	if rep.Reads, err = reads.Ramp(cfg.levels, cfg.step, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.profile && env.Pprof != nil {
		profile(t, env, "reads", reads, Peak(rep.Reads).Concurrency, reportDir(env.Root, rep))
	}

	// (d) A customer's listings: the first page of their bills and of
	// their payments, alternating.
	lists := Attack{Name: "listings", Targeter: RoundRobin(w.ListTargets()), OnResult: w.RecordPage, Procs: procs, Progress: progress}
	if rep.Listings, err = lists.Ramp(cfg.levels, cfg.step, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.profile && env.Pprof != nil {
		profile(t, env, "listings", lists, Peak(rep.Listings).Concurrency, reportDir(env.Root, rep))
	}

	// Every payment must be final, and the money right.
	rep.PayCodes = w.codes
	var pending []string
	for _, p := range w.Payments() {
		if p.Status == "PENDING" {
			pending = append(pending, p.ID)
		}
	}
	rep.Pending = len(pending)
	accounts := w.Accounts(cfg.auditUsers)
	rep.AuditUsers = len(accounts)
	if !t.Run("money audit", func(t *testing.T) {
		env.WaitFinal(t, pending, 2*time.Minute)
		rep.AuditPayments = env.AuditMoney(t, accounts)
	}) {
		rep.AuditFailures = append(rep.AuditFailures, "the money audit failed: see the test log")
	}
	stop()

	// The floor: the same chain with handlers that do nothing.
	if cfg.url != "" {
		rep.FloorSkipped = "a running FinFlow was measured (BENCH_URL); the floor uses the same app ids and cannot run beside it. Run `make bench` without BENCH_URL for the floor."
	} else {
		// The customers' lists grew during the run: the floor answers
		// pages of the size the listings measured, not the calibration's,
		// and reads as many records per page as they held.
		if l := Peak(rep.Listings); l.BytesIn > 0 {
			for _, kind := range []string{floor.KindBills, floor.KindPayments} {
				if rep.Plan[kind] == nil {
					rep.Plan[kind] = map[string]floor.Step{}
				}
				app := floor.RouteApp(kind)
				step := rep.Plan[kind][app]
				step.Reply = int(l.BytesIn)
				if n := w.ItemsPerPage(kind); n > 0 && step.Gets > 0 {
					step.BulkKeys = n
				}
				rep.Plan[kind][app] = step
			}
		}
		measureFloor(t, cfg, rep, progress)
		measureMinimumFloor(t, cfg, rep, progress)
	}
	rep.Took = time.Since(rep.Started)
	writeReport(t, env.Root, rep)

	// The smoke run checks that the benchmark works, not how fast it is.
	if len(rep.FloorPay) == 0 && cfg.url == "" {
		t.Error("the floor was not measured")
	}
	if rep.Razorpay.Flows == 0 || rep.Razorpay.Success != rep.Razorpay.Flows {
		t.Errorf("Razorpay flow: %d of %d paid orders reached SUCCESS (%v)", rep.Razorpay.Success, rep.Razorpay.Flows, rep.Razorpay.Problems)
	}
	if r := Peak(rep.Reads); r.Throughput == 0 {
		t.Error("no read succeeded")
	}
}

func startFinFlow(cfg config) (*harness.Env, error) {
	if cfg.url == "" {
		return harness.Start(harness.Options{Name: "bench", Settings: benchSettings, Profile: cfg.profile})
	}
	redisAddr := os.Getenv("REDIS_ADDR")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379"
	}
	env, err := harness.Attach(cfg.url, redisAddr)
	if err != nil {
		return nil, err
	}
	for k, v := range benchSettings {
		if err := env.SetSetting(context.Background(), k, v); err != nil {
			return nil, err
		}
	}
	time.Sleep(time.Second) // the gateway applies watched settings within a moment
	return env, nil
}

// requireEveryProcess checks that every app and sidecar of a topology the
// benchmark started was found in /proc (apps by the APP_ID the launcher
// gives them), so that no process's CPU is missing from the report.
func requireEveryProcess(t *testing.T, env *harness.Env, procs []Process) {
	if env.Topology == nil {
		return
	}
	found := map[string]bool{}
	for _, p := range procs {
		found[p.Name] = true
	}
	for _, a := range env.Topology.Apps() {
		for _, name := range []string{a.AppID + " app", a.AppID + " daprd"} {
			if !found[name] {
				t.Errorf("no process %q found in /proc (found %v)", name, procs)
			}
		}
	}
	if !found["redis"] {
		t.Errorf("no redis-server found in /proc")
	}
}

// metricsPorts finds each sidecar's metrics port: from the topology the
// benchmark started, or from the daprd command lines of a running one.
func metricsPorts(env *harness.Env, under int) map[string]int {
	ports := map[string]int{}
	if env.Topology != nil {
		for _, a := range env.Topology.Apps() {
			ports[a.AppID] = a.MetricsPort
		}
		return ports
	}
	procs, _ := FindProcesses(under)
	for _, p := range procs {
		if app, ok := strings.CutSuffix(p.Name, " daprd"); ok {
			if port := MetricsPortOf(p.PID); port > 0 {
				ports[app] = port
			}
		}
	}
	return ports
}

// calibrate sends cfg.calibrate requests of each kind, four at a time, and
// turns the sidecars' counters into per-request figures and the floor plan.
func calibrate(t *testing.T, cfg config, w *Workload, s *Scraper) (map[string]Rates, floor.Plan) {
	ctx := context.Background()
	a, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(cfg.idle)
	b, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idle := Delta(a, b, b.At.Sub(a.At).Seconds())

	per := map[string]Rates{}
	plan := floor.Plan{}
	run := func(kind string, targets []vegeta.Target, onResult func(*vegeta.Result)) {
		q := &Queue{}
		q.Push(targets...)
		before, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l := Attack{Name: "calibrate " + kind, Targeter: q.Targeter(), OnResult: onResult}.Closed(4, 10*time.Minute)
		after, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l.ErrorRate > 0 {
			t.Fatalf("calibrating %s: %s of the requests failed: %v", kind, pct(l.ErrorRate), l.Errors)
		}
		pr := PerRequest(before, after, idle, int(l.Requests))
		per[kind] = pr
		plan[kind] = map[string]floor.Step{}
		for app, c := range pr.Apps {
			evalsha := 0.0
			if app == "gateway" {
				evalsha = pr.Redis["evalsha"]
			}
			step := c.Step(evalsha)
			if app == floor.RouteApp(kind) {
				step.Reply = int(l.BytesIn) // the floor carries an answer of the same size back
			}
			if step.StateOps()+step.Redis+len(step.Calls)+step.Reply > 0 {
				plan[kind][app] = step
			}
		}
	}
	run(floor.KindPay, w.MakeBills(t, cfg.calibrate, "/Payment/pay"), w.RecordPayment)
	var balances, statuses []vegeta.Target
	ps := w.Payments()
	for i := 0; i < cfg.calibrate; i++ {
		u := w.Users[i%len(w.Users)]
		balances = append(balances, JSONTarget(http.MethodGet, w.Env.BaseURL+"/wallet/balance/"+u.ID, u.Token, nil))
		p := ps[i%len(ps)]
		statuses = append(statuses, JSONTarget(http.MethodGet, w.Env.BaseURL+"/Payment/"+p.ID, w.token[p.UserID], nil))
	}
	run(floor.KindBalance, balances, nil)
	run(floor.KindStatus, statuses, nil)
	// Listings of customers who have bills and payments (those the
	// payments above were made for), so that a page costs what it costs.
	var bills, payments []vegeta.Target
	payers := w.Payers()
	for i := 0; i < cfg.calibrate && len(payers) > 0; i++ {
		u := payers[i%len(payers)]
		bills = append(bills, w.ListTarget(floor.KindBills, u))
		payments = append(payments, w.ListTarget(floor.KindPayments, u))
	}
	run(floor.KindBills, bills, nil)
	run(floor.KindPayments, payments, nil)
	return per, plan
}

// measureFloor starts the floor topology with the plan and runs the same
// closed-loop levels and half-peak run.
func measureFloor(t *testing.T, cfg config, rep *Report, progress *os.File) {
	fenv, procs := startFloor(t, "bench-floor", rep.Plan)
	defer fenv.Stop()
	var err error
	payTarget := JSONTarget(http.MethodPost, fenv.BaseURL+"/Payment/pay", "floor", []byte(`{"bill_id":"bill_floor"}`))
	pay := Attack{Name: "floor pay", Targeter: RoundRobin([]vegeta.Target{payTarget}), Procs: procs, Progress: progress}
	if rep.FloorPay, err = pay.Ramp(cfg.levels, cfg.step, nil); err != nil {
		t.Fatal(err)
	}
	rep.FloorPayHalf = halfPeak(pay, Peak(rep.FloorPay).Throughput/2, cfg)
	reads := []vegeta.Target{
		JSONTarget(http.MethodGet, fenv.BaseURL+"/wallet/balance/usr_floor", "floor", nil),
		JSONTarget(http.MethodGet, fenv.BaseURL+"/Payment/pay_floor", "floor", nil),
	}
	r := Attack{Name: "floor reads", Targeter: RoundRobin(reads), Procs: procs, Progress: progress}
	if rep.FloorReads, err = r.Ramp(cfg.levels, cfg.step, nil); err != nil {
		t.Fatal(err)
	}
	lists := []vegeta.Target{
		JSONTarget(http.MethodGet, fenv.BaseURL+"/billing/user/usr_floor?limit=20", "floor", nil),
		JSONTarget(http.MethodGet, fenv.BaseURL+"/Payment/user/usr_floor?limit=20", "floor", nil),
	}
	l := Attack{Name: "floor listings", Targeter: RoundRobin(lists), Procs: procs, Progress: progress}
	if rep.FloorListings, err = l.Ramp(cfg.levels, cfg.step, nil); err != nil {
		t.Fatal(err)
	}
	floorErrors(t, rep, "floor pay", rep.FloorPay)
	floorErrors(t, rep, "floor pay at half peak", []Level{rep.FloorPayHalf})
	floorErrors(t, rep, "floor reads", rep.FloorReads)
	floorErrors(t, rep, "floor listings", rep.FloorListings)
}

// floorErrors fails the run when a floor answered errors at or below its
// own peak: a floor that fails requests is cheaper than one that does
// the work, so the ratios measured against it mean nothing. (Past the
// peak, errors are saturation, noted in the report.)
func floorErrors(t *testing.T, rep *Report, name string, levels []Level) {
	top := Peak(levels)
	peak := top.Concurrency
	if top.Throughput == 0 {
		peak = math.MaxInt // nothing answered: every level is below a peak never reached
	}
	for _, l := range levels {
		if l.ErrorRate == 0 {
			continue
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s had errors at %s: %s of requests, %v", name, l.Label(), pct(l.ErrorRate), l.Errors))
		if l.Concurrency <= peak {
			t.Errorf("%s: %s of the requests failed at %s, at or below the floor's peak (%v): its ratios are not comparable", name, pct(l.ErrorRate), l.Label(), l.Errors)
		}
	}
}

// startFloor starts the floor topology (named name) replaying plan, and
// finds its processes.
func startFloor(t *testing.T, name string, plan floor.Plan) (*harness.Env, []Process) {
	fenv, err := harness.Start(harness.Options{Name: name, RunFile: "tests/bench/floor.dapr.yaml",
		Env: map[string]string{floor.PlanEnv: plan.Encode()}})
	if err != nil {
		t.Fatalf("starting the floor (%s): %v", name, err)
	}
	procs, err := FindProcesses(os.Getpid())
	if err != nil {
		fenv.Stop()
		t.Fatal(err)
	}
	requireEveryProcess(t, fenv, procs)
	return fenv, procs
}

// measureMinimumFloor starts the floor topology again with the
// minimum-hop wallet payment (floor.MinimumPay, docs/minimum-hop.md) and
// runs the same closed-loop levels and half-peak run of payments.
func measureMinimumFloor(t *testing.T, cfg config, rep *Report, progress *os.File) {
	minimum := map[string]floor.Step{}
	for app, step := range floor.MinimumPay {
		step.Reply = rep.Plan.Step(floor.KindPay, app).Reply // the same answer as FinFlow's
		minimum[app] = step
	}
	rep.MinimumPlan = floor.Plan{floor.KindPay: minimum}
	fenv, procs := startFloor(t, "bench-minfloor", rep.MinimumPlan)
	defer fenv.Stop()
	var err error
	payTarget := JSONTarget(http.MethodPost, fenv.BaseURL+"/Payment/pay", "floor", []byte(`{"bill_id":"bill_floor"}`))
	pay := Attack{Name: "minimum-hop floor pay", Targeter: RoundRobin([]vegeta.Target{payTarget}), Procs: procs, Progress: progress}
	if rep.MinFloorPay, err = pay.Ramp(cfg.levels, cfg.step, nil); err != nil {
		t.Fatal(err)
	}
	rep.MinFloorPayHalf = halfPeak(pay, Peak(rep.MinFloorPay).Throughput/2, cfg)
	floorErrors(t, rep, "minimum-hop floor pay", rep.MinFloorPay)
	floorErrors(t, rep, "minimum-hop floor pay at half peak", []Level{rep.MinFloorPayHalf})
}

// profile runs attack a (kind: pay, reads or listings) at concurrency c
// for 12 s and meanwhile takes a 10 s CPU profile of every app, saved as
// <kind>.<app>.cpu.pprof with the top functions in <kind>.<app>.top.txt,
// and a 10 s mutex profile (time waited on locks) in <kind>.<app>.mutex.pprof
// and <kind>.<app>.mutex.txt.
func profile(t *testing.T, env *harness.Env, kind string, a Attack, c int, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Name = kind + " (profiling)"
		a.Closed(c, 12*time.Second)
	}()
	time.Sleep(time.Second)
	var wg sync.WaitGroup
	for app, addr := range env.Pprof {
		for _, p := range []struct{ path, file, top string }{
			{"profile", kind + "." + app + ".cpu.pprof", kind + "." + app + ".top.txt"},
			{"mutex", kind + "." + app + ".mutex.pprof", kind + "." + app + ".mutex.txt"}, // where requests waited on locks
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := saveProfile("http://"+addr+"/debug/pprof/"+p.path+"?seconds=10", filepath.Join(dir, p.file), filepath.Join(dir, p.top)); err != nil {
					t.Errorf("%s of %s: %v", p.path, app, err)
				}
			}()
		}
	}
	wg.Wait()
	<-done
	fmt.Fprintf(os.Stderr, "bench: CPU profiles of every app under %s load in %s\n", kind, dir)
}

// saveProfile fetches a pprof profile from url into file, and its top
// functions into top.
func saveProfile(url, file, top string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		return err
	}
	out, _ := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", file).CombinedOutput()
	return os.WriteFile(top, out, 0o644)
}

func reportDir(root string, rep *Report) string {
	return filepath.Join(root, "var", "bench", rep.Started.Format("20060102-150405")+"-"+rep.Mode)
}

// writeReport writes report.md, throughput.svg, results.json and
// readme-table.md under var/bench/<time>-<mode>, and points
// var/bench/latest at it.
func writeReport(t *testing.T, root string, rep *Report) {
	dir := reportDir(root, rep)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	svg := PlotSVG(fmt.Sprintf("FinFlow vs floor, %s (%s)", rep.Started.Format("2006-01-02"), rep.Machine), []Series{
		{Name: "wallet payments", Color: "#1f77b4", Levels: rep.Pay},
		{Name: "floor: payments", Color: "#1f77b4", Dashed: true, Levels: rep.FloorPay},
		{Name: "reads", Color: "#d62728", Levels: rep.Reads},
		{Name: "floor: reads", Color: "#d62728", Dashed: true, Levels: rep.FloorReads},
		{Name: "listings", Color: "#2ca02c", Levels: rep.Listings},
		{Name: "floor: listings", Color: "#2ca02c", Dashed: true, Levels: rep.FloorListings},
		{Name: "minimum-hop floor: payments", Color: "#9467bd", Dashed: true, Levels: rep.MinFloorPay},
	})
	raw, _ := json.MarshalIndent(rep, "", "  ")
	files := map[string]string{"report.md": rep.Markdown(), "throughput.svg": svg, "results.json": string(raw), "readme-table.md": rep.ReadmeTable()}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	latest := filepath.Join(root, "var", "bench", "latest-"+rep.Mode)
	_ = os.Remove(latest)
	_ = os.Symlink(filepath.Base(dir), latest)
	fmt.Fprintf(os.Stderr, "bench: report in %s\n\n%s\n", dir, rep.ReadmeTable())
}
