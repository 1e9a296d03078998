// Command payment is FinFlow's payment service: the payment orchestrator: wallet and Razorpay payments from PENDING to SUCCESS or FAILED. It runs beside its
// Dapr sidecar (app id "payment", port 8084). Its endpoints arrive with
// issue 3 (money) and issue 4 (Razorpay); today it starts, registers with its sidecar and answers health.
package main

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
)

func main() {
	service.Main(service.Spec{
		Name:        "payment",
		DefaultPort: 8084,
		Setup:       func(context.Context, *service.Deps, *fiber.App) error { return nil },
	})
}
