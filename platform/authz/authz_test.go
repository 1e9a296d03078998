package authz_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/auth/authtest"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
)

func TestMiddlewareAndRules(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := server.New(server.Config{Name: "t", Logger: log})
	app.Use(authz.Middleware(authtest.Verifier(), "app-token-123"))
	owner := id.New(id.User)
	app.Get("/owned", func(c *fiber.Ctx) error {
		if err := authz.Owner(c, owner); err != nil {
			return err
		}
		return c.SendString("ok")
	})
	app.Get("/internal", func(c *fiber.Ctx) error {
		if err := authz.App(c, "payment"); err != nil {
			return err
		}
		return c.SendString("ok")
	})
	for _, probe := range []string{"/healthz", "/readyz"} {
		app.Get(probe, func(c *fiber.Ctx) error { return c.SendString("ok") })
	}
	other := id.New(id.User)
	cases := []struct {
		name, path, token, identity, caller string
		want                                int
	}{
		{"no app token", "/owned", "", authtest.Identity(owner, "user"), "", 401},
		{"wrong app token", "/owned", "nope", authtest.Identity(owner, "user"), "", 401},
		{"owner", "/owned", "app-token-123", authtest.Identity(owner, "user"), "", 200},
		{"admin", "/owned", "app-token-123", authtest.Identity("ops", "admin"), "", 200},
		{"another user", "/owned", "app-token-123", authtest.Identity(other, "user"), "", 403},
		{"no identity", "/owned", "app-token-123", "", "", 401},
		{"internal from payment", "/internal", "app-token-123", "", "payment", 200},
		{"internal from the gateway", "/internal", "app-token-123", "", "gateway", 403},
		{"internal with a user identity", "/internal", "app-token-123", authtest.Identity(owner, "user"), "payment", 403},
		{"liveness probe without the token", "/healthz", "", "", "", 200},
		{"readiness probe without the token", "/readyz", "", "", "", 200},
		{"a probe-like path without the token", "/readyz/x", "", "", "", 401},
		{"liveness probe with the token", "/healthz", "app-token-123", "", "", 200},
		{"readiness probe with the token", "/readyz", "app-token-123", "", "", 200},
		// Another app's sidecar: /health must not report this service ok.
		{"liveness probe with another sidecar's token", "/healthz", "nope", "", "", 401},
		{"readiness probe with another sidecar's token", "/readyz", "nope", "", "", 401},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.token != "" {
			req.Header.Set("dapr-api-token", tc.token)
		}
		if tc.identity != "" {
			req.Header.Set(auth.HeaderIdentity, tc.identity)
		}
		if tc.caller != "" {
			req.Header.Set(auth.HeaderCallerApp, tc.caller)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestIdentityTokens(t *testing.T) {
	v := authtest.Verifier()
	good := authtest.Identity(id.New(id.User), "user")
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("Verify(good) = %v", err)
	}
	// A token signed by another key pair (a compromised service's own).
	other, _ := auth.NewSigner("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	forged, _ := other.Sign(auth.Identity{Sub: "ops", Role: "admin"}, time.Minute, time.Now())
	expired, _ := other.Sign(auth.Identity{Sub: "ops", Role: "admin"}, -time.Minute, time.Now())
	for name, tok := range map[string]string{"other key": forged, "expired": expired, "garbage": "abc", "empty": ""} {
		if _, err := v.Verify(tok); err == nil {
			t.Errorf("Verify(%s) accepted", name)
		}
	}
}
