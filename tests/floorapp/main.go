// Command floorapp is the benchmark's floor: it plays the gateway, payment,
// wallet or billing app (by its APP_ID) beside a real daprd, with the same
// HTTP server, sidecar client, tokens, mTLS, access policies, state stores
// and routes as FinFlow, but with handlers that do nothing except the
// sidecar hops and state round trips a FinFlow request makes. The plan
// (how many of each, per request kind and app) comes from FINFLOW_FLOOR_PLAN,
// which `make bench` measures on FinFlow itself from its sidecars' metrics.
//
// The gateway role maps FinFlow's public routes to a request kind, does its
// share of the plan and invokes the first app; every other role does its
// share on the first call it gets for a request and makes its planned calls.
package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/finflow/finflow/platform/envconfig"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/tests/bench/floor"
)

func main() {
	log := server.NewLogger("floor-" + os.Getenv("APP_ID"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("floor app failed", "err", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	env := envconfig.New()
	appID := env.String("APP_ID", "")
	port := env.Int("APP_PORT", 0)
	plan, err := floor.ParsePlan(os.Getenv(floor.PlanEnv))
	if err != nil {
		return err
	}
	if err := env.Err(); err != nil {
		return err
	}
	dc, err := sidecar.Connect(ctx, sidecar.ConfigFromEnv(env))
	if err != nil {
		return err
	}
	defer dc.Close()
	a := &floorApp{id: appID, plan: plan, dapr: dc, store: appID + "-store", log: log}
	if appID == "gateway" {
		a.redis = redis.NewClient(&redis.Options{Addr: env.String("REDIS_ADDR", "127.0.0.1:6379")})
		defer a.redis.Close()
	}

	// Seeded before the app listens: the launcher (and so the benchmark)
	// waits for the app's port, and daprd's own health probes never see
	// the app answer unhealthy (which would make daprd refuse calls to it
	// for up to a probe interval after it is seeded).
	if err := a.seed(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}

	app := server.New(server.Config{Name: "floor-" + appID, Logger: log})
	ok := func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }
	app.Get("/healthz", ok)
	app.Get("/readyz", ok)
	if appID == "gateway" {
		// Up, as FinFlow's gateway says, only once every app answers its
		// readiness probe through Dapr service invocation: the launcher
		// (and so the benchmark) waits for it, and a sidecar refuses calls
		// to its app until its own health probe has seen the app.
		app.Get("/health", func(c *fiber.Ctx) error {
			for _, peer := range []string{"payment", "wallet", "billing"} {
				resp, err := a.dapr.Invoke(c.UserContext(), peer, http.MethodGet, "/readyz", nil, nil)
				if err == nil && resp.Status != http.StatusOK {
					err = fmt.Errorf("%s answered %d", peer, resp.Status)
				}
				if err != nil {
					return a.apperr(c, err)
				}
			}
			return ok(c)
		})
		app.Post("/auth/dev-token", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"token": "floor"}) })
		for _, r := range floor.Routes {
			app.Add(r.Method, r.Path, a.entry(r))
		}
	} else {
		token := env.String("APP_API_TOKEN", "")
		app.Use(func(c *fiber.Ctx) error {
			if token != "" && subtle.ConstantTimeCompare([]byte(c.Get("dapr-api-token")), []byte(token)) != 1 {
				return c.Status(http.StatusUnauthorized).JSON(fiber.Map{"error": fiber.Map{"code": "UNAUTHENTICATED", "message": "no app token"}})
			}
			return c.Next()
		})
		app.Use(a.inner)
	}
	log.Info("floor app listening", "app_id", appID, "port", port)
	return server.Serve(ctx, app, ln, 5*time.Second)
}

type floorApp struct {
	id    string
	plan  floor.Plan
	dapr  *sidecar.Client
	redis *redis.Client
	store string
	log   *slog.Logger
}

// entry is a public route of the gateway role: its share of the plan, then
// the first hop.
func (a *floorApp) entry(r floor.Route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		step := a.plan.Step(r.Kind, a.id)
		for i := 0; i < step.Redis; i++ {
			if err := a.redis.Incr(c.UserContext(), "floor:gateway:"+strconv.Itoa(rand.IntN(1000))).Err(); err != nil {
				return a.apperr(c, err)
			}
		}
		if err := a.stateOps(c.UserContext(), step); err != nil {
			return a.apperr(c, err)
		}
		// The entry hop is the first of the step's calls to the route's app.
		rest := step
		rest.Calls = nil
		entered := false
		for _, dst := range step.Calls {
			if dst == r.App && !entered {
				entered = true
				continue
			}
			rest.Calls = append(rest.Calls, dst)
		}
		resp, err := a.dapr.Invoke(c.UserContext(), r.App, r.Method, r.Target(c.Params("id")), body(r.Method), floor.Header(r.Kind, true))
		if err != nil {
			return a.apperr(c, err)
		}
		if err := a.calls(c.UserContext(), r.Kind, rest); err != nil {
			return a.apperr(c, err)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Status(resp.Status).Send(resp.Body)
	}
}

