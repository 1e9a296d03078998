// Package launcher tests FinFlow's launcher (tools/launcher) as a user runs
// it: the built command on a copy of dapr.yaml, real daprd sidecars, a real
// Redis. It checks the one-line errors for a taken port and a missing Redis,
// that a dead app is reported loudly, that sidecar flags stay parsable by
// `dapr list`, and that SIGINT leaves no process behind.
package launcher

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// runFile writes a copy of the repository's dapr.yaml with absolute paths,
// every app on a free port, and returns its path and the gateway's port.
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
			rf.Apps[i].Env = map[string]string{"BIND_HOST": "127.0.0.1"}
		}
		if adjust != nil {
			adjust(&rf.Apps[i])
		}
	}
	raw, err := yaml.Marshal(struct {
		Version int           `yaml:"version"`
		Name    string        `yaml:"name"`
		Apps    []runfile.App `yaml:"apps"`
	}{1, "finflow-launcher-test", rf.Apps})
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

// runToFailure runs the launcher and expects it to fail fast with a
// one-line error containing want.
func runToFailure(t *testing.T, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, launcher, append([]string{"-daprd", daprd}, args...)...)
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("launcher hung instead of failing (%s)", time.Since(start))
	}
	if err == nil {
		t.Fatalf("launcher succeeded, want a failure mentioning %q", want)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) {
		t.Fatalf("stderr = %q, want one line mentioning %q", msg, want)
	}
}

func TestTakenPortIsAOneLineError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	f, _ := runFile(t, func(a *runfile.App) {
		if a.AppID == "user" {
			a.AppPort = taken
		}
	})
	redisAddr := startRedis(t)
	runToFailure(t, fmt.Sprintf("port %d (app user) is already in use", taken), "-f", f, "-redis", redisAddr)
}

func TestMissingRedisIsAOneLineError(t *testing.T) {
	f, _ := runFile(t, nil)
	runToFailure(t, "Redis is not answering", "-f", f, "-redis", freeAddr(t))
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

// TestRunReportAndStop runs the whole topology with the launcher starting
// its own Redis, checks what `dapr list` would parse, kills an app to see
// the loud report, then stops it all with SIGINT and finds no process left.
func TestRunReportAndStop(t *testing.T) {
	f, gatewayPort := runFile(t, nil)
	redisAddr := freeAddr(t)
	redisDir := t.TempDir()
	cmd := exec.Command(launcher, "-daprd", daprd, "-f", f, "-redis", redisAddr, "-start-redis", "-redis-dir", redisDir,
		"-seed-settings", filepath.Join(root, "config", "runtime-settings.yaml"))
	cmd.Dir = root
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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

	out.waitFor(t, 5*time.Minute, "FinFlow is up")
	out.waitFor(t, time.Second, "sentry is up")
	out.waitFor(t, time.Second, "started redis-server on "+redisAddr)
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

	// What `dapr list` parses: daprd processes with space-separated flags,
	// each sidecar with its own ports.
	tree := descendants(cmd.Process.Pid)
	sidecars := 0
	seenPorts := map[string]string{}
	for _, pid := range tree {
		args := cmdline(pid)
		if len(args) == 0 || filepath.Base(args[0]) != "daprd" {
			continue
		}
		sidecars++
		flags := map[string]string{}
		for i := 1; i < len(args); i++ {
			if strings.HasPrefix(args[i], "--") && strings.Contains(args[i], "=") {
				t.Fatalf("daprd flag %q is --flag=value; dapr list needs --flag value", args[i])
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
	if sidecars != 6 {
		t.Fatalf("found %d daprd processes under the launcher, want 6", sidecars)
	}
	sentries := 0
	for _, pid := range tree {
		if args := cmdline(pid); len(args) > 0 && filepath.Base(args[0]) == "sentry" {
			sentries++
		}
	}
	if sentries != 1 {
		t.Fatalf("found %d sentry processes under the launcher, want 1", sentries)
	}

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

	// SIGINT stops everything, Redis included, and leaves nothing behind.
	tree = descendants(cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("launcher exited with %v after SIGINT, want 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("launcher still running 60s after SIGINT")
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
}

// descendants returns every process below pid (Linux /proc).
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name (which may hold spaces).
		s := string(raw)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			ppid, _ := strconv.Atoi(fields[1])
			children[ppid] = append(children[ppid], p)
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

func cmdline(pid int) []string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

func alive(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}
