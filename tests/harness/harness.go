// Package harness starts the real FinFlow topology for black-box suites:
// its own redis-server on a free port, every app of dapr.yaml beside a real
// daprd (through the same launcher engine `make run` uses), every app on a
// free port, and the runtime settings seeded. Suites drive it through the
// gateway, and crash suites kill and restart single processes through
// Topology.
//
// A suite starts one Env in TestMain and stops it after m.Run. Suites run
// one at a time (`go test -p 1`): two topologies on one machine would
// answer each other's calls, since self-hosted Dapr resolves app ids over
// mDNS, and the launcher refuses to start a second one.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/finflow/finflow/tools/launcher/runfile"
	"github.com/finflow/finflow/tools/launcher/topology"
	"github.com/finflow/finflow/tools/rzpsim/sim"
)

// Options adjust a suite's topology.
type Options struct {
	// Name names the suite in log folders (e2e, money, chaos, ...).
	Name string
	// PersistRedis makes the suite's Redis write every change to an
	// append-only file, so a Redis restart loses nothing (crash suites).
	PersistRedis bool
	// Env is added to every app's environment.
	Env map[string]string
	// Settings override runtime settings before the services start.
	Settings map[string]int64
	// RunFile is the run file to start, relative to the repository root;
	// when empty, the profile's (dapr.yaml, or dapr.postgres.yaml with
	// PROFILE=postgres). The benchmark's floor has its own.
	RunFile string
	// Profile makes every app serve Go's profiles on a loopback port of its
	// own (Env.Pprof).
	Profile bool
	// CheckContract validates every request and answer of Do and Try
	// against the gateway's /openapi.json (Env.ContractViolations).
	CheckContract bool
	// Replicas, when 2, starts the replica topology (replicas.go): two
	// instances of every app but razorpay on two hosts, the gateways behind
	// a round-robin balancer at BaseURL. 0 means FINFLOW_REPLICAS decides
	// (unset: one of each). With replicas, Start first re-runs the test
	// binary in a network namespace of its own (InPrivateNetwork) and
	// exits with its code, so it must be called from TestMain before m.Run,
	// or after TestMain called InPrivateNetwork itself.
	Replicas int
}

// Razorpay is the suite's Razorpay gateway simulator and the test-mode
// credentials FinFlow and it share.
type Razorpay struct {
	Sim                             *sim.Server
	URL                             string
	KeyID, KeySecret, WebhookSecret string
	srv                             *http.Server
}

// Env is a running topology.
type Env struct {
	// Root is the repository's root folder.
	Root string
	// BaseURL is the gateway's address, http://127.0.0.1:<port>.
	BaseURL string
	// RedisAddr is the suite's own Redis.
	RedisAddr string
	// LogDir holds console.log and every app's and sidecar's log.
	LogDir string
	// Topology controls the processes (kill, restart).
	Topology *topology.Topology
	// Razorpay is the gateway simulator the razorpay service talks to.
	Razorpay *Razorpay
	// AdminToken is a dev token with the admin role; Do sends it unless told
	// otherwise.
	AdminToken string
	// Pprof maps each app id to the address of its profiles (with
	// Options.Profile).
	Pprof map[string]string
	// Metrics maps each app id to the address of its Prometheus metrics
	// (GET /metrics); with replicas, to a loopback server that adds up its
	// instances' metrics.
	Metrics map[string]string
	// InstanceMetrics maps each instance (topology.App.Instance) to the
	// address of its own metrics.
	InstanceMetrics map[string]string
	// Profile is the backend profile the topology runs on (ProfileRedis,
	// ProfilePostgres).
	Profile string

	redis      *exec.Cmd
	redisDone  chan struct{}
	redisArgs  []string
	redisDir   string
	console    *os.File
	rdb        *redis.Client
	settingVer int
	contract   *contract
	backends   *postgresBackends
	replicas   *replicas
	started    ClockMark // when Start began: Finish reports a clock step since
}