// inner serves every call to a role behind the gateway.
func (a *floorApp) inner(c *fiber.Ctx) error {
	kind := c.Get(floor.HeaderKind)
	step := a.plan.Step(kind, a.id)
	if c.Get(floor.HeaderFirst) == "1" {
		if err := a.stateOps(c.UserContext(), step); err != nil {
			return a.apperr(c, err)
		}
		if err := a.calls(c.UserContext(), kind, step); err != nil {
			return a.apperr(c, err)
		}
	}
	status := http.StatusOK
	if c.Method() == http.MethodPost {
		status = http.StatusCreated
	}
	if step.Reply > 0 && c.Get(floor.HeaderFirst) == "1" {
		// The route's app answers as much as FinFlow's does (a page of
		// bills is kilobytes), so the floor carries it through the sidecars too.
		return c.Status(status).JSON(fiber.Map{"ok": true, "app": a.id, "padding": strings.Repeat("x", max(step.Reply-40, 0))})
	}
	return c.Status(status).JSON(fiber.Map{"ok": true, "app": a.id})
}

// value is what the floor writes: about the size of a FinFlow document.
var value = []byte(`{"padding":"` + strings.Repeat("x", 500) + `"}`)

// floorKeys is how many keys the floor reads and writes at random.
const floorKeys = 1000

// seed writes every key the floor reads, once, so that its reads find a
// document as FinFlow's do rather than nothing. It retries until the
// sidecar takes the write or ctx ends.
func (a *floorApp) seed(ctx context.Context) error {
	items := make([]sidecar.Item, floorKeys)
	for i := range items {
		items[i] = sidecar.Item{Key: "floor/" + strconv.Itoa(i), Value: value}
	}
	for ctx.Err() == nil {
		err := a.dapr.SaveBulk(ctx, a.store, items)
		if err == nil {
			return nil
		}
		a.log.Warn("seeding the floor's keys", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return ctx.Err()
}

func floorKey() string { return "floor/" + strconv.Itoa(rand.IntN(floorKeys)) }

func (a *floorApp) stateOps(ctx context.Context, step floor.Step) error {
	gets := step.Gets
	if step.BulkKeys > 0 && gets > 0 {
		keys := make([]string, step.BulkKeys)
		for k := range keys {
			keys[k] = floorKey()
		}
		if _, err := a.dapr.BulkGet(ctx, a.store, keys); err != nil {
			return err
		}
		gets--
	}
	for i := 0; i < gets; i++ {
		if _, err := a.dapr.Get(ctx, a.store, floorKey()); err != nil {
			return err
		}
	}
	for i := 0; i < step.Sets; i++ {
		if err := a.dapr.Save(ctx, a.store, floorKey(), value, ""); err != nil {
			return err
		}
	}
	for i := 0; i < step.Deletes; i++ {
		if err := a.dapr.Delete(ctx, a.store, "floor/gone/"+strconv.Itoa(rand.IntN(floorKeys)), ""); err != nil {
			return err
		}
	}
	return nil
}

// calls makes the role's planned invocations; the first to each app does
// that app's share.
func (a *floorApp) calls(ctx context.Context, kind string, step floor.Step) error {
	seen := map[string]int{}
	for _, dst := range step.Calls {
		n := seen[dst]
		seen[dst]++
		method, path := floor.CallPath(dst, n)
		resp, err := a.dapr.Invoke(ctx, dst, method, path, body(method), floor.Header(kind, n == 0))
		if err != nil {
			return err
		}
		if resp.Status >= 300 {
			return fmt.Errorf("%s %s answered %d", dst, path, resp.Status)
		}
	}
	return nil
}

func body(method string) []byte {
	if method == http.MethodGet {
		return nil
	}
	return []byte(`{"floor":true}`)
}

// apperr answers a failed hop as FinFlow would (503), and logs why: a floor
// that answers errors makes `make bench` fail, and this says what failed.
func (a *floorApp) apperr(c *fiber.Ctx, err error) error {
	server.Log(c, a.log).Warn("floor hop failed", "err", err.Error())
	return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"error": fiber.Map{"code": "UNAVAILABLE", "message": err.Error()}})
}
