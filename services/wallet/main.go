// Command wallet is FinFlow's wallet service: balances in int64 paise and
// their ledger, every change applied atomically with its ledger entry and at
// most once per reference. It runs beside its Dapr sidecar (app id
// "wallet", port 8082).
package main

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/peers"
	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/services/wallet/domain"
	wallethttp "github.com/finflow/finflow/services/wallet/http"
	"github.com/finflow/finflow/services/wallet/store"
)

func main() {
	service.Main(service.Spec{
		Name:        "wallet",
		DefaultPort: 8082,
		Settings:    domain.Settings,
		Setup: func(ctx context.Context, d *service.Deps, app *fiber.App) error {
			// Wallets this process wrote last are debited without a read
			// first (sidecar.Cache; none on stores whose ETags are not
			// versions): 4096 wallet documents, up to about 40 MiB.
			st := store.New(d.Sidecar, d.StateStore).WithCache(d.Sidecar.Cached(ctx, d.StateStore, 4096))
			svc := &domain.Service{Store: st, Users: peers.Users{Dapr: d.Sidecar},
				Log: d.Log, Now: time.Now, Setting: d.Settings.Get}
			wallethttp.New(svc).Routes(app)
			return nil
		},
	})
}
