package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/finflow/finflow/tools/launcher/topology"
)

// The replica topology (Options.Replicas, or FINFLOW_REPLICAS=2 for any
// suite): two instances of every app but razorpay, each beside its own
// sidecar, on two "hosts" (network namespaces joined by a veth pair, as
// topology.NewNetwork makes them), so that calls between sidecars cross
// from one host to the other over mDNS-resolved addresses as they would
// between the nodes of a cluster. One Redis (on host a, reached by both),
// one Sentry, one razorpay instance, one simulator. Clients (and the
// simulator's webhooks) reach the two gateways through a round-robin
// balancer in the test process, standing in for a cluster's Service.

// ReplicatedApps are the apps that run twice in the replica topology.
var ReplicatedApps = []string{"gateway", "user", "wallet", "billing", "payment"}

// privateNetEnv marks a test binary already re-run in a network namespace
// of its own.
const privateNetEnv = "FINFLOW_PRIVATE_NET"

// ReplicasFromEnv returns the number of instances FINFLOW_REPLICAS asks for
// (0 when unset), so that the money and Razorpay suites run unchanged on
// the replica topology: FINFLOW_REPLICAS=2 go test ./tests/money.
func ReplicasFromEnv() (int, error) {
	v := os.Getenv("FINFLOW_REPLICAS")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 2 {
		return 0, fmt.Errorf("FINFLOW_REPLICAS=%q: want 1 or 2", v)
	}
	return n, nil
}

// InPrivateNetwork makes sure the test binary runs in a network namespace
// of its own, where the replica topology may add a veth pair and hosts
// without touching the machine's network, and where its mDNS cannot meet
// another topology's. Outside one, it runs the same binary again, with the
// same arguments, under `unshare --net`, relays its output and returns its
// exit code with reran true: the caller (a TestMain, before m.Run) exits
// with it. Inside one it returns reran false, and the caller carries on.
func InPrivateNetwork() (code int, reran bool, err error) {
	if os.Getenv(privateNetEnv) == "1" {
		return 0, false, nil
	}
	if os.Geteuid() != 0 {
		return 1, false, errors.New("the replica topology needs root for its network namespaces and veth pair (CI and the test machines run as root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return 1, false, errors.New("the replica topology needs unshare (apt-get install util-linux)")
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--", os.Args[0]}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), privateNetEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), true, nil
		}
		return 1, false, fmt.Errorf("re-running the suite in a private network namespace: %w", err)
	}
	return 0, true, nil
}

// replicas is what the replica topology adds to an Env.
type replicas struct {
	network  *topology.Network
	balancer *balancer
	metrics  []*http.Server
	acct     *crossHostCounters
	// started is each instance's work once the topology was up (the
	// start's own requests), left out of what the suite made it do.
	started map[string]int64
}

func (r *replicas) close() {
	if r == nil {
		return
	}
	if r.balancer != nil {
		r.balancer.close()
	}
	for _, s := range r.metrics {
		_ = s.Close()
	}
	r.network.Close()
}

// balancer is a round-robin HTTP balancer in front of the gateways: each
// request goes to the next gateway instance; one that refuses the
// connection (killed) is skipped, as a Service skips a pod that is not
// ready, and the request, which never reached it, goes to the next.
type balancer struct {
	srv      *http.Server
	url      string
	next     atomic.Uint64
	mu       sync.Mutex
	backends []string // host:port
	served   map[string]int64
	client   *http.Transport
}

func newBalancer() (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{url: "http://" + ln.Addr().String(), served: map[string]int64{},
		client: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *balancer) setBackends(addrs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = slices.Clone(addrs)
}

// Served returns how many requests each gateway instance answered.
func (b *balancer) Served() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int64{}
	for k, v := range b.served {
		out[k] = v
	}
	return out
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "balancer: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	backends := b.backends
	b.mu.Unlock()
	if len(backends) == 0 {
		http.Error(w, "balancer: no gateway", http.StatusServiceUnavailable)
		return
	}
	start := int(b.next.Add(1) % uint64(len(backends)))
	var lastErr error
	for i := 0; i < len(backends); i++ {
		target := backends[(start+i)%len(backends)]
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = "http", target, target, ""
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		resp, err := b.client.RoundTrip(out)
		if err != nil {
			lastErr = err
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				continue // never reached that gateway: the next one takes it
			}
			break
		}
		b.mu.Lock()
		b.served[target]++
		b.mu.Unlock()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "balancer: no gateway answered: "+fmt.Sprint(lastErr), http.StatusBadGateway)
}

func (b *balancer) close() {
	_ = b.srv.Close()
	b.client.CloseIdleConnections()
}

