// Command billing is FinFlow's billing service: bills and their single transition to PAID. It runs beside its
// Dapr sidecar (app id "billing", port 8083). Its endpoints arrive with
// issue 3 (money); today it starts, registers with its sidecar and answers health.
package main

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
)

func main() {
	service.Main(service.Spec{
		Name:        "billing",
		DefaultPort: 8083,
		Setup:       func(context.Context, *service.Deps, *fiber.App) error { return nil },
	})
}
