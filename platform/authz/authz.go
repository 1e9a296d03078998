// Package authz is the authorisation every FinFlow service applies the
// same way: the Fiber middleware that admits only the service's own sidecar
// and reads the gateway's signed identity, and the rules handlers call
// (owner, admin, internal app).
package authz

import (
	"crypto/subtle"
	"slices"

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
// Only the probes are exempt from the app token, because their callers
// cannot send it: /healthz (Dapr 1.14's app health probe, and Kubernetes'
// liveness probe) and /readyz (Kubernetes' readiness probe). Both answer
// nothing but ok or unavailable.
func Middleware(v *auth.Verifier, appToken string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if appToken != "" && !probe(c.Path()) && subtle.ConstantTimeCompare([]byte(c.Get("dapr-api-token")), []byte(appToken)) != 1 {
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

// Owner admits an admin, or the user who owns the resource. Without an
// identity it is auth.ErrUnauthenticated; anyone else gets auth.ErrForbidden.
func Owner(c *fiber.Ctx, ownerID string) error {
	ident, ok := From(c)
	switch {
	case !ok:
		return auth.ErrUnauthenticated
	case ident.Admin() || ident.Sub == ownerID:
		return nil
	}
	return auth.ErrForbidden
}

// Admin admits an admin only.
func Admin(c *fiber.Ctx) error {
	ident, ok := From(c)
	switch {
	case !ok:
		return auth.ErrUnauthenticated
	case ident.Admin():
		return nil
	}
	return auth.ErrForbidden.With("only an admin may do this", nil)
}

// App admits calls from the given Dapr apps (internal routes). A request
// carrying a user identity is not such a call.
func App(c *fiber.Ctx, apps ...string) error {
	if _, user := From(c); !user && slices.Contains(apps, CallerApp(c)) {
		return nil
	}
	return auth.ErrForbidden.With("this route is internal", nil)
}

// OwnerOrApp admits the owner, an admin, or one of the given apps.
func OwnerOrApp(c *fiber.Ctx, ownerID string, apps ...string) error {
	if App(c, apps...) == nil {
		return nil
	}
	return Owner(c, ownerID)
}

// Payer returns who a payment request pays for: "" for an admin (any bill),
// the user's id otherwise.
func Payer(c *fiber.Ctx) (string, error) {
	ident, ok := From(c)
	if !ok {
		return "", auth.ErrUnauthenticated
	}
	if ident.Admin() {
		return "", nil
	}
	return ident.Sub, nil
}

// probe reports the health probes' paths.
func probe(path string) bool { return path == "/healthz" || path == "/readyz" }
