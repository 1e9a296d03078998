// Package service is the lifecycle every FinFlow service shares: load the
// start-up configuration, connect to the Dapr sidecar, watch the runtime
// settings, serve HTTP, and stop cleanly on SIGINT or SIGTERM. A service's
// main.go is one call to Main with the function that builds its routes.
package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/envconfig"
	"github.com/finflow/finflow/platform/metrics"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/platform/sidecar"
)

// Spec describes one service.
type Spec struct {
	// Name is the service's name and Dapr app id (user, wallet, ...).
	Name string
	// DefaultPort is used when APP_PORT is not set.
	DefaultPort int
	// PublicBind makes the service listen on every interface (the gateway);
	// every other service listens on loopback only, reachable through its
	// sidecar.
	PublicBind bool
	// Settings and TextSettings declare the runtime settings the service
	// reads.
	Settings     []settings.Int
	TextSettings []settings.String
	// Setup registers the service's routes. It may start background work
	// bound to ctx.
	Setup func(ctx context.Context, d *Deps, app *fiber.App) error
}

// Deps is what Setup gets to build the service from.
type Deps struct {
	Log      *slog.Logger
	Env      *envconfig.Env
	Sidecar  *sidecar.Client
	Settings *settings.Settings
	// StateStore is the name of the service's own state store component
	// (STATE_STORE, by default "<name>-store").
	StateStore string
	// Metrics is the service's Prometheus registry, served on METRICS_ADDR.
	Metrics *metrics.Metrics
}

// SettingsStore is the name of the configuration store component, and
// SecretStore of the secret store.
const (
	SettingsStore = "finflow-settings"
	SecretStore   = "finflow-secrets"
)

// HealthcheckArg, as a service's only argument, makes it a probe instead of
// the service: it asks the service already running beside it (same
// APP_PORT and BIND_HOST) for GET /readyz and exits 0 when that answers
// 200, 1 otherwise. Container health checks use it (docker-compose.yml):
// the images have no shell and no HTTP client.
const HealthcheckArg = "-healthcheck"