// Start brings the topology up. The error says what is missing (daprd,
// redis-server) and how to get it; it never skips.
func Start(opts Options) (*Env, error) {
	if opts.Name == "" {
		opts.Name = "e2e"
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	daprd := topology.FindDaprd(root)
	if err := topology.CheckDaprd(daprd); err != nil {
		return nil, fmt.Errorf("%w (the end-to-end suites need the real sidecar: run `make daprd` or `make test`)", err)
	}
	sentry := topology.FindSentry(root, daprd)
	if sentry == "" {
		return nil, errors.New("no sentry binary: the suites run with mTLS and access control; run `make daprd`, which builds it")
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not installed; the end-to-end suites start their own Redis: install it (apt-get install redis-server) or run `make test`, which installs it where it can")
	}

	if opts.Replicas == 0 {
		if opts.Replicas, err = ReplicasFromEnv(); err != nil {
			return nil, err
		}
	}
	if opts.Replicas > 1 && Profile() != ProfileRedis {
		return nil, fmt.Errorf("the replica topology runs on the redis profile only (PROFILE=%s keeps state in this machine's PostgreSQL and RabbitMQ, which the suite's private network namespace cannot reach)", Profile())
	}
	if opts.Replicas > 1 {
		code, reran, err := InPrivateNetwork()
		if err != nil {
			return nil, err
		}
		if reran {
			os.Exit(code)
		}
		opts.Name += "-replicas"
	}

	logDir := filepath.Join(root, "var", "test-logs", opts.Name+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	e := &Env{Root: root, LogDir: logDir, started: MarkClock()}
	ok := false
	defer func() {
		if !ok {
			e.Stop()
		}
	}()
	redisBind := "127.0.0.1"
	if opts.Replicas > 1 {
		e.replicas = &replicas{}
		if e.replicas.network, err = topology.NewNetwork(context.Background()); err != nil {
			return nil, err
		}
		if e.replicas.balancer, err = newBalancer(); err != nil {
			return nil, err
		}
		// One Redis on host a, which host b reaches over the link.
		redisBind = topology.HostAIP
	}
	if err := e.startRedis(redisBin, opts.PersistRedis, redisBind); err != nil {
		return nil, err
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	for k, v := range opts.Settings {
		if err := e.rdb.Set(context.Background(), k, fmt.Sprintf("%d||1", v), 0).Err(); err != nil {
			return nil, err
		}
	}
	if _, _, err := topology.SeedSettings(context.Background(), e.RedisAddr, filepath.Join(root, "config", "runtime-settings.yaml")); err != nil {
		return nil, err
	}

	e.Profile = Profile()
	var overrides []topology.MetadataOverride
	if opts.RunFile == "" {
		if opts.RunFile, err = runFileFor(e.Profile); err != nil {
			return nil, err
		}
		if e.Profile == ProfilePostgres {
			if e.backends, overrides, err = startPostgresBackends(opts.Name); err != nil {
				return nil, err
			}
		}
	}
	rf, err := runfile.Load(filepath.Join(root, opts.RunFile))
	if err != nil {
		return nil, err
	}
	for i := range rf.Apps {
		port, err := topology.FreePort()
		if err != nil {
			return nil, err
		}
		rf.Apps[i].AppPort = port
		if rf.Apps[i].Env == nil {
			rf.Apps[i].Env = map[string]string{}
		}
		for k, v := range opts.Env {
			rf.Apps[i].Env[k] = v
		}
		rf.Apps[i].Env["REDIS_ADDR"] = e.RedisAddr
		if opts.Profile {
			pport, err := topology.FreePort()
			if err != nil {
				return nil, err
			}
			if e.Pprof == nil {
				e.Pprof = map[string]string{}
			}
			e.Pprof[rf.Apps[i].AppID] = "127.0.0.1:" + strconv.Itoa(pport)
			rf.Apps[i].Env["PPROF_ADDR"] = e.Pprof[rf.Apps[i].AppID]
		}
		if rf.Apps[i].AppID == "gateway" {
			// Tests reach the gateway on loopback only, and check that a slow
			// client is cut off (after 2 s instead of 10).
			rf.Apps[i].Env["BIND_HOST"] = "127.0.0.1"
			rf.Apps[i].Env["HTTP_READ_TIMEOUT"] = "2s"
			e.BaseURL = "http://127.0.0.1:" + strconv.Itoa(port)
		}
	}
	topts := topology.Options{}
	if e.replicas != nil {
		e.BaseURL = e.replicas.balancer.url
		topts.Hosts = e.replicas.network.Hosts
		topts.Replicas = map[string]int{}
		for _, app := range ReplicatedApps {
			topts.Replicas[app] = opts.Replicas
		}
	}
	if err := e.startRazorpay(); err != nil {
		return nil, err
	}
	if err := e.rdb.Set(context.Background(), "razorpay.api_base_url", e.Razorpay.URL+"||1", 0).Err(); err != nil {
		return nil, err
	}
	e.console, err = os.Create(filepath.Join(logDir, "console.log"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "harness: starting FinFlow (%d apps, %s profile, Redis %s); logs in %s\n", len(rf.Apps), e.Profile, e.RedisAddr, logDir)
	t, err := topology.Start(context.Background(), topology.Options{
		Replicas:     topts.Replicas,
		Hosts:        topts.Hosts,
		RunFile:      rf,
		Daprd:        daprd,
		Sentry:       sentry,
		AppConfigDir: filepath.Join(root, "config", "secure"),
		Console:      e.console,
		LogDir:       logDir,
		RedisAddr:    e.RedisAddr,
		Metadata:     overrides,
		ReadyTimeout: 5 * time.Minute,
		StopGrace:    10 * time.Second,
		// Up only once the services can call each other (the gateway's GET
		// /health ok for every service); otherwise one line says why. A
		// loaded CI machine gets as long as the suites always gave it.
		ServiceCall: topology.GatewayHealth(rf),
		CallTimeout: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the topology: %w (console: %s)", err, e.console.Name())
	}
	e.Topology = t
	// The launcher picks every app's metrics address from the run's ports.
	e.Metrics, e.InstanceMetrics = map[string]string{}, map[string]string{}
	for _, a := range t.Apps() {
		e.InstanceMetrics[a.Instance] = a.MetricsAddr
		if a.Index == 0 {
			e.Metrics[a.AppID] = a.MetricsAddr
		}
	}
	if e.replicas != nil {
		if err := e.startReplicas(); err != nil {
			return nil, err
		}
	}
	if e.AdminToken, err = e.devToken("admin-"+opts.Name, "admin"); err != nil {
		return nil, err
	}
	if opts.CheckContract {
		if e.contract, err = loadContract(e.BaseURL); err != nil {
			return nil, err
		}
	}
	ok = true
	return e, nil
}

// Attach uses a FinFlow that is already running (`make run`) at baseURL,
// in dev mode, with its configuration store in the Redis at redisAddr. It
// cannot kill or restart processes (Topology is nil) and has no simulator.
func Attach(baseURL, redisAddr string) (*Env, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	e := &Env{Root: root, BaseURL: strings.TrimRight(baseURL, "/"), RedisAddr: redisAddr}
	if err := e.WaitHealthy(10 * time.Second); err != nil {
		return nil, fmt.Errorf("the FinFlow at %s is not healthy: %w", baseURL, err)
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: redisAddr})
	if e.AdminToken, err = e.devToken("admin-attached", "admin"); err != nil {
		return nil, fmt.Errorf("%w (is the gateway in dev mode?)", err)
	}
	return e, nil
}

// devToken asks the gateway (in dev mode) for a token.
func (e *Env) devToken(sub, role string) (string, error) {
	body, _ := json.Marshal(map[string]string{"sub": sub, "role": role})
	resp, err := http.Post(e.BaseURL+"/auth/dev-token", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.Token == "" {
		return "", fmt.Errorf("POST /auth/dev-token = %d (%v)", resp.StatusCode, err)
	}
	return out.Token, nil
}

// Token returns a dev token for sub and role.
func (e *Env) Token(tb testing.TB, sub, role string) string {
	tb.Helper()
	tok, err := e.devToken(sub, role)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// WaitHealthy polls the gateway's GET /health until it answers 200.
func (e *Env) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.BaseURL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("GET /health not 200 after %s (last: %s)", timeout, last)
}

// startRazorpay serves the gateway simulator on a free port, with the
// test-mode keys of config/test-mode-secrets.json and webhooks to the
// gateway. Deliveries are retried quickly (from 200 ms, at most every 2 s).
func (e *Env) startRazorpay() error {
	raw, err := os.ReadFile(filepath.Join(e.Root, "config", "test-mode-secrets.json"))
	if err != nil {
		return err
	}
	var secrets struct {
		Razorpay struct {
			KeyID         string `json:"key_id"`
			KeySecret     string `json:"key_secret"`
			WebhookSecret string `json:"webhook_secret"`
		} `json:"razorpay"`
	}
	if err := json.Unmarshal(raw, &secrets); err != nil {
		return fmt.Errorf("test-mode secrets: %w", err)
	}
	r := &Razorpay{KeyID: secrets.Razorpay.KeyID, KeySecret: secrets.Razorpay.KeySecret, WebhookSecret: secrets.Razorpay.WebhookSecret}
	r.Sim = sim.New(sim.Config{KeyID: r.KeyID, KeySecret: r.KeySecret, WebhookSecret: r.WebhookSecret,
		WebhookURL: e.BaseURL + "/razorpay/webhook", FirstRetry: 200 * time.Millisecond, MaxRetry: 2 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.URL = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: r.Sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	e.Razorpay = r
	return nil
}

// Stop stops the topology, the simulator and the suite's Redis.
func (e *Env) Stop() {
	if e.Topology != nil {
		e.Topology.Stop()
	}
	e.replicas.close()
	if e.Razorpay != nil {
		_ = e.Razorpay.srv.Close()
		e.Razorpay.Sim.Close()
	}
	if e.rdb != nil {
		e.rdb.Close()
	}
	e.stopRedis()
	e.backends.stop()
	if e.console != nil {
		e.console.Close()
	}
}

// startRedis runs a private redis-server on a free port.
func (e *Env) startRedis(bin string, persist bool, bind string) error {
	port, err := topology.FreePort()
	if err != nil {
		return err
	}
	e.redisDir = filepath.Join(e.LogDir, "redis")
	if err := os.MkdirAll(e.redisDir, 0o755); err != nil {
		return err
	}
	appendonly := "no"
	if persist {
		appendonly = "yes"
	}
	e.RedisAddr = net.JoinHostPort(bind, strconv.Itoa(port))
	e.redisArgs = []string{bin, "--port", strconv.Itoa(port), "--bind", bind, "--dir", e.redisDir,
		"--save", "", "--appendonly", appendonly, "--appendfsync", "always",
		"--notify-keyspace-events", topology.KeyspaceEvents, // as the launcher's: a restarted Redis still tells settings changes
		"--logfile", filepath.Join(e.redisDir, "redis.log")}
	if bind != "127.0.0.1" {
		// Reached from the other host, in the suite's private network: Redis
		// refuses non-loopback clients without a password otherwise.
		e.redisArgs = append(e.redisArgs, "--protected-mode", "no")
	}
	return e.launchRedis()
}

func (e *Env) launchRedis() error {
	cmd := exec.Command(e.redisArgs[0], e.redisArgs[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	e.redis, e.redisDone = cmd, make(chan struct{})
	done := e.redisDone
	go func() { _ = cmd.Wait(); close(done) }()
	for i := 0; i < 100; i++ {
		if topology.PingRedis(context.Background(), e.RedisAddr) == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer; see %s", e.RedisAddr, filepath.Join(e.redisDir, "redis.log"))
}

func (e *Env) stopRedis() {
	if e.redis == nil || e.redis.Process == nil {
		return
	}
	_ = e.redis.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.redisDone:
	case <-time.After(10 * time.Second):
		_ = e.redis.Process.Kill()
		<-e.redisDone
	}
	e.redis = nil
}

// RestartRedis kills the suite's Redis (SIGKILL) and starts it again on the
// same port and data folder.
func (e *Env) RestartRedis() error {
	if e.redis != nil && e.redis.Process != nil {
		_ = e.redis.Process.Kill()
		<-e.redisDone
	}
	return e.launchRedis()
}

// Redis returns a client of the suite's Redis, for checks behind the API.
func (e *Env) Redis() *redis.Client { return e.rdb }

// SetSetting changes a runtime setting in the configuration store, as an
// operator would with redis-cli.
func (e *Env) SetSetting(ctx context.Context, key string, value int64) error {
	e.settingVer++
	return e.rdb.Set(ctx, key, fmt.Sprintf("%d||%d", value, 100+e.settingVer), 0).Err()
}

// repoRoot walks up from the working directory to the folder with go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.work above the working directory; run the suites from the FinFlow checkout")
		}
		dir = parent
	}
}

// SecretsInLogs reports every secret of the run (the test-mode secrets,
// the sidecar tokens, the admin token) that appears in any log file, as
// "file: secret name". It is empty when the logs are clean.
func (e *Env) SecretsInLogs() []string {
	secrets := map[string]string{"admin token": e.AdminToken}
	raw, _ := os.ReadFile(filepath.Join(e.Root, "config", "test-mode-secrets.json"))
	var file map[string]map[string]string
	_ = json.Unmarshal(raw, &file)
	for store, kv := range file {
		for k, v := range kv {
			// Public values: the key id clients see, public keys, labels.
			if k == "mode" || k == "key_id" || strings.Contains(k, "public_key") {
				continue
			}
			secrets[store+"."+k] = v
		}
	}
	for _, a := range e.Topology.Apps() {
		secrets[a.Instance+" dapr api token"] = a.APIToken
		secrets[a.Instance+" app api token"] = a.AppToken
	}
	var found []string
	_ = filepath.WalkDir(e.LogDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return nil
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for name, v := range secrets {
			if len(v) >= 8 && strings.Contains(string(content), v) {
				found = append(found, filepath.Base(path)+": "+name)
			}
		}
		return nil
	})
	return found
}

// ConsoleTail returns the last n lines of the topology's console log.
func (e *Env) ConsoleTail(n int) string {
	raw, err := os.ReadFile(filepath.Join(e.LogDir, "console.log"))
	if err != nil {
		return ""
	}
	return LastLines(string(raw), n)
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every 200 ms until it holds, failing the test after
// timeout.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Finish ends a suite's TestMain after m.Run returned code: the run fails
// if any exchange disagreed with /openapi.json (with Options.CheckContract)
// or any secret or token reached a log line; a failed run prints where its
// logs are and the console's tail. It stops the topology and returns the
// exit code.
func (e *Env) Finish(name string, code int) int {
	if violations, checked := e.ContractViolations(); len(violations) > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d of %d exchanges disagree with /openapi.json:\n  %s\n", name, len(violations), checked, strings.Join(violations, "\n  "))
		code = 1
	}
	if leaks := e.SecretsInLogs(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "secrets found in the logs: %v\n", leaks)
		code = 1
	}
	if rep, err := e.Replicas(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		code = 1
	} else if rep != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, rep)
		for _, p := range rep.Problems {
			fmt.Fprintf(os.Stderr, "%s: %s\n", name, p)
			code = 1
		}
	}
	if step := e.started.Stepped(); step.Abs() > clockStepTolerance {
		// Said whether or not the run failed: a deadline that passed early
		// explains a failure, and a pass that saw one is worth knowing.
		fmt.Fprintf(os.Stderr, "%s: the machine's wall clock stepped %s against its monotonic clock during the suite (a paused machine, or NTP): FinFlow's wall-clock deadlines passed that much early\n", name, step)
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "%s: failed; logs in %s; console tail:\n%s\n", name, e.LogDir, e.ConsoleTail(40))
	}
	e.Stop()
	return code
}

// startReplicas puts both gateways behind the balancer, waits until each
// answers GET /health (every service reached through its sidecar), serves
// each replicated app's summed metrics, and starts counting the calls that
// cross hosts.
func (e *Env) startReplicas() error {
	var gateways []string
	for _, a := range e.Topology.Instances("gateway") {
		gateways = append(gateways, a.Reach(a.AppPort))
	}
	e.replicas.balancer.setBackends(gateways)
	for _, g := range gateways {
		if err := (&Env{BaseURL: "http://" + g}).WaitHealthy(2 * time.Minute); err != nil {
			return fmt.Errorf("gateway %s: %w", g, err)
		}
	}
	for _, app := range ReplicatedApps {
		var addrs []string
		for _, a := range e.Topology.Instances(app) {
			addrs = append(addrs, a.MetricsAddr)
		}
		srv, addr, err := serveMergedMetrics(addrs)
		if err != nil {
			return err
		}
		e.replicas.metrics = append(e.replicas.metrics, srv)
		e.Metrics[app] = addr
	}
	e.replicas.started = map[string]int64{}
	for _, a := range e.Topology.Apps() {
		n, err := WorkServed(a.MetricsAddr)
		if err != nil {
			return fmt.Errorf("reading %s's metrics: %w", a.Instance, err)
		}
		e.replicas.started[a.Instance] = n
	}
	var err error
	e.replicas.acct, err = newCrossHostCounters(context.Background(), e.Topology)
	return err
}
