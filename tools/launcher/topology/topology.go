// Package topology starts and supervises a Dapr multi-app topology the way
// `dapr run -f` does: each app of a run file beside its own daprd, every
// sidecar on its own free ports, app and sidecar output on the console with
// an app prefix and in per-app log files. It checks the machine first
// (Check), waits until every app is healthy and then until a call between
// the services works (Options.ServiceCall), publishes the metadata the Dapr
// CLI and dashboard read, says in one line why a run cannot start, reports
// loudly when a process dies, can kill and restart single processes (for
// crash tests), and stops everything it started.
//
// It is the engine behind `make run` (tools/launcher) and the end-to-end
// test harness (tests/harness).
package topology

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

// Options configure a topology.
type Options struct {
	// RunFile is the parsed run file. Apps may be adjusted before Start
	// (tests give every app a free port).
	RunFile *runfile.File
	// Daprd is the daprd binary.
	Daprd string
	// Console receives the prefixed output; os.Stdout when nil.
	Console io.Writer
	// Color colours the prefixes.
	Color bool
	// LogDir holds the log files; empty means the CLI's place,
	// <appDir>/.dapr/logs.
	LogDir string
	// RedisAddr, when not the components' own address, is written into
	// every component's redisHost (in a rendered copy of the resources).
	RedisAddr string
	// Metadata overrides component metadata (in a rendered copy of the
	// resources): a test database, a broker's virtual host.
	Metadata []MetadataOverride
	// ExtraEnv is added to every app's and daprd's environment.
	ExtraEnv []string
	// ReadyTimeout bounds the wait for every app to be healthy (the first
	// start compiles every service).
	ReadyTimeout time.Duration
	// StopGrace is how long a process gets to end after SIGTERM.
	StopGrace time.Duration
	// OnUnexpectedExit is called (besides the loud console message) when a
	// process ends without being asked to.
	OnUnexpectedExit func(app string, sidecar bool, err error)
	// Extras are processes that are not Dapr apps (the Razorpay simulator):
	// started before the apps, stopped after them, logged the same way.
	Extras []Extra
	// Sentry, when set, is Dapr's sentry binary: the launcher runs it as a
	// local certificate authority and starts every sidecar with mTLS, so
	// that a caller's app id is authenticated, not claimed.
	Sentry string
	// AppConfigDir, when set, holds per-app Dapr Configurations
	// (<appID>.yaml) that replace the run file's: FinFlow's hold the access
	// control policies, which need mTLS.
	AppConfigDir string
	// OpenSidecarAPIs starts the sidecars without a Dapr API token of their
	// own, as `dapr run -f` does, so that the Dapr CLI (dapr list, dapr stop)
	// and dashboard, which read GET /v1.0/metadata without one, see the run
	// whole. Any local process can then use the sidecars' APIs (SECURITY.md).
	// A DAPR_API_TOKEN in the launcher's environment still reaches every
	// sidecar and app, as with the CLI. By default each sidecar requires a
	// fresh token that only its app has.
	OpenSidecarAPIs bool
	// ServiceCall, when set, is a call that succeeds only when the services
	// can call each other through their sidecars. Start returns only after
	// it answered 2xx, so a run is never declared up while calls between
	// services fail (GatewayHealth is FinFlow's).
	ServiceCall *ServiceCall
	// CallTimeout bounds the wait for ServiceCall once every app is healthy
	// (default 30 s). A recognised cause (no multicast, Redis down, a port
	// taken) ends the wait at once.
	CallTimeout time.Duration
	// Replicas runs more than one instance of an app (app id -> number of
	// instances; 1 when absent), each beside its own sidecar on ports of
	// its own, as a cluster runs several pods of one app id: Dapr's mDNS
	// resolver spreads the calls to an app id over its instances. The
	// first instance is named after the app id, the next <app id>-2, ...
	// (App.Instance), and that name is what Kill, Restart and App take.
	Replicas map[string]int
	// Hosts places the instances: instance i of an app runs on
	// Hosts[i % len(Hosts)] (NewNetwork makes two). Empty: every process
	// on this machine's loopback, as `make run`. With hosts, every sidecar
	// advertises its host's IP and serves other sidecars on it, and apps on
	// another host than the launcher's listen on every interface of theirs.
	Hosts []Host
}

// sentryTrustDomain is the trust domain of the local Sentry's certificates.
const sentryTrustDomain = "localhost"