// Main runs the service described by spec until SIGINT or SIGTERM, and exits
// the process with status 1 if it fails. Run with HealthcheckArg, it probes
// the running service instead (Healthcheck).
func Main(spec Spec) {
	if len(os.Args) == 2 && os.Args[1] == HealthcheckArg {
		if err := Healthcheck(context.Background(), spec); err != nil {
			fmt.Fprintf(os.Stderr, "%s: not ready: %v\n", spec.Name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	log := server.NewLogger(spec.Name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, spec, log); err != nil {
		log.Error("service stopped with an error", "err", err.Error())
		stop()
		os.Exit(1)
	}
	log.Info("service stopped")
}

// Run is Main without the signal handling and exit, for tests.
func Run(ctx context.Context, spec Spec, log *slog.Logger) error {
	env := envconfig.New()
	host, port := listenAddr(env, spec)
	sc := sidecar.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		return err
	}
	// Listen before connecting to the sidecar: the sidecar waits for the app
	// port, so a port already taken fails at once with a clear error.
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s cannot listen on %s: %w", spec.Name, addr, err)
	}
	defer ln.Close()

	if addr := env.String("PPROF_ADDR", ""); addr != "" {
		if err := servePprof(ctx, addr, log); err != nil {
			return err
		}
	}

	log.Info("connecting to the Dapr sidecar", "dapr_http_port", sc.HTTPPort, "dapr_grpc_port", sc.GRPCPort)
	dc, err := sidecar.Connect(ctx, sc)
	if err != nil {
		return err
	}
	defer dc.Close()

	set := settings.New(log, spec.Settings...).WithStrings(spec.TextSettings...)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if len(spec.Settings)+len(spec.TextSettings) > 0 {
		set.Watch(watchCtx, dc, env.String("SETTINGS_STORE", SettingsStore))
	}

	m := metrics.New(spec.Name)
	// Metrics on their own loopback port (API port + 1000 unless
	// METRICS_ADDR says otherwise; "off" turns them off).
	if maddr := env.String("METRICS_ADDR", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1000))); maddr != "off" {
		if _, err := m.Serve(ctx, maddr, log); err != nil {
			return err
		}
	}
	app := server.New(server.Config{Name: spec.Name, Logger: log, Observe: m.ObserveRequest,
		// Bounds on slow clients (the gateway faces the internet).
		ReadTimeout:  env.Duration("HTTP_READ_TIMEOUT", server.DefaultReadTimeout),
		WriteTimeout: env.Duration("HTTP_WRITE_TIMEOUT", server.DefaultWriteTimeout),
		IdleTimeout:  env.Duration("HTTP_IDLE_TIMEOUT", server.DefaultIdleTimeout),
	})
	d := &Deps{Log: log, Env: env, Sidecar: dc, Settings: set, StateStore: env.String("STATE_STORE", spec.Name+"-store"), Metrics: m}
	if !spec.PublicBind {
		// Every service but the gateway: only its own sidecar may call it
		// (Dapr's app API token), and identities must be the gateway's.
		internal, err := dc.Secret(ctx, env.String("SECRET_STORE", SecretStore), "internal")
		if err != nil {
			return err
		}
		verifier, err := auth.NewVerifier(internal["identity_public_key"])
		if err != nil {
			return fmt.Errorf("identity public key: %w", err)
		}
		appToken := env.String("APP_API_TOKEN", "")
		if appToken == "" {
			log.Warn("APP_API_TOKEN is not set: any local process that finds this service's port can call it")
		}
		app.Use(authz.Middleware(verifier, appToken))
		// The ops console (gateway, admins) shows each sidecar's metadata.
		app.Get("/ops/sidecar", func(c *fiber.Ctx) error {
			if err := authz.Admin(c); err != nil {
				return err
			}
			md, err := dc.Metadata(c.UserContext())
			if err != nil {
				return err
			}
			return c.JSON(md)
		})
	}
	health(app, d)
	if err := spec.Setup(ctx, d, app); err != nil {
		return fmt.Errorf("setting up %s: %w", spec.Name, err)
	}
	if err := env.Err(); err != nil {
		return err
	}
	log.Info("listening", "addr", addr)
	return server.Serve(ctx, app, ln, 10*time.Second)
}

// listenAddr is where the service listens: APP_PORT (spec.DefaultPort) on
// loopback for internal services (reachable through their sidecar only),
// on every interface for the gateway; BIND_HOST overrides either
// (Kubernetes probes a pod's own address). A malformed value is reported by
// env.Err.
func listenAddr(env *envconfig.Env, spec Spec) (host string, port int) {
	host = "127.0.0.1"
	if spec.PublicBind {
		host = "0.0.0.0"
	}
	return env.String("BIND_HOST", host), env.Int("APP_PORT", spec.DefaultPort)
}

// Healthcheck asks the service running on this host at APP_PORT (the
// address BIND_HOST names, or loopback when it binds every interface) for
// GET /readyz, within 3 s: nil when it answers 200, otherwise why not.
func Healthcheck(ctx context.Context, spec Spec) error {
	env := envconfig.New()
	host, port := listenAddr(env, spec)
	if err := env.Err(); err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// health registers the two probes every service answers:
//
//	GET /healthz  liveness: the process serves HTTP (the sidecar's app
//	              health check uses it)
//	GET /readyz   readiness: the sidecar answers and the service's own state
//	              store can be read (the gateway's GET /health uses it)
func health(app *fiber.App, d *Deps) {
	app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	app.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := d.Sidecar.Healthy(ctx); err != nil {
			return apperr.Unavailable("sidecar is not healthy", err)
		}
		if _, err := d.Sidecar.Get(ctx, d.StateStore, "readyz"); err != nil {
			return apperr.Unavailable("state store "+d.StateStore+" is not answering", err)
		}
		return c.JSON(fiber.Map{"status": "ok"})
	})
}
