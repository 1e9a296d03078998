// Command gateway is FinFlow's only public entry (port 8080). It routes the
// contract's public paths to the services through its Dapr sidecar and keeps
// the internal routes unreachable from outside.
package main

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
	gatewayhttp "github.com/finflow/finflow/services/gateway/http"
	"github.com/finflow/finflow/services/gateway/store"
)

func main() {
	service.Main(service.Spec{
		Name:        "gateway",
		DefaultPort: 8080,
		PublicBind:  true,
		Settings:    gatewayhttp.Settings,
		Setup: func(_ context.Context, d *service.Deps, app *fiber.App) error {
			idem := store.New(d.Sidecar, d.StateStore, 24*60*60)
			gatewayhttp.New(d.Sidecar, idem, d.Settings, d.Log).Routes(app)
			return nil
		},
	})
}
