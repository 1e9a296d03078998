// Command razorpay is FinFlow's Razorpay adapter: orders through
// razorpay-go, signed webhooks, verified results published over pub/sub. It
// runs beside its Dapr sidecar (app id "razorpay", port 8087). Its endpoints
// arrive with issue 4; today it starts, loads its credentials from the Dapr
// secret store (failing fast when they are missing) and answers health.
package main

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
)

// secretStore and secretName locate the Razorpay credentials.
const (
	secretStore = "finflow-secrets"
	secretName  = "razorpay"
)

func main() {
	service.Main(service.Spec{
		Name:        "razorpay",
		DefaultPort: 8087,
		Setup: func(ctx context.Context, d *service.Deps, _ *fiber.App) error {
			creds, err := d.Sidecar.Secret(ctx, d.Env.String("SECRET_STORE", secretStore), secretName)
			if err != nil {
				return err
			}
			for _, k := range []string{"key_id", "key_secret", "webhook_secret"} {
				if creds[k] == "" {
					return fmt.Errorf("secret %q has no %q", secretName, k)
				}
			}
			// The key id is public (clients see it); the secrets are never logged.
			d.Log.Info("razorpay credentials loaded", "key_id", creds["key_id"])
			return nil
		},
	})
}
