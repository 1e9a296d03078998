// Command razorpay is FinFlow's Razorpay adapter: it creates orders with
// razorpay-go, verifies Razorpay's signed webhooks and publishes their
// results for the payment service, and makes refunds. It runs beside its
// Dapr sidecar (app id "razorpay", port 8087), reads its keys from the Dapr
// secret store and the gateway's address from the configuration store (the
// local simulator unless configured otherwise).
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/ringlog"
	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/services/razorpay/client"
	razorpayhttp "github.com/finflow/finflow/services/razorpay/http"
	"github.com/finflow/finflow/services/razorpay/store"
)

// secretStore and secretName locate the Razorpay credentials.
const (
	secretStore = "finflow-secrets"
	secretName  = "razorpay"
)

func main() {
	service.Main(service.Spec{
		Name:         "razorpay",
		DefaultPort:  8087,
		TextSettings: razorpayhttp.TextSettings,
		Setup: func(ctx context.Context, d *service.Deps, app *fiber.App) error {
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
			d.Log.Info("razorpay credentials loaded", "key_id", creds["key_id"], "api_base_url", d.Settings.Text(razorpayhttp.SettingAPIBaseURL))
			gw := client.New(creds["key_id"], creds["key_secret"], func() string { return d.Settings.Text(razorpayhttp.SettingAPIBaseURL) })
			api := razorpayhttp.New(gw, store.New(d.Sidecar, d.StateStore), d.Sidecar, creds["key_id"], creds["webhook_secret"], d.Log)
			webhooks := d.Metrics.Counter("razorpay_webhooks_total", "Razorpay webhook deliveries by outcome (accepted, duplicate, ignored, refused, error).", "outcome")
			api.OnWebhook = func(outcome string) { webhooks.WithLabelValues(outcome).Inc() }
			// The ops console's webhook delivery log, written in batches.
			api.Deliveries = ringlog.New(d.Sidecar, d.StateStore, "ops/webhook-deliveries", 200, d.Log)
			go api.Deliveries.Run(ctx, 250*time.Millisecond)
			api.Routes(app)
			return nil
		},
	})
}
