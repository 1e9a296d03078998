// Command gateway is FinFlow's only public entry (port 8080). It routes the
// contract's public paths to the services through its Dapr sidecar and keeps
// the internal routes unreachable from outside; it also serves the ops
// console (/console, package console/http).
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/service"
	consolehttp "github.com/finflow/finflow/services/gateway/console/http"
	consolestore "github.com/finflow/finflow/services/gateway/console/store"
	"github.com/finflow/finflow/services/gateway/domain"
	gatewayhttp "github.com/finflow/finflow/services/gateway/http"
	"github.com/finflow/finflow/services/gateway/ratelimit"
	"github.com/finflow/finflow/services/gateway/store"
	"github.com/finflow/finflow/services/gateway/webapp"
)

func main() {
	service.Main(service.Spec{
		Name:        "gateway",
		DefaultPort: 8080,
		PublicBind:  true,
		Settings:    domain.Settings,
		Setup: func(ctx context.Context, d *service.Deps, app *fiber.App) error {
			secret, err := d.Sidecar.Secret(ctx, d.Env.String("SECRET_STORE", service.SecretStore), "gateway")
			if err != nil {
				return err
			}
			devMode := d.Env.Bool("FINFLOW_DEV_MODE", false)
			cfg := domain.TokenConfig{HS256Keys: []string{secret["jwt_hs256_key"]}, RS256PublicKeyPEM: secret["jwt_rs256_public_key"],
				Issuer: secret["jwt_issuer"], Audience: secret["jwt_audience"]}
			if devMode {
				cfg.DevKey = secret["dev_jwt_key"]
			}
			tokens, err := domain.NewTokens(cfg)
			if err != nil {
				return fmt.Errorf("client token keys: %w", err)
			}
			signer, err := auth.NewSigner(secret["identity_signing_key"])
			if err != nil {
				return err
			}
			d.Log.Info("authentication ready", "dev_mode", devMode, "rs256", secret["jwt_rs256_public_key"] != "", "hs256", secret["jwt_hs256_key"] != "", "issuer", secret["jwt_issuer"], "audience", secret["jwt_audience"])
			idem := store.New(d.Sidecar, d.StateStore, 24*60*60)
			// Rate-limit counters live in Redis itself (one atomic script per
			// request), shared by every gateway replica.
			rdb := redis.NewClient(&redis.Options{Addr: d.Env.String("REDIS_ADDR", "localhost:6379"), Password: d.Env.String("REDIS_PASSWORD", ""),
				DialTimeout: time.Second, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
			limiter := ratelimit.New(rdb, "gateway-ratelimit:")
			gw := gatewayhttp.New(d.Sidecar, idem, tokens, signer, limiter, d.Settings, d.Log)
			gw.Routes(app)
			// The ops console, with the gateway's rate limiting and health.
			consolehttp.New(consolehttp.Deps{Services: d.Sidecar, Sessions: consolestore.NewSessions(d.Sidecar, d.StateStore),
				Tokens: tokens, Signer: signer, Limit: gw.Limit, Readiness: gw.Readiness, Log: d.Log}).Routes(app)
			webapp.Mount(ctx, app, d, devMode) // the customer web app at /app (docs/webapp.md)
			return nil
		},
	})
}
