// Package launcher tests FinFlow's launcher (tools/launcher) as a user runs
// it: the built command on a copy of dapr.yaml, real daprd sidecars, a real
// Redis. It checks that `dapr list`, `dapr stop -f` and the Dapr dashboard
// see a `make run` whole (doing what those tools do, without them), that
// FinFlow is declared up only once the services can call each other, the
// one-line errors for a taken port, a missing Redis and a machine without
// multicast (in network namespaces of their own), that a dead app is
// reported loudly, and that stopping leaves no process behind.
package launcher

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"gopkg.in/yaml.v3"

	"github.com/finflow/finflow/tools/launcher/runfile"
	"github.com/finflow/finflow/tools/launcher/topology"
)

var (
	root     string
	launcher string
	daprd    string
)

func TestMain(m *testing.M) {
	var err error
	root, err = filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	daprd = topology.FindDaprd(root)
	if err := topology.CheckDaprd(daprd); err != nil {
		fmt.Fprintf(os.Stderr, "launcher tests: %v\n", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "finflow-launcher-test-")
	if err != nil {
		panic(err)
	}
	launcher = filepath.Join(dir, "finflow-run")
	build := exec.Command("go", "build", "-o", launcher, "./tools/launcher")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the launcher: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runFile writes a copy of the repository's dapr.yaml (common settings
// merged into each app, paths absolute) with every app on a free port and
// the gateway on loopback, and returns its path and the gateway's port.
// The launcher runs it with -root at the repository, so that it finds
// Sentry, the access policies and the simulator as `make run` does.
func runFile(t *testing.T, adjust func(*runfile.App)) (string, int) {
	t.Helper()
	rf, err := runfile.Load(filepath.Join(root, "dapr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	gateway := 0
	for i := range rf.Apps {
		port, err := topology.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		rf.Apps[i].AppPort = port
		if rf.Apps[i].AppID == "gateway" {
			gateway = port
			if rf.Apps[i].Env == nil {
				rf.Apps[i].Env = map[string]string{}
			}
			rf.Apps[i].Env["BIND_HOST"] = "127.0.0.1"
		}
		if adjust != nil {
			adjust(&rf.Apps[i])
		}
	}
	raw, err := yaml.Marshal(struct {
		Version int           `yaml:"version"`
		Name    string        `yaml:"name"`
		Apps    []runfile.App `yaml:"apps"`
	}{1, rf.Name, rf.Apps})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dapr.yaml")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, gateway
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := topology.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// launcherArgs are the arguments every run gets: this repository's daprd
// and folder.
func launcherArgs(args ...string) []string {
	return append([]string{"-daprd", daprd, "-root", root}, args...)
}

// runToFailure runs the launcher (through wrap, when given, e.g. in a
// network namespace) and expects it to fail with a one-line error
// containing every one of want, without ever saying FinFlow is up and
// without leaving a process behind.
func runToFailure(t *testing.T, wrap func(argv ...string) *exec.Cmd, want []string, args ...string) string {
	t.Helper()
	argv := append([]string{launcher}, launcherArgs(args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if wrap != nil {
		cmd = wrap(argv...)
	}
	cmd.Dir = root
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tree := watchTree(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("launcher still running after 5 minutes instead of failing; output:\n%s", stdout.String())
	}
	seen := tree()
	if err == nil {
		t.Fatalf("launcher succeeded, want a failure mentioning %q; output:\n%s", want, stdout.String())
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 {
		t.Fatalf("stderr = %q, want one line", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Fatalf("stderr = %q, want it to mention %q", msg, w)
		}
	}
	if strings.Contains(stdout.String(), "FinFlow is up") {
		t.Fatalf("the launcher said FinFlow is up before failing with %q", msg)
	}
	time.Sleep(200 * time.Millisecond)
	for _, pid := range seen {
		if alive(pid) {
			t.Errorf("process %d %v outlived the failed launcher", pid, cmdline(pid))
		}
	}
	return msg
}

// watchTree notes every process below pid until the returned function is
// called, and returns them all.
func watchTree(pid int) func() []int {
	var (
		mu   sync.Mutex
		seen = map[int]bool{}
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			mu.Lock()
			for _, p := range descendants(pid) {
				seen[p] = true
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() []int {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		var out []int
		for p := range seen {
			out = append(out, p)
		}
		return out
	}
}

// takenPort listens on a free port until the test ends, and returns it.
func takenPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTakenPortIsAOneLineError(t *testing.T) {
	taken := takenPort(t)
	f, _ := runFile(t, func(a *runfile.App) {
		if a.AppID == "user" {
			a.AppPort = taken
		}
	})
	redisAddr := startRedis(t)
	runToFailure(t, nil, []string{fmt.Sprintf("port %d (app user) is already in use", taken)}, "-f", f, "-redis", redisAddr)
}

// A port the checks before the start cannot know about (the simulator's)
// is named from what the process that could not listen printed.
func TestTakenSimulatorPortIsAOneLineError(t *testing.T) {
	taken := takenPort(t)
	f, _ := runFile(t, nil)
	runToFailure(t, nil, []string{fmt.Sprintf("port %d is already in use (rzpsim could not listen on it)", taken), "ss -ltnp"},
		"-f", f, "-redis", startRedis(t), "-razorpay-sim", fmt.Sprintf("127.0.0.1:%d", taken))
}

func TestMissingRedisIsAOneLineError(t *testing.T) {
	f, _ := runFile(t, nil)
	runToFailure(t, nil, []string{"Redis is not answering"}, "-f", f, "-redis", freeAddr(t))
}

// In a network namespace whose loopback cannot carry multicast, Dapr's
// mDNS name resolution cannot work: the launcher says so, and how to fix
// it, before it starts anything.
func TestNoMulticastIsAOneLineError(t *testing.T) {
	f, _ := runFile(t, nil)
	msg := runToFailure(t, inNetNamespace(t, "true"),
		[]string{"no network interface that is up can carry multicast", "up without MULTICAST: lo", "mDNS", "ip link set lo multicast on"},
		"-f", f, "-start-redis", "-redis", freeAddr(t), "-redis-dir", t.TempDir())
	t.Logf("launcher: %s", msg)
}

// When multicast is there but filtered, every app and sidecar is healthy
// and still no service can reach another: the launcher must not say
// FinFlow is up, and must say why.
func TestCallsBetweenServicesMustWork(t *testing.T) {
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatal("iptables is needed to filter multicast in this test's network namespace: apt-get install iptables")
	}
	f, _ := runFile(t, nil)
	msg := runToFailure(t, inNetNamespace(t, "ip link set lo multicast on && iptables -A OUTPUT -d 224.0.0.0/4 -j DROP"),
		[]string{"calls between services still fail", "GET /health on gateway: 503", "couldn't find service", "mDNS lookups get no answer"},
		"-f", f, "-start-redis", "-redis", freeAddr(t), "-redis-dir", t.TempDir(), "-call-timeout", "10s")
	t.Logf("launcher: %s", msg)
}

// inNetNamespace returns a wrapper that runs a command in a network
// namespace of its own (a user namespace too when not root), with its
// loopback up and setup (shell commands) run first. A fresh namespace's
// loopback has no MULTICAST flag.
func inNetNamespace(t *testing.T, setup string) func(argv ...string) *exec.Cmd {
	t.Helper()
	for _, bin := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed to run the launcher in a network namespace of its own: apt-get install util-linux iproute2", bin)
		}
	}
	flags := []string{"--net"}
	if os.Geteuid() != 0 {
		flags = append(flags, "--map-root-user")
	}
	if out, err := exec.Command("unshare", append(flags, "true")...).CombinedOutput(); err != nil {
		t.Fatalf("cannot create a network namespace (unshare %v: %v: %s): run the launcher tests as root or where user namespaces are allowed", flags, err, out)
	}
	return func(argv ...string) *exec.Cmd {
		script := "ip link set lo up && " + setup + ` && exec "$@"`
		return exec.Command("unshare", append(append(flags, "sh", "-c", script, "sh"), argv...)...)
	}
}

// startRedis runs a throwaway redis-server for the test.
func startRedis(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if topology.PingRedis(context.Background(), addr) == nil {
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-server on %s did not answer", addr)
	return ""
}

// output collects the launcher's stdout and lets a test wait for a line.
type output struct {
	mu     sync.Mutex
	lines  []string
	closed bool // the launcher's stdout ended
}

func (o *output) add(l string) {
	o.mu.Lock()
	o.lines = append(o.lines, l)
	o.mu.Unlock()
}

func (o *output) waitFor(t *testing.T, timeout time.Duration, contains string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		for _, l := range o.lines {
			if strings.Contains(l, contains) {
				o.mu.Unlock()
				return l
			}
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.mu.Lock()
	tail := o.lines
	if len(tail) > 30 {
		tail = tail[len(tail)-30:]
	}
	o.mu.Unlock()
	t.Fatalf("no output line with %q (waited up to %s, or the launcher ended); last lines:\n%s", contains, timeout, strings.Join(tail, "\n"))
	return ""
}

// TestMakeRunAsTheDaprToolsSeeIt runs FinFlow as `make run` does (the
// launcher starting its own Redis, seeding the settings, running Sentry
// and the Razorpay simulator; only the ports are free ones) and looks at it
// as the Dapr CLI and dashboard do: `dapr list` finds every sidecar with
// every field filled, the dashboard reads each sidecar's components,
// subscriptions and app connection without a token, an app that dies is
// reported loudly, and `dapr stop -f` stops it all and leaves nothing
// behind.
func TestMakeRunAsTheDaprToolsSeeIt(t *testing.T) {
	f, gatewayPort := runFile(t, nil)
	rf, err := runfile.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	redisAddr, simAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(launcher, launcherArgs("-f", f, "-start-redis", "-redis", redisAddr, "-redis-dir", t.TempDir(),
		"-seed-settings", filepath.Join(root, "config", "runtime-settings.yaml"), "-razorpay-sim", simAddr)...)
	cmd.Dir = root
	if hasTerminal() {
		// As a shell starts a job: in a terminal the launcher stays in its
		// job's process group, which here would be the test's own.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	launcherPID := cmd.Process.Pid
	out := &output{}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			out.add(sc.Text())
		}
		out.mu.Lock()
		out.closed = true
		out.mu.Unlock()
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGINT)
			_ = cmd.Wait()
		}
	})

	out.waitFor(t, 5*time.Minute, "FinFlow is up: GET /health on gateway answered ok")
	out.waitFor(t, time.Second, "sentry is up")
	out.waitFor(t, time.Second, "started redis-server on "+redisAddr)
	out.waitFor(t, time.Second, "Razorpay simulator: http://"+simAddr)
	out.waitFor(t, time.Second, "dapr stop -f "+f)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", gatewayPort))
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /health = %d %s", resp.StatusCode, body)
	}
	// Both kinds of output reach the console with the app's prefix.
	out.waitFor(t, time.Second, "user-daprd")
	out.waitFor(t, time.Second, `"service":"user"`)

	// Like `dapr run -f`, the launcher leads a process group of its own:
	// the one `dapr stop -f` interrupts.
	if pgid, err := syscall.Getpgid(launcherPID); err != nil || pgid != launcherPID {
		t.Fatalf("Getpgid(launcher %d) = %d, %v; want its own group", launcherPID, pgid, err)
	}

	tree := descendants(launcherPID)
	inTree := map[int]bool{}
	for _, pid := range tree {
		inTree[pid] = true
	}
	apps := map[string]runfile.App{}
	for _, a := range rf.Apps {
		apps[a.AppID] = a
	}
	var rows []listRow
	for _, row := range daprList(t) {
		if inTree[row.DaprdPID] {
			rows = append(rows, row)
		}
	}

	t.Run("dapr list", func(t *testing.T) {
		if len(rows) != len(apps) {
			t.Fatalf("dapr list shows %d sidecars of this run, want %d: %+v", len(rows), len(apps), rows)
		}
		ports := map[int]string{}
		for _, row := range rows {
			a, ok := apps[row.AppID]
			if !ok {
				t.Errorf("dapr list shows app id %q, which the run file does not have", row.AppID)
				continue
			}
			delete(apps, row.AppID)
			checkRow(t, row, a, f, rf.Name, launcherPID)
			for _, p := range []int{row.HTTPPort, row.GRPCPort} {
				if other, dup := ports[p]; dup {
					t.Errorf("port %d shown for two sidecars (%s and %s)", p, other, row.AppID)
				}
				ports[p] = row.AppID
			}
		}
		if len(apps) > 0 {
			t.Errorf("dapr list misses %v", slices.Sorted(maps.Keys(apps)))
		}
	})

	t.Run("dapr list parses every flag", func(t *testing.T) {
		sidecars, sentries := 0, 0
		seenPorts := map[string]string{}
		for _, pid := range tree {
			args := cmdline(pid)
			if len(args) == 0 {
				continue
			}
			switch filepath.Base(args[0]) {
			case "sentry", "finflow-sentry":
				sentries++
				continue
			case "daprd":
			default:
				continue
			}
			sidecars++
			flags := map[string]string{}
			for i := 1; i < len(args); i++ {
				if strings.HasPrefix(args[i], "--") && strings.Contains(args[i], "=") {
					t.Fatalf("daprd flag %q is --flag=value; dapr list needs --flag value", args[i])
				}
				if strings.ContainsAny(args[i], " \t") {
					t.Fatalf("daprd argument %q has white space; dapr list splits the command line at white space", args[i])
				}
				if strings.HasPrefix(args[i], "--") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
					flags[args[i]] = args[i+1]
				}
			}
			if !slices.Contains(args, "--enable-mtls") || flags["--sentry-address"] == "" {
				t.Fatalf("daprd %v runs without mTLS", args)
			}
			for _, f := range []string{"--app-id", "--dapr-http-port", "--dapr-grpc-port", "--app-port", "--metrics-port", "--dapr-internal-grpc-port"} {
				v := flags[f]
				if v == "" {
					t.Fatalf("daprd %v lacks %s", args, f)
				}
				if f != "--app-id" && f != "--app-port" {
					if other, dup := seenPorts[v]; dup {
						t.Fatalf("port %s used by two sidecars (%s and %s)", v, other, flags["--app-id"])
					}
					seenPorts[v] = flags["--app-id"]
				}
			}
		}
		if sidecars != len(rf.Apps) || sentries != 1 {
			t.Fatalf("found %d daprd and %d sentry processes under the launcher, want %d and 1", sidecars, sentries, len(rf.Apps))
		}
	})

	t.Run("the dashboard", func(t *testing.T) {
		want := scopedComponents(t, filepath.Join(root, "components"))
		subscribers := 0
		for _, row := range rows {
			a := appOf(rf, row.AppID)
			md, err := dashboardMetadata(row)
			if err != nil {
				t.Errorf("%s: the dashboard cannot read the sidecar's metadata: %v", row.AppID, err)
				continue
			}
			if md.ID != row.AppID || !strings.HasPrefix(md.RuntimeVersion, "1.14.") {
				t.Errorf("%s: metadata id %q, runtime %q; want %q, 1.14.x", row.AppID, md.ID, md.RuntimeVersion, row.AppID)
			}
			var loaded []string
			for _, c := range md.Components {
				loaded = append(loaded, c.Name+" ("+c.Type+")")
			}
			slices.Sort(loaded)
			if !slices.Equal(loaded, want[row.AppID]) {
				t.Errorf("%s: the dashboard shows components %v, want %v (components/ with their scopes)", row.AppID, loaded, want[row.AppID])
			}
			for _, sub := range md.Subscriptions {
				subscribers++
				if !slices.ContainsFunc(md.Components, func(c loadedComponent) bool { return c.Name == sub.PubsubName }) || sub.Topic == "" {
					t.Errorf("%s: subscription %+v is not on a pub/sub component it loaded", row.AppID, sub)
				}
			}
			acp := md.AppConnectionProperties
			if acp.Port != a.AppPort || acp.Protocol != a.AppProtocol || acp.Health.HealthCheckPath != a.AppHealthCheckPath ||
				acp.Health.HealthProbeInterval != fmt.Sprintf("%ds", a.AppHealthProbeInterval) || acp.Health.HealthThreshold != a.AppHealthThreshold {
				t.Errorf("%s: the dashboard shows the app connection %+v, want port %d, %s, health %s every %ds, threshold %d",
					row.AppID, acp, a.AppPort, a.AppProtocol, a.AppHealthCheckPath, a.AppHealthProbeInterval, a.AppHealthThreshold)
			}
			for _, k := range []string{"cliPID", "appPID", "appCommand", "runTemplatePath", "runTemplateName", "appLogPath", "daprdLogPath"} {
				if md.Extended[k] == "" {
					t.Errorf("%s: the dashboard shows no %s", row.AppID, k)
				}
			}
		}
		if subscribers == 0 {
			t.Errorf("no sidecar shows a subscription; the payment service subscribes to the Razorpay results")
		}
	})

	// An app that dies is reported loudly.
	var wallet int
	for _, pid := range tree {
		if args := cmdline(pid); len(args) > 0 && filepath.Base(args[0]) == "wallet" {
			wallet = pid
		}
	}
	if wallet == 0 {
		t.Fatalf("no wallet process found under the launcher")
	}
	_ = syscall.Kill(wallet, syscall.SIGKILL)
	out.waitFor(t, 20*time.Second, "!!! wallet app")

	// `dapr stop -f` finds the run by its file, interrupts the launcher's
	// process group, and everything stops, Redis included.
	tree = descendants(launcherPID)
	if err := daprStop(t, filepath.Join(t.TempDir(), "dapr.yaml")); err == nil || !strings.Contains(err.Error(), "couldn't find apps with run file") {
		t.Fatalf("dapr stop -f <another run file> = %v, want it to find no apps", err)
	}
	if err := daprStop(t, filepath.Dir(f)); err != nil {
		t.Fatalf("dapr stop -f %s: %v", filepath.Dir(f), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("launcher exited with %v after dapr stop -f, want 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("launcher still running 60s after dapr stop -f")
	}
	time.Sleep(200 * time.Millisecond)
	for _, pid := range tree {
		if alive(pid) {
			t.Errorf("process %d %v outlived the launcher", pid, cmdline(pid))
		}
	}
	if topology.PingRedis(context.Background(), redisAddr) == nil {
		t.Errorf("the Redis the launcher started still answers on %s", redisAddr)
	}
	if rows := daprList(t); slices.ContainsFunc(rows, func(r listRow) bool { return r.RunTemplatePath == f }) {
		t.Errorf("dapr list still shows sidecars of the run after dapr stop -f")
	}
}

// checkRow compares one `dapr list` row with the app it must show, the run
// file, the launcher and the processes themselves.
func checkRow(t *testing.T, row listRow, a runfile.App, runFile, runName string, launcherPID int) {
	t.Helper()
	bad := func(field string, got, want any) {
		t.Errorf("%s: dapr list shows %s = %v, want %v", row.AppID, field, got, want)
	}
	if row.AppPort != a.AppPort {
		bad("appPort", row.AppPort, a.AppPort)
	}
	if want := truncate(strings.Join(a.Command, " "), cliCommandWidth); row.Command != want {
		bad("command", row.Command, want)
	}
	if row.CliPID != launcherPID {
		bad("cliPid", row.CliPID, launcherPID)
	}
	if row.RunTemplatePath != runFile {
		bad("runTemplatePath", row.RunTemplatePath, runFile)
	}
	if row.RunTemplateName != runName {
		bad("runTemplateName", row.RunTemplateName, runName)
	}
	if !row.MetricsEnabled {
		bad("metricsEnabled", false, true)
	}
	// What the CLI itself passes for a run file without these sizes.
	if row.MaxRequestBodySize != -1 || row.HTTPReadBufferSize != -1 {
		bad("maxRequestBodySize, httpReadBufferSize", fmt.Sprint(row.MaxRequestBodySize, row.HTTPReadBufferSize), "-1 -1")
	}
	// The sidecar's start, read as the CLI reads it: not before the
	// launcher's, read the same way.
	launched, _ := startTime(launcherPID)
	if created, err := time.ParseInLocation("2006-01-02 15:04.05", row.Created, time.Local); err != nil || created.Before(launched) {
		bad("created", row.Created, "the sidecar's start, after the launcher's at "+launched.Format("2006-01-02 15:04.05"))
	}
	// The sidecar and the app are the launcher's children, in the app's
	// folder, as the CLI's are.
	for _, p := range []struct {
		field string
		pid   int
		argv0 string
	}{{"daprdPid", row.DaprdPID, "daprd"}, {"appPid", row.AppPID, a.Command[0]}} {
		if parent(p.pid) != launcherPID {
			bad(p.field, p.pid, "a child of the launcher")
			continue
		}
		if args := cmdline(p.pid); len(args) == 0 || filepath.Base(args[0]) != p.argv0 {
			bad(p.field+" command", args, p.argv0+" ...")
		}
		if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.pid)); cwd != a.AppDirPath {
			bad(p.field+" folder", cwd, a.AppDirPath)
		}
	}
	if args := cmdline(row.AppPID); !slices.Equal(args, a.Command) {
		bad("appPid command line", args, a.Command)
	}
	// The sidecar answers on the HTTP port shown (its metadata came from
	// there) and listens on the gRPC port shown.
	if md, err := getMetadata(fmt.Sprintf("http://127.0.0.1:%d/v1.0/metadata", row.HTTPPort)); err != nil || md.ID != row.AppID {
		bad("httpPort", row.HTTPPort, "the sidecar's HTTP port")
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", row.GRPCPort), 2*time.Second); err != nil {
		bad("grpcPort", row.GRPCPort, "a port the sidecar listens on")
	} else {
		c.Close()
	}
	// Log files where the CLI puts them, holding what the processes wrote.
	for _, l := range []struct {
		field, path, kind, holds string
	}{
		{"appLogPath", row.AppLogPath, "app", fmt.Sprintf(`"service":"%s"`, row.AppID)},
		{"daprdLogPath", row.DaprdLogPath, "daprd", "app_id=" + row.AppID},
	} {
		dir, name := filepath.Split(l.path)
		if filepath.Clean(dir) != filepath.Join(a.AppDirPath, ".dapr", "logs") || !logName.MatchString(name) || !strings.HasPrefix(name, row.AppID+"_"+l.kind+"_") {
			bad(l.field, l.path, filepath.Join(a.AppDirPath, ".dapr", "logs", row.AppID+"_"+l.kind+"_<time>.log"))
			continue
		}
		content, err := os.ReadFile(l.path)
		if err != nil || !strings.Contains(string(content), l.holds) {
			bad(l.field+" content", fmt.Sprintf("%d bytes without %s (%v)", len(content), l.holds, err), "the process's output")
		}
	}
}

// logName is the CLI's log file name: <app id>_<app|daprd>_<yyyymmddhhmmss>.log.
var logName = regexp.MustCompile(`^[a-z0-9-]+_(app|daprd)_\d{14}\.log$`)

// scopedComponents reads the Dapr components of dir and returns, for each
// app of FinFlow, the ones its sidecar loads ("name (type)", sorted): those
// scoped to it and those without scopes.
func scopedComponents(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no components in %s (%v)", dir, err)
	}
	type component struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Type string `yaml:"type"`
		} `yaml:"spec"`
		Scopes []string `yaml:"scopes"`
	}
	var comps []component
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var c component
		if err := yaml.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if c.Kind == "Component" {
			comps = append(comps, c)
		}
	}
	rf, err := runfile.Load(filepath.Join(root, "dapr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, a := range rf.Apps {
		for _, c := range comps {
			if len(c.Scopes) == 0 || slices.Contains(c.Scopes, a.AppID) {
				out[a.AppID] = append(out[a.AppID], c.Metadata.Name+" ("+c.Spec.Type+")")
			}
		}
		slices.Sort(out[a.AppID])
	}
	return out
}

func appOf(rf *runfile.File, id string) runfile.App {
	for _, a := range rf.Apps {
		if a.AppID == id {
			return a
		}
	}
	return runfile.App{}
}

// hasTerminal reports whether the test runs with a controlling terminal.
func hasTerminal() bool {
	f, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// descendants returns every process below pid (Linux /proc).
func descendants(pid int) []int {
	children := map[int][]int{}
	all, _ := procfs.AllProcs()
	for _, p := range all {
		if st, err := p.Stat(); err == nil {
			children[st.PPID] = append(children[st.PPID], p.PID)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// procStat is /proc/<pid>/stat, or false when pid is gone.
func procStat(pid int) (procfs.ProcStat, bool) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, false
	}
	st, err := p.Stat()
	return st, err == nil
}

func cmdline(pid int) []string {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return nil
	}
	args, _ := p.CmdLine()
	return args
}

// parent is a process's parent pid, or 0.
func parent(pid int) int {
	st, _ := procStat(pid)
	return st.PPID
}

// alive reports whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	st, ok := procStat(pid)
	return ok && st.State != "Z"
}