// Extra is a supporting process without a sidecar.
type Extra struct {
	Name string
	Argv []string
	Dir  string
	// HealthURL answers 2xx once the process is ready.
	HealthURL string
}

// Which names one of an app's two processes.
type Which int

// The two processes of an app.
const (
	AppProcess Which = iota
	SidecarProcess
)

func (w Which) String() string {
	if w == SidecarProcess {
		return "sidecar"
	}
	return "app"
}

// App is one running instance of an app and its sidecar.
type App struct {
	runfile.App
	// Instance names the instance: the app id for the first, <app id>-2
	// for the second (Options.Replicas).
	Instance string
	// Index is the instance's number among its app's, from 0.
	Index int
	// Host is where it runs (nil without Options.Hosts: this machine's
	// loopback).
	Host *Host
	// APIToken must accompany every call to the sidecar's API (Dapr's
	// DAPR_API_TOKEN; "" with Options.OpenSidecarAPIs, unless the launcher's
	// environment has one); AppToken accompanies every call the sidecar
	// makes to the app (APP_API_TOKEN). Both are fresh random values for
	// each run.
	APIToken, AppToken string
	// MetricsAddr is where the app serves its own Prometheus metrics
	// (METRICS_ADDR), "" when the run file sets it itself.
	MetricsAddr string
	// SentryTokenFile holds the token with which the sidecar proves its
	// app id to the run's Sentry (DAPR_SENTRY_TOKEN_FILE, in the sidecar's
	// environment only; mode 0600); "" for a run without Sentry.
	SentryTokenFile string
	app, daprd      *proc
}

// Reach is the address at which the launcher, and a test beside it,
// reaches this instance's port: 127.0.0.1:port on the launcher's own host,
// the host's IP on another.
func (a *App) Reach(port int) string {
	return net.JoinHostPort(a.Host.reach(), strconv.Itoa(port))
}

// AppLog and DaprdLog are the app's log files.
func (a *App) AppLog() string   { return a.app.logPath }
func (a *App) DaprdLog() string { return a.daprd.logPath }

// Topology is a started run.
type Topology struct {
	opts    Options
	apps    []*App
	extras  []*proc
	sentry  *sentry
	byID    map[string]*App
	console *console
	runDir  string
	started time.Time

	stopOnce sync.Once
}

