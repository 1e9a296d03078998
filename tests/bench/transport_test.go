package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	"github.com/gofiber/fiber/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

// transportCase is one way of wiring an app to its sidecar.
type transportCase struct {
	name        string
	appProtocol string // how daprd calls the app: http or grpc
	uds         bool   // the app reaches daprd's API over Unix domain sockets
	maxConc     int    // --app-max-concurrency (0: unlimited)
	quiet       bool   // the app logs no access line per request
	noMetrics   bool   // daprd keeps no Prometheus metrics (--enable-metrics=false)
	daprd       string // the daprd binary; empty: the one FinFlow runs (.bin/daprd)
}

// transportOp is one kind of call measured.
type transportOp struct {
	name string
	run  func(ctx context.Context, i int) error
}

// TestTransport measures, in one run each, what a call between an app and
// its sidecar costs in CPU for each way Dapr 1.14 offers to wire them: the
// app protocol daprd uses to call the app (HTTP, as FinFlow's Fiber apps,
// or gRPC), the app's way to daprd's API (TCP or Unix domain sockets), and
// --app-max-concurrency; and what the app's access line and daprd's own
// metrics cost. One daprd (no mTLS, one app), one Redis; the app
// and the caller live in this process. It is a measurement, not a test:
// it runs only with BENCH_TRANSPORT=1 and writes var/bench/transport.md.
//
//	BENCH_TRANSPORT=1 go test -count=1 -run '^TestTransport$' -v ./tests/bench/
//
// With BENCH_DAPRD_COMPARE naming another daprd binary (one built without
// tools/daprd/daprd.pgo, say), it measures FinFlow's wiring only, with
// .bin/daprd and with that binary in turn, five rounds, so that the
// machine's drift falls on both alike.
func TestTransport(t *testing.T) {
	root := measurement(t)
	const n, conc = 4000, 16
	rounds := 3
	cases := []transportCase{
		{name: "HTTP app, API over TCP (FinFlow today)", appProtocol: "http"},
		{name: "HTTP app, API over Unix sockets", appProtocol: "http", uds: true},
		{name: "gRPC app, API over TCP", appProtocol: "grpc"},
		{name: "HTTP app, API over TCP, --app-max-concurrency 8", appProtocol: "http", maxConc: 8},
		{name: "HTTP app, API over TCP, no access log line", appProtocol: "http", quiet: true},
		{name: "HTTP app, API over TCP, daprd metrics off", appProtocol: "http", noMetrics: true},
	}
	if other := os.Getenv("BENCH_DAPRD_COMPARE"); other != "" {
		if err := topology.CheckDaprd(other); err != nil {
			t.Fatal(err)
		}
		rounds = 5
		cases = []transportCase{
			{name: "FinFlow's wiring, .bin/daprd", appProtocol: "http"},
			{name: "FinFlow's wiring, " + other, appProtocol: "http", daprd: other},
		}
	}
	redisPort := startBareRedis(t)
	var b strings.Builder
	fmt.Fprintf(&b, "# App-to-sidecar transport (%s)\n\n%s; daprd %s; %d calls of each kind, %d at a time; "+
		"CPU from /proc (the caller and the app share this test's process); %d rounds, each row one round.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), Machine(), "1.14", n, conc, rounds)
	b.WriteString("| wiring | call | calls/s | CPU µs per call: daprd | Redis | caller + app | total |\n|---|---|---|---|---|---|---|\n")
	for round := 0; round < rounds; round++ {
		for _, tc := range cases {
			rows := measureTransport(t, root, redisPort, tc, n, conc)
			for _, r := range rows {
				b.WriteString(r + "\n")
			}
		}
	}
	dir := filepath.Join(root, "var", "bench")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, "transport.md"), []byte(b.String()), 0o644)
	t.Log("\n" + b.String())
}

