// Package authz is the authorisation every FinFlow service applies the
// same way: the Fiber middleware that admits only the service's own sidecar
// and reads the gateway's signed identity, and the rules handlers call
// (owner, admin, internal app).
package authz

import (
	"crypto/subtle"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
)

type ctxKey int

const (
	keyIdentity ctxKey = iota
	keyCallerApp
)

// Middleware runs first in every service except the gateway:
//
//   - when appToken is set (Dapr's APP_API_TOKEN), every request must carry
//     it in dapr-api-token: only the service's own sidecar can call it, not
//     a process that found its port;
//   - a X-FinFlow-auth.Identity header, when present, must verify, and becomes
//     the request's identity;
//   - dapr-caller-app-id is kept as the calling app.
//
// Only the probes may come without the app token, because some of their
// callers cannot send it: /healthz (Dapr 1.14's app health probe, and
// Kubernetes' liveness probe) and /readyz (Kubernetes' readiness probe).
// Both answer nothing but ok or unavailable. A probe that carries a wrong
// token is refused like any other request: it is another app's sidecar
// (a port given to two apps, a stale address), and the gateway's GET
// /health, which asks /readyz through the sidecars, must then report this
// service down rather than ok.
func Middleware(v *auth.Verifier, appToken string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		got := c.Get("dapr-api-token")
		if appToken != "" && (got != "" || !probe(c.Path())) && subtle.ConstantTimeCompare([]byte(got), []byte(appToken)) != 1 {
			return apperr.New(apperr.KindUnauthenticated, apperr.CodeUnauthenticated, "only this service's Dapr sidecar may call it")
		}
		if raw := c.Get(auth.HeaderIdentity); raw != "" {
			ident, err := v.Verify(raw)
			if err != nil {
				return err
			}
			c.Locals(keyIdentity, ident)
		}
		if app := c.Get(auth.HeaderCallerApp); app != "" {
			c.Locals(keyCallerApp, app)
		}
		return c.Next()
	}
}

// From returns the request's authenticated identity, if any.
func From(c *fiber.Ctx) (auth.Identity, bool) {
	ident, ok := c.Locals(keyIdentity).(auth.Identity)
	return ident, ok
}

// CallerApp returns the Dapr app id that called, or "".
func CallerApp(c *fiber.Ctx) string {
	app, _ := c.Locals(keyCallerApp).(string)
	return app
}

// Caller returns who is asking (auth.Caller), for the domain's rules.
func Caller(c *fiber.Ctx) auth.Caller {
	ident, signed := From(c)
	return auth.Caller{Identity: ident, Signed: signed, App: CallerApp(c)}
}

// Owner admits an admin, or the user who owns the resource (auth.Caller.Owner).
func Owner(c *fiber.Ctx, ownerID string) error { return Caller(c).Owner(ownerID) }

// Admin admits an admin only (auth.Caller.Admin).
func Admin(c *fiber.Ctx) error { return Caller(c).Admin() }

// App admits calls from the given Dapr apps (auth.Caller.FromApp): the
// guard of an internal route.
func App(c *fiber.Ctx, apps ...string) error { return Caller(c).FromApp(apps...) }

// OwnerOrApp admits the owner, an admin, or one of the given apps.
func OwnerOrApp(c *fiber.Ctx, ownerID string, apps ...string) error {
	return Caller(c).OwnerOrApp(ownerID, apps...)
}

// Payer returns whose bills a payment request may pay (auth.Caller.Payer).
func Payer(c *fiber.Ctx) (string, error) { return Caller(c).Payer() }

// probe reports the health probes' paths.
func probe(path string) bool { return path == "/healthz" || path == "/readyz" }