// serveMergedMetrics serves, on a loopback port, the sum of the instances'
// Prometheus metrics (every series added up over the instances, comments
// from the first), so that a suite reading an app's metrics sees the app's
// whole, whichever instance did the work. It returns the address.
func serveMergedMetrics(addrs []string) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	c := &http.Client{Timeout: 5 * time.Second}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var pages [][]byte
		for _, a := range addrs {
			resp, err := c.Get("http://" + a + "/metrics")
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			pages = append(pages, page)
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(mergeMetrics(pages))
	})}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

// mergeMetrics adds up Prometheus text pages series by series.
func mergeMetrics(pages [][]byte) []byte {
	var order []string
	sums := map[string]float64{}
	seen := map[string]bool{}
	for _, page := range pages {
		sc := bufio.NewScanner(bytes.NewReader(page))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				if !seen[line] {
					seen[line] = true
					order = append(order, line)
				}
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				continue
			}
			series := line[:i]
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				continue
			}
			if _, ok := sums[series]; !ok {
				order = append(order, "\x00"+series)
			}
			sums[series] += v
		}
	}
	var out bytes.Buffer
	for _, l := range order {
		if strings.HasPrefix(l, "\x00") {
			s := l[1:]
			fmt.Fprintf(&out, "%s %s\n", s, strconv.FormatFloat(sums[s], 'g', -1, 64))
			continue
		}
		out.WriteString(l + "\n")
	}
	return out.Bytes()
}

// requestSeries matches one finflow_http_requests_total line.
var requestSeries = regexp.MustCompile(`^finflow_http_requests_total\{([^}]*)\} ([0-9.e+]+)$`)

// plumbingRoute reports routes every instance serves whatever the load:
// probes (the gateway's GET /health too, which the harness asks of each
// gateway directly), Dapr's own calls (the sidecar asks for /dapr/config,
// which FinFlow does not serve: "unmatched"), the cron binding's ticks.
func plumbingRoute(route string) bool {
	switch route {
	case "", "unmatched", "/healthz", "/readyz", "/health", "/metrics", "/billing-schedule":
		return true
	}
	return strings.HasPrefix(route, "/dapr/")
}

// WorkServed returns how many requests an instance served that were work
// (not probes, Dapr's own calls or cron ticks), read from its metrics.
func WorkServed(metricsAddr string) (int64, error) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n int64
	route := regexp.MustCompile(`route="([^"]*)"`)
	for sc.Scan() {
		m := requestSeries.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := ""
		if rm := route.FindStringSubmatch(m[1]); rm != nil {
			r = rm[1]
		}
		if plumbingRoute(r) {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		n += int64(v)
	}
	return n, sc.Err()
}

// crossHostCounters counts, with iptables rules that match and count only,
// the packets that arrive at each sidecar's internal gRPC port (where
// sidecars call sidecars) over the link from the other host.
type crossHostCounters struct {
	rules []counterRule
}

type counterRule struct {
	instance string
	host     *topology.Host
	link     string
	port     int
}

func newCrossHostCounters(ctx context.Context, t *topology.Topology) (*crossHostCounters, error) {
	c := &crossHostCounters{}
	for _, a := range t.Apps() {
		if a.Host == nil {
			continue
		}
		link := "ff-" + a.Host.Name
		r := counterRule{instance: a.Instance, host: a.Host, link: link, port: a.DaprInternalGRPCPort}
		if out, err := a.Host.Command(ctx, "iptables", "-w", "-A", "INPUT", "-i", link, "-p", "tcp", "--dport", strconv.Itoa(r.port)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("counting cross-host calls with iptables on host %s: %v: %s", a.Host.Name, err, bytes.TrimSpace(out))
		}
		c.rules = append(c.rules, r)
	}
	return c, nil
}

// read returns, per instance, the packets that reached its sidecar's
// internal port from the other host.
func (c *crossHostCounters) read(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	byHost := map[*topology.Host][]byte{}
	for _, r := range c.rules {
		if _, ok := byHost[r.host]; ok {
			continue
		}
		raw, err := r.host.Command(ctx, "iptables", "-w", "-L", "INPUT", "-v", "-x", "-n").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("reading iptables counters on host %s: %v: %s", r.host.Name, err, raw)
		}
		byHost[r.host] = raw
	}
	for _, r := range c.rules {
		for _, line := range strings.Split(string(byHost[r.host]), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && slices.Contains(f, r.link) && strings.HasSuffix(line, "tcp dpt:"+strconv.Itoa(r.port)) {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				out[r.instance] += n
			}
		}
	}
	return out, nil
}

