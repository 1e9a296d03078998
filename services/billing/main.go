// Command billing is FinFlow's billing service: bills, their single
// transition to PAID by exactly one payment, each user's list of them, and
// subscriptions that make one bill per period, driven by the sidecar's cron
// input binding. It runs beside its Dapr sidecar (app id "billing", port
// 8083).
package main

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/peers"
	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/services/billing/domain"
	billinghttp "github.com/finflow/finflow/services/billing/http"
	"github.com/finflow/finflow/services/billing/store"
)

func main() {
	service.Main(service.Spec{
		Name:        "billing",
		DefaultPort: 8083,
		Setup: func(ctx context.Context, d *service.Deps, app *fiber.App) error {
			svc := &domain.Service{
				Store:         store.New(d.Sidecar, d.StateStore).WithCache(d.Sidecar.Cached(ctx, d.StateStore, 8192)), // bills: one round trip to mark PAID
				Subscriptions: store.NewSubscriptions(d.Sidecar, d.StateStore),
				Schedule:      store.NewSchedule(d.Sidecar, d.StateStore),
				Autopay:       store.Autopay{Pub: d.Sidecar},
				Users:         peers.Users{Dapr: d.Sidecar},
				Log:           d.Log,
				Now:           time.Now,
			}
			billinghttp.New(svc).Routes(app)
			return nil
		},
	})
}