// Start checks the machine, starts every app and sidecar, waits until all
// are healthy and, with Options.ServiceCall, until the services can call
// each other. On any failure it stops what it started and returns an error
// that says in one line what is wrong and, where it can tell, what to do.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if opts.Console == nil {
		opts.Console = os.Stdout
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 5 * time.Minute
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 10 * time.Second
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 30 * time.Second
	}
	t := &Topology{opts: opts, byID: map[string]*App{}, started: time.Now()}
	width := 0
	for _, a := range opts.RunFile.Apps {
		name := a.AppID
		if n := opts.Replicas[a.AppID]; n > 1 {
			name = fmt.Sprintf("%s-%d", a.AppID, n)
		}
		width = max(width, len(name)+len("-daprd"))
	}
	for _, x := range opts.Extras {
		width = max(width, len(x.Name))
	}
	t.console = &console{w: opts.Console, width: width, color: opts.Color}

	if err := t.prepare(); err != nil {
		t.cleanup()
		return nil, err
	}
	if err := t.startExtras(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	if err := t.startSentry(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	for _, a := range t.apps {
		if err := a.daprd.start(); err != nil {
			t.Stop()
			return nil, err
		}
		if err := a.app.start(); err != nil {
			t.Stop()
			return nil, err
		}
	}
	if err := t.waitReady(ctx, t.apps, opts.ReadyTimeout); err != nil {
		t.Stop()
		return nil, err
	}
	t.publishMetadata(t.apps)
	if err := t.waitServiceCall(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// prepare runs the preflight checks, assigns ports and builds the
// processes.
func (t *Topology) prepare() error {
	if err := Check(t.opts); err != nil {
		return err
	}
	for _, a := range t.opts.RunFile.Apps {
		for _, u := range fixedPorts(a) {
			reservePort(u.port)
		}
	}

	runDir, err := os.MkdirTemp("", "finflow-run-")
	if err != nil {
		return err
	}
	t.runDir = runDir
	if t.opts.Sentry != "" {
		listen := "127.0.0.1"
		if len(t.opts.Hosts) > 0 {
			// Sidecars on every host ask it for their certificates.
			listen = t.opts.Hosts[0].IP
		}
		if t.sentry, err = newSentry(runDir, listen); err != nil {
			return err
		}
	}
	stamp := time.Now().Format("20060102150405")
	overrides := t.opts.Metadata
	if t.opts.RedisAddr != "" && t.opts.RedisAddr != DefaultRedisAddr {
		overrides = append(slices.Clip(overrides), MetadataOverride{Name: "redisHost", Value: t.opts.RedisAddr})
	}
	for _, ra := range t.opts.RunFile.Apps {
		for i := 0; i < max(1, t.opts.Replicas[ra.AppID]); i++ {
			if err := t.prepareInstance(ra, i, runDir, stamp, overrides); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepareInstance builds instance i of run-file app ra: its ports (an
// instance after the first gets ports of its own), its resources, its host,
// and its two processes.
func (t *Topology) prepareInstance(ra runfile.App, i int, runDir, stamp string, overrides []MetadataOverride) error {
	a := &App{App: ra, Instance: ra.AppID, Index: i}
	if i > 0 {
		a.Instance = fmt.Sprintf("%s-%d", ra.AppID, i+1)
		a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort, a.DaprInternalGRPCPort = 0, 0, 0, 0
		if a.AppPort > 0 {
			p, err := FreePort()
			if err != nil {
				return err
			}
			a.AppPort = p
		}
		a.Env = maps.Clone(ra.Env)
	}
	if len(t.opts.Hosts) > 0 {
		a.Host = &t.opts.Hosts[i%len(t.opts.Hosts)]
	}
	for _, port := range []*int{&a.DaprHTTPPort, &a.DaprGRPCPort, &a.MetricsPort, &a.DaprInternalGRPCPort} {
		if *port <= 0 {
			p, err := FreePort()
			if err != nil {
				return err
			}
			*port = p
		}
	}
	if len(overrides) > 0 {
		rendered, err := renderResources(a.ResourcesPaths, filepath.Join(runDir, a.Instance), overrides)
		if err != nil {
			return fmt.Errorf("preparing resources for %s: %w", a.Instance, err)
		}
		a.ResourcesPaths = rendered
	}
	logDir := t.opts.LogDir
	appLog := filepath.Join(logDir, a.Instance+"_app.log")
	daprdLog := filepath.Join(logDir, a.Instance+"_daprd.log")
	if logDir == "" {
		logDir = filepath.Join(a.AppDirPath, ".dapr", "logs")
		appLog = filepath.Join(logDir, fmt.Sprintf("%s_app_%s.log", a.Instance, stamp))
		daprdLog = filepath.Join(logDir, fmt.Sprintf("%s_daprd_%s.log", a.Instance, stamp))
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	// Only the app may call its sidecar, only the sidecar may call the app,
	// and the sidecar advertises and serves its internal API on loopback
	// (with hosts, on its host's address, where other hosts reach it).
	hostIP := "127.0.0.1"
	if a.Host != nil {
		hostIP = a.Host.IP
	}
	a.AppToken = randomToken()
	base := append(os.Environ(), t.opts.ExtraEnv...)
	base = append(base, "APP_API_TOKEN="+a.AppToken, "DAPR_HOST_IP="+hostIP)
	if t.opts.OpenSidecarAPIs {
		a.APIToken = os.Getenv("DAPR_API_TOKEN")
	} else {
		a.APIToken = randomToken()
		base = append(base, "DAPR_API_TOKEN="+a.APIToken)
	}
	// Clipped, so that what is appended to the sidecar's environment
	// later (the trust anchors) cannot overwrite the app's in a shared
	// backing array (it once replaced APP_ID).
	base = slices.Clip(base)
	app := a
	a.ConfigFilePath = t.opts.configFile(a.App)
	daprdArgs := append(a.DaprdArgs(), "--dapr-internal-grpc-listen-address", hostIP, "--metrics-listen-address", a.Host.reach())
	if !a.Host.Local() {
		// The launcher reaches this sidecar's API across the link; its app
		// on loopback.
		daprdArgs = setFlag(daprdArgs, "--dapr-listen-addresses", "127.0.0.1,"+a.Host.IP)
	}
	daprdEnv := base
	if t.sentry != nil {
		daprdArgs = append(daprdArgs, "--enable-mtls", "--sentry-address", t.sentry.addr, "--control-plane-trust-domain", sentryTrustDomain)
		base = slices.Clip(append(base, "NAMESPACE="+sentryNamespace))
		// The token that proves the app id to Sentry goes to the sidecar
		// only: the app never asks Sentry for anything.
		tok, err := t.sentry.writeToken(runDir, a.Instance, a.AppID)
		if err != nil {
			return fmt.Errorf("writing %s's Sentry token: %w", a.Instance, err)
		}
		a.SentryTokenFile = tok
		daprdEnv = slices.Clip(append(base, "DAPR_SENTRY_TOKEN_FILE="+tok))
	}
	a.daprd = &proc{
		name: a.Instance + "-daprd", argv: a.Host.wrap(append([]string{t.opts.Daprd}, daprdArgs...)),
		dir: a.AppDirPath, env: daprdEnv, logPath: daprdLog, console: t.console,
		toFile: a.DaprdLogDestination != runfile.LogConsole, toCons: a.DaprdLogDestination != runfile.LogFile,
		onExit: func(p *proc, err error) { t.unexpected(app, SidecarProcess, p, err) },
	}
	// The app's own Prometheus metrics: its port + 1000 (what the app
	// picks by itself) unless that is taken by this run or anything
	// else, then a free one. An explicit METRICS_ADDR in the run file wins.
	appEnv := a.AppEnv()
	if _, set := a.Env["METRICS_ADDR"]; !set && a.AppPort > 0 {
		mp, err := preferPort(a.AppPort + 1000)
		if err != nil {
			return err
		}
		a.MetricsAddr = a.Reach(mp)
		appEnv = append([]string{"METRICS_ADDR=" + a.MetricsAddr}, appEnv...)
	}
	if !a.Host.Local() {
		// Reached by its sidecar on loopback and by the launcher (health,
		// metrics) and tests across the link.
		appEnv = append(appEnv, "BIND_HOST=0.0.0.0")
	}
	a.app = &proc{
		name: a.Instance, argv: a.Host.wrap(a.Command),
		dir: a.AppDirPath, env: append(base, appEnv...), logPath: appLog, console: t.console,
		toFile: a.AppLogDestination != runfile.LogConsole, toCons: a.AppLogDestination != runfile.LogFile,
		onExit: func(p *proc, err error) { t.unexpected(app, AppProcess, p, err) },
	}
	t.apps = append(t.apps, a)
	t.byID[a.Instance] = a
	return nil
}

// startExtras starts the supporting processes and waits for their health.
func (t *Topology) startExtras(ctx context.Context) error {
	logDir := t.opts.LogDir
	if logDir == "" {
		logDir = filepath.Join(filepath.Dir(t.opts.RunFile.Path), "var", "logs")
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	for _, x := range t.opts.Extras {
		x := x
		p := &proc{name: x.Name, argv: x.Argv, dir: x.Dir, env: append(os.Environ(), t.opts.ExtraEnv...),
			logPath: filepath.Join(logDir, x.Name+".log"), console: t.console, toFile: true, toCons: true}
		p.onExit = func(p *proc, err error) {
			t.console.loud("%s died unexpectedly: %v. Log: %s", x.Name, err, p.logPath)
		}
		if err := p.start(); err != nil {
			return err
		}
		t.extras = append(t.extras, p)
		deadline := time.Now().Add(t.opts.ReadyTimeout)
		for !httpOK(ctx, client, x.HealthURL) {
			if !p.running() {
				return t.exitError(ctx, p)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not healthy at %s after %s", x.Name, x.HealthURL, t.opts.ReadyTimeout)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// unexpected reports a process that ended on its own.
func (t *Topology) unexpected(a *App, which Which, p *proc, err error) {
	status := "exited"
	if err != nil {
		status = err.Error()
	}
	t.console.loud("%s %s (%s) died unexpectedly: %s. Log: %s", a.Instance, which, p.name, status, p.logPath)
	if t.opts.OnUnexpectedExit != nil {
		t.opts.OnUnexpectedExit(a.Instance, which == SidecarProcess, err)
	}
}

// waitReady polls every app's sidecar (/v1.0/healthz, which is ready only
// once its app is reachable) and the app's own health path, until all
// answer or the timeout passes. A process that dies meanwhile fails the
// wait at once with the end of its log.
func (t *Topology) waitReady(ctx context.Context, apps []*App, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	pending := map[string]*App{}
	for _, a := range apps {
		pending[a.Instance] = a
	}
	lastReport := time.Now()
	// Apps whose port answers from a process that is not theirs.
	foreign := map[string]bool{}
	for len(pending) > 0 {
		for id, a := range pending {
			for _, p := range []*proc{a.daprd, a.app} {
				if !p.running() {
					return t.exitError(ctx, p)
				}
			}
			if !healthy(ctx, client, a) {
				continue
			}
			if !listensItself(a) {
				foreign[id] = true
				continue
			}
			delete(pending, id)
		}
		if len(pending) == 0 {
			break
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			t.console.say("waiting for %s to become healthy (%s so far; the first start compiles every service)", strings.Join(sortedIDs(pending), ", "), time.Since(t.started).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			for _, id := range sortedIDs(pending) {
				if port := pending[id].AppPort; foreign[id] {
					return fmt.Errorf("not healthy after %s: %s: port %d answers, but not from %s's own process; stop whatever listens there (ss -ltnp 'sport = :%d') or change the port", timeout, id, port, id, port)
				}
			}
			if cause := t.diagnose(context.Background(), ""); cause != "" {
				return fmt.Errorf("not healthy after %s: %s: %s", timeout, strings.Join(sortedIDs(pending), ", "), cause)
			}
			return fmt.Errorf("not healthy after %s: %s (see their logs)", timeout, strings.Join(sortedIDs(pending), ", "))
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// listensItself reports whether the process answering on a's app port is
// a's own (its process group), where that can be seen: a port another
// process took between the check and the start answers health checks too,
// and the sidecar would then deliver a's calls to it. Until a's process
// listens, a is not ready; if it cannot, it dies and says why.
func listensItself(a *App) bool {
	if a.AppPort <= 0 || !a.Host.Local() {
		return true
	}
	pgid := a.app.pid()
	if pgid == 0 {
		return false
	}
	owned, seen := groupListensOn(pgid, a.AppPort)
	return owned || !seen
}

func healthy(ctx context.Context, c *http.Client, a *App) bool {
	if !httpOK(ctx, c, "http://"+a.Reach(a.DaprHTTPPort)+"/v1.0/healthz") {
		return false
	}
	if a.AppPort <= 0 {
		return true
	}
	path := a.AppHealthCheckPath
	if path == "" {
		path = "/healthz"
	}
	return httpOK(ctx, c, "http://"+a.Reach(a.AppPort)+path, "dapr-api-token", a.AppToken)
}

// httpOK reports whether GET url answers 2xx; header pairs are sent along.
func httpOK(ctx context.Context, c *http.Client, url string, header ...string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// publishMetadata tells each sidecar what the Dapr CLI would (cliPID,
// appPID, app command, run file, log paths), so that `dapr list`, `dapr
// stop -f` and the dashboard see the run as they see one of `dapr run -f`.
// A sidecar that refuses is reported loudly: the tools will not see it.
func (t *Topology) publishMetadata(apps []*App) {
	c := &http.Client{Timeout: 2 * time.Second}
	for _, a := range apps {
		values := map[string]string{
			"cliPID":          strconv.Itoa(os.Getpid()),
			"appPID":          strconv.Itoa(a.app.pid()),
			"appCommand":      strings.Join(a.Command, " "),
			"runTemplatePath": t.opts.RunFile.Path,
			"runTemplateName": t.opts.RunFile.Name,
		}
		// As the CLI: no log path for output that goes to the console only.
		if a.app.toFile {
			values["appLogPath"] = a.app.logPath
		}
		if a.daprd.toFile {
			values["daprdLogPath"] = a.daprd.logPath
		}
		for _, k := range slices.Sorted(maps.Keys(values)) {
			if err := putMetadata(c, a, k, values[k]); err != nil {
				t.console.loud("%s: the Dapr CLI and dashboard will not see this run whole: %v", a.Instance, err)
				break
			}
		}
	}
}

// putMetadata sets one extended metadata attribute on a's sidecar.
func putMetadata(c *http.Client, a *App, key, value string) error {
	req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v1.0/metadata/%s", a.Reach(a.DaprHTTPPort), key), strings.NewReader(value))
	if err != nil {
		return err
	}
	if a.APIToken != "" {
		req.Header.Set("dapr-api-token", a.APIToken)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("setting sidecar metadata %s: %w", key, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("setting sidecar metadata %s: %s", key, resp.Status)
	}
	return nil
}

// Apps returns the apps in run-file order.
func (t *Topology) Apps() []*App { return t.apps }

// App returns the instance with the given name (App.Instance: the app id
// for an app's first instance, <app id>-2 for its second), or nil.
func (t *Topology) App(name string) *App { return t.byID[name] }

// Instances returns every instance of an app id, first to last.
func (t *Topology) Instances(appID string) []*App {
	var out []*App
	for _, a := range t.apps {
		if a.AppID == appID {
			out = append(out, a)
		}
	}
	return out
}

// Say prints a launcher message on the console.
func (t *Topology) Say(format string, args ...any) { t.console.say(format, args...) }

// Kill ends one process of an app instance (named as App takes it) at once
// (SIGKILL to its process group), as a crash would.
func (t *Topology) Kill(appID string, which Which) error {
	p, err := t.proc(appID, which)
	if err != nil {
		return err
	}
	t.console.say("killing %s %s (SIGKILL)", appID, which)
	p.kill()
	return nil
}

// Restart starts a process that was killed or died again, on the same
// ports, and waits until the app is healthy.
func (t *Topology) Restart(ctx context.Context, appID string, which Which) error {
	p, err := t.proc(appID, which)
	if err != nil {
		return err
	}
	if p.running() {
		p.stop(t.opts.StopGrace)
	}
	t.console.say("restarting %s %s", appID, which)
	if err := p.start(); err != nil {
		return err
	}
	a := t.byID[appID]
	if err := t.waitReady(ctx, []*App{a}, t.opts.ReadyTimeout); err != nil {
		return err
	}
	// A new sidecar knows nothing of the run, a new app has a new pid.
	t.publishMetadata([]*App{a})
	return nil
}

// Freeze stops one process of an app instance where it stands (SIGSTOP
// to its process group): calls to it are accepted and then hang, as with
// an app stuck in the middle of its work. Kill still ends it.
func (t *Topology) Freeze(name string, which Which) error {
	p, err := t.proc(name, which)
	if err != nil {
		return err
	}
	t.console.say("freezing %s %s (SIGSTOP)", name, which)
	p.signalGroup(syscall.SIGSTOP)
	return nil
}

// Revive starts again whichever of an instance's two processes is not
// running, the sidecar first (as a restarted pod), and waits until the
// instance is healthy.
func (t *Topology) Revive(ctx context.Context, name string) error {
	a := t.byID[name]
	if a == nil {
		return fmt.Errorf("no app %q", name)
	}
	for _, p := range []*proc{a.daprd, a.app} {
		if p.running() {
			continue
		}
		t.console.say("restarting %s", p.name)
		if err := p.start(); err != nil {
			return err
		}
	}
	if err := t.waitReady(ctx, []*App{a}, t.opts.ReadyTimeout); err != nil {
		return err
	}
	t.publishMetadata([]*App{a})
	return nil
}

// Running reports whether the process is alive.
func (t *Topology) Running(appID string, which Which) bool {
	p, err := t.proc(appID, which)
	return err == nil && p.running()
}

func (t *Topology) proc(appID string, which Which) (*proc, error) {
	a := t.byID[appID]
	if a == nil {
		return nil, fmt.Errorf("no app %q", appID)
	}
	if which == SidecarProcess {
		return a.daprd, nil
	}
	return a.app, nil
}

// Stop ends every app (SIGTERM, then SIGKILL after the grace period) and
// then every sidecar, and removes the run's temporary files. Calling it
// again does nothing.
func (t *Topology) Stop() {
	t.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, a := range t.apps {
			wg.Add(1)
			go func(p *proc) { defer wg.Done(); p.stop(t.opts.StopGrace) }(a.app)
		}
		wg.Wait()
		for _, a := range t.apps {
			wg.Add(1)
			go func(p *proc) { defer wg.Done(); p.stop(t.opts.StopGrace) }(a.daprd)
		}
		wg.Wait()
		for _, x := range t.extras {
			x.stop(t.opts.StopGrace)
			x.closeLog()
		}
		if t.sentry != nil && t.sentry.proc != nil {
			t.sentry.proc.stop(t.opts.StopGrace)
			t.sentry.proc.closeLog()
		}
		for _, a := range t.apps {
			a.app.closeLog()
			a.daprd.closeLog()
		}
		t.cleanup()
	})
}

func (t *Topology) cleanup() {
	if t.runDir != "" {
		_ = os.RemoveAll(t.runDir)
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// randomToken returns 32 random bytes in hex.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func sortedIDs(m map[string]*App) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// setFlag sets a `--flag value` pair in args, replacing the value where the
// flag is already there.
func setFlag(args []string, flag, value string) []string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			args[i+1] = value
			return args
		}
	}
	return append(args, flag, value)
}