// ReplicaReport says how the work spread over the instances: requests of
// work each instance served after the topology was up, packets its sidecar received from the other
// host, and the requests the balancer sent to each gateway. Problems name
// every replicated app one of whose instances did no work, and every app
// called by others whose sidecars received nothing across the link: then
// the run did not test replicas at all.
type ReplicaReport struct {
	Work      map[string]int64 // instance -> requests of work served
	CrossHost map[string]int64 // instance -> packets from the other host at its sidecar's internal port
	Gateways  map[string]int64 // gateway address -> requests the balancer sent it
	Problems  []string
}

// Replicas returns the replica report, or nil when the topology has one
// instance of each app.
func (e *Env) Replicas(ctx context.Context) (*ReplicaReport, error) {
	if e.replicas == nil {
		return nil, nil
	}
	rep := &ReplicaReport{Work: map[string]int64{}, Gateways: e.replicas.balancer.Served()}
	for _, a := range e.Topology.Apps() {
		n, err := WorkServed(a.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("reading %s's metrics: %w", a.Instance, err)
		}
		// Less than at the start: restarted since (its metrics began again).
		if base := e.replicas.started[a.Instance]; n >= base {
			n -= base
		}
		rep.Work[a.Instance] = n
	}
	var err error
	if rep.CrossHost, err = e.replicas.acct.read(ctx); err != nil {
		return nil, err
	}
	var insts []Instance
	for _, a := range e.Topology.Apps() {
		host := "a"
		if a.Host != nil {
			host = a.Host.Name
		}
		insts = append(insts, Instance{Name: a.Instance, App: a.AppID, Host: host})
	}
	rep.Problems = SpreadProblems(insts, rep.Work, rep.CrossHost)
	return rep, nil
}

// Instance names one app instance and its host, for SpreadProblems.
type Instance struct{ Name, App, Host string }

// MinCrossHostPackets is how many packets from the other host an instance's
// sidecar must have received for calls to have crossed hosts to it: a few
// calls' worth, more than a stray connection attempt.
const MinCrossHostPackets = 10

// SpreadProblems says what shows that a run on the replica topology did not
// test replicas: an instance of a replicated app that served no request of
// work (work: instance -> requests), or an instance of a replicated app
// that other apps call (all but the gateway) whose sidecar received fewer
// than MinCrossHostPackets from the other host (crossHost: instance ->
// packets). Empty when neither.
func SpreadProblems(instances []Instance, work, crossHost map[string]int64) []string {
	var problems []string
	for _, in := range instances {
		if slices.Contains(ReplicatedApps, in.App) && work[in.Name] == 0 {
			problems = append(problems, fmt.Sprintf("%s (host %s) served no request of work: the calls to %s did not spread over its instances", in.Name, in.Host, in.App))
		}
	}
	for _, in := range instances {
		if slices.Contains(ReplicatedApps, in.App) && in.App != "gateway" && crossHost[in.Name] < MinCrossHostPackets {
			problems = append(problems, fmt.Sprintf("%s's sidecar (host %s) received %d packets from the other host: no call crossed hosts to it", in.Name, in.Host, crossHost[in.Name]))
		}
	}
	return problems
}

// String is the report as a few lines for a suite's output.
func (r *ReplicaReport) String() string {
	var b strings.Builder
	names := make([]string, 0, len(r.Work))
	for n := range r.Work {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("replicas: instance (requests of work served, packets from the other host at its sidecar):")
	for _, n := range names {
		fmt.Fprintf(&b, " %s %d/%d;", n, r.Work[n], r.CrossHost[n])
	}
	gws := make([]string, 0, len(r.Gateways))
	for g, n := range r.Gateways {
		gws = append(gws, fmt.Sprintf("%s %d", g, n))
	}
	sort.Strings(gws)
	fmt.Fprintf(&b, " balancer to gateways: %s", strings.Join(gws, ", "))
	return b.String()
}

// RouteServed returns how many requests to one route (its pattern, as the
// metrics label it) an instance served, read from its metrics.
func RouteServed(metricsAddr, route string) (int64, error) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n int64
	want := `route="` + route + `"`
	for sc.Scan() {
		m := requestSeries.FindStringSubmatch(sc.Text())
		if m == nil || !strings.Contains(m[1], want) {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		n += int64(v)
	}
	return n, sc.Err()
}

// Gateway returns an Env whose requests (Do, Try and the helpers built on
// them) go to one gateway instance, by its instance name ("gateway",
// "gateway-2"), instead of through the balancer. It shares everything else
// with e but the contract check (Options.CheckContract), which follows the
// balancer's address; use it for requests only, never to Stop or Finish.
func (e *Env) Gateway(tb testing.TB, instance string) *Env {
	tb.Helper()
	a := e.Topology.App(instance)
	if a == nil || a.AppID != "gateway" {
		tb.Fatalf("no gateway instance %q", instance)
	}
	g := *e
	g.BaseURL, g.contract = "http://"+a.Reach(a.AppPort), nil
	return &g
}
