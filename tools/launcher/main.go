// Command launcher runs FinFlow from its Dapr Multi-App Run file without the
// Dapr CLI: what `dapr run -f .` does, plus finding or starting Redis and
// seeding the runtime settings. `make run` calls it.
//
//	go run ./tools/launcher -f dapr.yaml -start-redis -seed-settings config/runtime-settings.yaml
//
// Ctrl-C (SIGINT) or SIGTERM stops every app, every sidecar and the Redis it
// started, and leaves no process behind.
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
		redisDir     = flag.String("redis-dir", "var/redis", "data folder of a started redis-server, relative to the run file")
		seed         = flag.String("seed-settings", "", "seed the runtime settings from this YAML file (keys already set are kept)")
		seedOnly     = flag.Bool("seed-only", false, "only seed the runtime settings into the Redis at -redis, then exit")
		readyTimeout = flag.Duration("ready-timeout", 5*time.Minute, "how long to wait for every app to be healthy")
		simAddr      = flag.String("razorpay-sim", "", "also run the Razorpay simulator (tools/rzpsim) on this address, webhooks to the gateway")
		insecure     = flag.Bool("insecure", false, "run without Sentry: no mTLS between sidecars and no access control")
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
	root := filepath.Dir(rf.Path)
	if *daprd == "" {
		*daprd = topology.FindDaprd(root)
	}
	if err := topology.CheckDaprd(*daprd); err != nil {
		return err
	}

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

	var extras []topology.Extra
	if *simAddr != "" {
		gw := 8080
		for _, a := range rf.Apps {
			if a.AppID == "gateway" {
				gw = a.AppPort
			}
		}
		extras = append(extras, topology.Extra{
			Name: "rzpsim",
			Argv: []string{"go", "run", "./tools/rzpsim", "-addr", *simAddr,
				"-webhook", fmt.Sprintf("http://127.0.0.1:%d/razorpay/webhook", gw),
				"-secrets", "config/test-mode-secrets.json"},
			Dir:       root,
			HealthURL: "http://" + *simAddr + "/sim/health",
		})
	}
	sentry, appConfigs := "", ""
	if !*insecure {
		if sentry = topology.FindSentry(root, *daprd); sentry == "" {
			say("no sentry binary (run `make daprd`): running WITHOUT mTLS and access control")
		} else {
			appConfigs = filepath.Join(root, "config", "secure")
		}
	}
	say("starting %d apps from %s with %s", len(rf.Apps), rf.Path, *daprd)
	t, err := topology.Start(ctx, topology.Options{
		Sentry:       sentry,
		AppConfigDir: appConfigs,
		Extras:       extras,
		RunFile:      rf,
		Daprd:        *daprd,
		Console:      os.Stdout,
		Color:        isTerminal(),
		RedisAddr:    rds.Addr,
		ExtraEnv:     []string{"REDIS_ADDR=" + rds.Addr},
		ReadyTimeout: *readyTimeout,
	})
	if err != nil {
		return err
	}
	defer t.Stop()
	banner(t)
	<-ctx.Done()
	then := ""
	if rds.Started() {
		then = ", then the Redis it started"
	}
	say("stopping: apps first, then sidecars%s", then)
	return nil
}

func banner(t *topology.Topology) {
	t.Say("FinFlow is up. Try: curl http://localhost:%d/health", t.App("gateway").AppPort)
	if sim := flag.Lookup("razorpay-sim").Value.String(); sim != "" {
		t.Say("Razorpay simulator: http://%s (pay an order: POST /sim/orders/{order_id}/pay)", sim)
	}
	t.Say("%-9s %8s %10s %10s %8s  %s", "app", "app port", "dapr http", "dapr grpc", "metrics", "logs")
	for _, a := range t.Apps() {
		t.Say("%-9s %8d %10d %10d %8d  %s", a.AppID, a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort, filepath.Dir(a.AppLog()))
	}
	t.Say("Press Ctrl-C to stop everything.")
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
