// Command user is FinFlow's user service: sign-up with case-insensitively
// unique emails, lookup and a paginated list. It runs beside its Dapr
// sidecar (app id "user", port 8081) and keeps its data in its own state
// store.
package main

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/services/user/domain"
	userhttp "github.com/finflow/finflow/services/user/http"
	"github.com/finflow/finflow/services/user/store"
)

func main() {
	service.Main(service.Spec{
		Name:        "user",
		DefaultPort: 8081,
		Settings:    domain.Settings,
		Setup: func(_ context.Context, d *service.Deps, app *fiber.App) error {
			users := store.New(d.Sidecar, d.StateStore)
			svc := &domain.Service{Store: users, Keys: users, Log: d.Log, Now: time.Now, Setting: d.Settings.Get}
			userhttp.New(svc).Routes(app)
			return nil
		},
	})
}