// measurement skips a measurement unless BENCH_TRANSPORT is set, and
// returns the repository's root.
func measurement(t *testing.T) string {
	if os.Getenv("BENCH_TRANSPORT") == "" {
		t.Skip("a measurement, not a test: run it with BENCH_TRANSPORT=1")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func measureTransport(t *testing.T, root string, redisPort int, tc transportCase, n, conc int) []string {
	ctx := context.Background()
	w := wireTransport(t, root, redisPort, tc)
	defer w.stop()
	value := []byte(`{"padding":"` + strings.Repeat("x", 500) + `"}`)
	for i := 0; i < 100; i++ {
		if err := w.sdk.SaveState(ctx, "statestore", "k"+strconv.Itoa(i), value, nil); err != nil {
			t.Fatal(err)
		}
	}
	echo := []byte(`{"bill_id":"bill_0123456789"}`)
	ops := []transportOp{
		{"state get, gRPC API", func(ctx context.Context, i int) error {
			_, err := w.sdk.GetState(ctx, "statestore", "k"+strconv.Itoa(i%100), nil)
			return err
		}},
		{"state save, gRPC API", func(ctx context.Context, i int) error {
			return w.sdk.SaveState(ctx, "statestore", "k"+strconv.Itoa(i%100), value, nil)
		}},
		{"state get, HTTP API", func(ctx context.Context, i int) error {
			return httpCall(ctx, w.httpc, http.MethodGet, w.base+"/v1.0/state/statestore/k"+strconv.Itoa(i%100), nil)
		}},
		{"invoke the app, HTTP API", func(ctx context.Context, i int) error {
			return httpCall(ctx, w.httpc, http.MethodPost, w.base+"/v1.0/invoke/transport/method/echo", echo)
		}},
		{"invoke the app, gRPC API", func(ctx context.Context, i int) error {
			_, err := w.sdk.InvokeMethodWithContent(ctx, "transport", "echo", "post",
				&dapr.DataContent{ContentType: "application/json", Data: echo})
			return err
		}},
	}
	var rows []string
	for _, op := range ops {
		c := w.measure(t, redisPort, op, n, conc)
		rows = append(rows, fmt.Sprintf("| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f |", tc.name, op.name, c.perSecond, c.daprd, c.redis, c.caller, c.total()))
	}
	return rows
}

// TestStateDocumentSize measures what the size of a stored document costs
// a state read and a compare-and-swap write through daprd 1.14's Redis
// store, in CPU per call: the wallet document's size decides what every
// debit and balance read moves (services/wallet/store). One daprd and one
// Redis as TestTransport's; documents of 0.5, 2.4 and 6.5 KB (a wallet
// document holding 13 and 37 ledger entries, the averages of keeping 1 to
// 25 and 25 to 49); three rounds. It writes var/bench/docsize.md.
//
//	BENCH_TRANSPORT=1 go test -count=1 -run '^TestStateDocumentSize$' -v ./tests/bench/
func TestStateDocumentSize(t *testing.T) {
	root := measurement(t)
	const n, conc, rounds = 4000, 16, 3
	ctx := context.Background()
	redisPort := startBareRedis(t)
	var b strings.Builder
	fmt.Fprintf(&b, "# State calls by document size (%s)\n\n%s; daprd 1.14, Redis state store, gRPC API; %d calls of each kind, %d at a time; "+
		"CPU from /proc; %d rounds, each row one round.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), Machine(), n, conc, rounds)
	b.WriteString("| document | call | calls/s | CPU µs per call: daprd | Redis | caller | total |\n|---|---|---|---|---|---|---|\n")
	w := wireTransport(t, root, redisPort, transportCase{name: "HTTP app", appProtocol: "http"})
	defer w.stop()
	for round := 0; round < rounds; round++ {
		for _, size := range []int{500, 2400, 6500} {
			value := []byte(`{"padding":"` + strings.Repeat("x", size-14) + `"}`)
			prefix := fmt.Sprintf("s%d/", size)
			for i := 0; i < 100; i++ {
				if err := w.sdk.SaveState(ctx, "statestore", prefix+strconv.Itoa(i), value, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, op := range []transportOp{
				{"state get", func(ctx context.Context, i int) error {
					_, err := w.sdk.GetState(ctx, "statestore", prefix+strconv.Itoa(i%100), nil)
					return err
				}},
				{"state get + save with ETag", func(ctx context.Context, i int) error {
					key := prefix + strconv.Itoa(i%100)
					it, err := w.sdk.GetState(ctx, "statestore", key, nil)
					if err != nil {
						return err
					}
					// A conflict with another of the 16 writers is an
					// answer too; only a failure to answer counts.
					err = w.sdk.SaveStateWithETag(ctx, "statestore", key, value, it.Etag, nil)
					if err != nil && !strings.Contains(err.Error(), "etag") {
						return err
					}
					return nil
				}},
			} {
				c := w.measure(t, redisPort, op, n, conc)
				fmt.Fprintf(&b, "| %.1f KB | %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n", float64(len(value))/1000, op.name, c.perSecond, c.daprd, c.redis, c.caller, c.total())
			}
		}
	}
	dir := filepath.Join(root, "var", "bench")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, "docsize.md"), []byte(b.String()), 0o644)
	t.Log("\n" + b.String())
}

// wired is an app and its daprd, ready for calls.
type wired struct {
	sdk   dapr.Client
	httpc *http.Client
	base  string
	pid   int
	stop  func()
}

// wireTransport starts the app and its daprd as tc says and waits until a
// call reaches the app through daprd.
func wireTransport(t *testing.T, root string, redisPort int, tc transportCase) *wired {
	appPort := freePort(t)
	stopApp := startTransportApp(t, tc.appProtocol, tc.quiet, appPort)
	sock := ""
	if tc.uds {
		sock = t.TempDir()
	}
	httpPort, grpcPort, pid := startBareDaprd(t, root, redisPort, appPort, tc, sock)

	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	target := "127.0.0.1:" + strconv.Itoa(grpcPort)
	if tc.uds {
		httpSock := filepath.Join(sock, "dapr-transport-http.socket")
		httpc.Transport = &http.Transport{MaxIdleConnsPerHost: 64, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", httpSock)
		}}
		base = "http://daprd"
		target = "unix://" + filepath.Join(sock, "dapr-transport-grpc.socket")
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		stopApp()
		t.Fatal(err)
	}
	sdk := dapr.NewClientWithConnection(conn)
	harness.WaitFor(t, 30*time.Second, "the app to be reachable through daprd", func() bool {
		resp, err := httpc.Post(base+"/v1.0/invoke/transport/method/echo", "application/json", strings.NewReader(`{}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return &wired{sdk: sdk, httpc: httpc, base: base, pid: pid, stop: func() { sdk.Close(); stopApp() }}
}

// cost is what n calls of one kind cost, per call.
type cost struct {
	perSecond            float64
	daprd, redis, caller float64 // CPU µs per call
}

func (c cost) total() float64 { return c.daprd + c.redis + c.caller }

// measure makes n calls of op, conc at a time, and returns their rate and
// CPU per call in daprd, Redis and this process (the caller and the app).
// A failed call fails the test.
func (w *wired) measure(t *testing.T, redisPort int, op transportOp, n, conc int) cost {
	ctx := context.Background()
	before := [3]float64{procCPU(w.pid), procCPU(redisPID(t, redisPort)), procCPU(os.Getpid())}
	start := time.Now()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				if err := op.run(ctx, i); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	after := [3]float64{procCPU(w.pid), procCPU(redisPID(t, redisPort)), procCPU(os.Getpid())}
	if failed.Load() > 0 {
		t.Errorf("%s: %d of %d calls failed", op.name, failed.Load(), n)
	}
	per := func(k int) float64 { return 1e6 * (after[k] - before[k]) / float64(n) }
	return cost{perSecond: float64(n) / took, daprd: per(0), redis: per(1), caller: per(2)}
}

func httpCall(ctx context.Context, c *http.Client, method, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf [4096]byte
	for {
		if _, err := resp.Body.Read(buf[:]); err != nil {
			break
		}
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	return nil
}

// startTransportApp serves POST /echo: with FinFlow's Fiber server for
// the HTTP protocol (quiet: its logger above info, so no access line), with
// the Go SDK's gRPC service for gRPC.
func startTransportApp(t *testing.T, protocol string, quiet bool, port int) func() {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if protocol == "grpc" {
		s, err := daprgrpc.NewService(addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddServiceInvocationHandler("echo", func(_ context.Context, in *common.InvocationEvent) (*common.Content, error) {
			return &common.Content{Data: []byte(`{"ok":true}`), ContentType: "application/json"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Start() }()
		return func() { _ = s.GracefulStop() }
	}
	log := server.NewLogger("transport")
	if quiet {
		log = slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	app := server.New(server.Config{Name: "transport", Logger: log})
	app.Post("/echo", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = server.Serve(ctx, app, ln, time.Second) }()
	return cancel
}

// startBareDaprd runs daprd for app "transport" with one Redis state store
// and returns its HTTP and gRPC API ports and its pid.
func startBareDaprd(t *testing.T, root string, redisPort, appPort int, tc transportCase, sock string) (int, int, int) {
	t.Helper()
	daprd := tc.daprd
	if daprd == "" {
		daprd = topology.FindDaprd(root)
	}
	if err := topology.CheckDaprd(daprd); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	comp := fmt.Sprintf("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: 127.0.0.1:%d\n", redisPort)
	if err := os.WriteFile(filepath.Join(dir, "statestore.yaml"), []byte(comp), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	args := []string{"--app-id", "transport", "--app-port", strconv.Itoa(appPort), "--app-protocol", tc.appProtocol,
		"--dapr-http-port", strconv.Itoa(ports[0]), "--dapr-grpc-port", strconv.Itoa(ports[1]),
		"--dapr-internal-grpc-port", strconv.Itoa(ports[2]), "--metrics-port", strconv.Itoa(ports[3]),
		"--dapr-listen-addresses", "127.0.0.1", "--resources-path", dir, "--log-level", "warn"}
	if tc.maxConc > 0 {
		args = append(args, "--app-max-concurrency", strconv.Itoa(tc.maxConc))
	}
	if tc.noMetrics {
		args = append(args, "--enable-metrics=false")
	}
	if sock != "" {
		args = append(args, "--unix-domain-socket", sock)
	}
	logf, err := os.Create(filepath.Join(dir, "daprd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daprd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "DAPR_HOST_IP=127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The outbound health is on the public (metrics-side) port only with
	// TCP; with sockets, wait for the socket files instead.
	harness.WaitFor(t, 30*time.Second, "daprd to listen (log in "+logf.Name()+")", func() bool {
		if sock != "" {
			_, err := os.Stat(filepath.Join(sock, "dapr-transport-grpc.socket"))
			return err == nil
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz/outbound", ports[0]))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode/100 == 2
	})
	return ports[0], ports[1], cmd.Process.Pid
}

// startBareRedis runs a Redis without persistence for the measurement.
func startBareRedis(t *testing.T) int {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server is required: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	redisPIDs.Store(port, cmd.Process.Pid)
	harness.WaitFor(t, 10*time.Second, "redis", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port
}

var redisPIDs sync.Map

func redisPID(t *testing.T, port int) int {
	pid, ok := redisPIDs.Load(port)
	if !ok {
		t.Fatalf("no redis on %d", port)
	}
	return pid.(int)
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := topology.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// procCPU is a process's user + system CPU seconds so far.
func procCPU(pid int) float64 {
	st, err := stat(pid)
	if err != nil {
		return 0
	}
	return st.CPUTime()
}
