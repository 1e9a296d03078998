// Command launcher runs FinFlow from its Dapr Multi-App Run file without the
// Dapr CLI: what `dapr run -f .` does, plus finding or starting Redis and
// seeding the runtime settings. `make run` calls it.
//
//	go run ./tools/launcher -f dapr.yaml -start-redis -seed-settings config/runtime-settings.yaml
//
// It says FinFlow is up only once a real call between the services has
// worked (the gateway's GET /health answered ok for every service), and
// otherwise fails in one line that says why and what to do.
//
// Ctrl-C (SIGINT) or SIGTERM stops every app, every sidecar and the Redis it
// started, and leaves no process behind; so does `dapr stop -f <run file>`,
// because the launcher publishes the metadata the Dapr CLI reads and, like
// `dapr run -f`, leads a process group of its own (docs/dapr-cli.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/finflow/finflow/tools/launcher/runfile"
	"github.com/finflow/finflow/tools/launcher/topology"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "finflow-run: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		file         = flag.String("f", "dapr.yaml", "the Multi-App Run file")
		daprd        = flag.String("daprd", "", "the daprd binary (default: $DAPRD, .bin/daprd, ~/.dapr/bin/daprd, PATH)")
		redisAddr    = flag.String("redis", envOr("REDIS_ADDR", topology.DefaultRedisAddr), "the Redis address every component uses ($REDIS_ADDR)")
		startRedis   = flag.Bool("start-redis", false, "start a local redis-server when none answers at -redis")
		redisDir     = flag.String("redis-dir", "var/redis", "data folder of a started redis-server, relative to -root")
		seed         = flag.String("seed-settings", "", "seed the runtime settings from this YAML file (keys already set are kept)")
		seedOnly     = flag.Bool("seed-only", false, "only seed the runtime settings into the Redis at -redis, then exit")
		readyTimeout = flag.Duration("ready-timeout", 5*time.Minute, "how long to wait for every app to be healthy")
		simAddr      = flag.String("razorpay-sim", "", "also run the Razorpay simulator (tools/rzpsim) on this address, webhooks to the gateway")
		insecure     = flag.Bool("insecure", false, "run without Sentry: no mTLS between sidecars and no access control")
		rootDir      = flag.String("root", "", "FinFlow's folder, where .bin/, config/secure/, tools/rzpsim/ and var/ are (default: the run file's folder)")
		tokens       = flag.String("sidecar-tokens", "auto", "on: every sidecar API requires a token only its app has; off: no token, as with `dapr run -f`, so the Dapr CLI and dashboard can read the sidecars' metadata; auto: off when the run file puts the gateway in dev mode, on otherwise (SECURITY.md)")
		callTimeout  = flag.Duration("call-timeout", 30*time.Second, "how long calls between services may keep failing once every app is healthy")
	)
	flag.Parse()

	if *seedOnly {
		if *seed == "" {
			return fmt.Errorf("-seed-only needs -seed-settings")
		}
		added, kept, err := topology.SeedSettings(context.Background(), *redisAddr, *seed)
		if err != nil {
			return err
		}
		fmt.Printf("runtime settings: %d seeded, %d already set (kept) in the Redis at %s\n", added, kept, *redisAddr)
		return nil
	}

	rf, err := runfile.Load(*file)
	if err != nil {
		return err
	}
	root := *rootDir
	if root == "" {
		root = filepath.Dir(rf.Path)
	}
	if *daprd == "" {
		*daprd = topology.FindDaprd(root)
	}
	open, err := openSidecarAPIs(*tokens, rf)
	if err != nil {
		return err
	}
	sentry, appConfigs := "", ""
	if !*insecure {
		if sentry = topology.FindSentry(root, *daprd); sentry != "" {
			appConfigs = filepath.Join(root, "config", "secure")
		}
	}
	opts := topology.Options{
		Sentry:          sentry,
		AppConfigDir:    appConfigs,
		RunFile:         rf,
		Daprd:           *daprd,
		Console:         os.Stdout,
		Color:           isTerminal(),
		ReadyTimeout:    *readyTimeout,
		OpenSidecarAPIs: open,
		ServiceCall:     topology.GatewayHealth(rf),
		CallTimeout:     *callTimeout,
	}
	// Before anything starts (Redis included): is this machine able to run it?
	if err := topology.Check(opts); err != nil {
		return err
	}
	ownProcessGroup()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	say := func(format string, args ...any) { fmt.Printf("finflow-run | "+format+"\n", args...) }

	dataDir := *redisDir
	if !filepath.IsAbs(dataDir) {
		dataDir = filepath.Join(root, dataDir)
	}
	rds, err := topology.EnsureRedis(ctx, *redisAddr, *startRedis, dataDir, say)
	if err != nil {
		return err
	}
	defer rds.Stop()
	if *seed != "" {
		added, kept, err := topology.SeedSettings(ctx, rds.Addr, *seed)
		if err != nil {
			return err
		}
		say("runtime settings: %d seeded, %d already set (kept)", added, kept)
	}

	if *simAddr != "" {
		gw := 8080
		for _, a := range rf.Apps {
			if a.AppID == "gateway" {
				gw = a.AppPort
			}
		}
		opts.Extras = append(opts.Extras, topology.Extra{
			Name: "rzpsim",
			Argv: []string{"go", "run", "./tools/rzpsim", "-addr", *simAddr,
				"-webhook", fmt.Sprintf("http://127.0.0.1:%d/razorpay/webhook", gw),
				"-secrets", "config/test-mode-secrets.json",
				// Kept with the Redis data (-redis-dir), so that a run
				// started again remembers the orders FinFlow's store names.
				"-state", "var/rzpsim/state.json"},
			Dir:       root,
			HealthURL: "http://" + *simAddr + "/sim/health",
		})
	}
	if sentry == "" && !*insecure {
		say("no sentry binary (run `make daprd`): running WITHOUT mTLS and access control")
	}
	opts.RedisAddr = rds.Addr
	opts.ExtraEnv = []string{"REDIS_ADDR=" + rds.Addr}
	say("starting %d apps from %s with %s", len(rf.Apps), rf.Path, *daprd)
	t, err := topology.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer t.Stop()
	banner(t, opts)
	<-ctx.Done()
	then := ""
	if rds.Started() {
		then = ", then the Redis it started"
	}
	say("stopping: apps first, then sidecars%s", then)
	return nil
}

