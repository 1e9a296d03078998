// Command wallet is FinFlow's wallet service: wallets: balances in int64 paise and their ledger. It runs beside its
// Dapr sidecar (app id "wallet", port 8082). Its endpoints arrive with
// issue 3 (money); today it starts, registers with its sidecar and answers health.
package main

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
)

func main() {
	service.Main(service.Spec{
		Name:        "wallet",
		DefaultPort: 8082,
		Setup:       func(context.Context, *service.Deps, *fiber.App) error { return nil },
	})
}