func banner(t *topology.Topology, opts topology.Options) {
	if sc := opts.ServiceCall; sc != nil {
		t.Say("FinFlow is up: GET %s on %s answered ok, so the services can call each other. Try: curl http://localhost:%d%s", sc.Path, sc.App, t.App(sc.App).AppPort, sc.Path)
	} else {
		t.Say("FinFlow is up (every app and sidecar is healthy)")
	}
	if sim := flag.Lookup("razorpay-sim").Value.String(); sim != "" {
		t.Say("Razorpay simulator: http://%s (pay an order: POST /sim/orders/{order_id}/pay)", sim)
	}
	t.Say("%-9s %8s %10s %10s %8s  %s", "app", "app port", "dapr http", "dapr grpc", "metrics", "logs")
	for _, a := range t.Apps() {
		t.Say("%-9s %8d %10d %10d %8d  %s", a.AppID, a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort, filepath.Dir(a.AppLog()))
	}
	switch {
	case !opts.OpenSidecarAPIs:
		t.Say("sidecar API tokens are on: dapr list, dapr stop -f and the Dapr dashboard cannot read the sidecars' metadata (SECURITY.md)")
	case os.Getenv("DAPR_API_TOKEN") != "":
		t.Say("every sidecar requires the DAPR_API_TOKEN of your environment: the Dapr dashboard reads their metadata with it set, dapr list and dapr stop -f cannot (docs/dapr-cli.md)")
	default:
		t.Say("Dapr CLI: dapr list | dapr stop -f %s | dapr dashboard -p 9999 (docs/dapr-cli.md; the sidecar APIs need no token in this run: SECURITY.md)", opts.RunFile.Path)
	}
	t.Say("Press Ctrl-C to stop everything.")
}

// openSidecarAPIs decides -sidecar-tokens. "auto" opens the sidecar APIs
// only for a development run, one whose gateway issues dev tokens: there
// any local caller can already act as an admin through the gateway, and
// the Dapr tools need token-less access to see the run.
func openSidecarAPIs(mode string, rf *runfile.File) (bool, error) {
	switch mode {
	case "on":
		return false, nil
	case "off":
		return true, nil
	case "auto":
		for _, a := range rf.Apps {
			if a.Env["FINFLOW_DEV_MODE"] == "true" {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("-sidecar-tokens %q: use on, off or auto", mode)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func isTerminal() bool {
	st, err := os.Stdout.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
