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
	"github.com/finflow/finflow/services/razorpay/domain"
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
		TextSettings: domain.TextSettings,
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
			d.Log.Info("razorpay credentials loaded", "key_id", creds["key_id"], "api_base_url", d.Settings.Text(domain.SettingAPIBaseURL))
			webhooks := d.Metrics.Counter("razorpay_webhooks_total",
				"Razorpay webhook deliveries by outcome (accepted, duplicate, ignored, malformed, unknown_order: verified; refused: not verified; error: not recorded, retried by Razorpay).", "outcome")
			// The ops console's webhook delivery log, written in batches.
			deliveries := ringlog.New(d.Sidecar, d.StateStore, "ops/webhook-deliveries", 200, d.Log)
			go deliveries.Run(ctx, 250*time.Millisecond)
			adapter := &domain.Adapter{
				Gateway:       client.New(creds["key_id"], creds["key_secret"], func() string { return d.Settings.Text(domain.SettingAPIBaseURL) }),
				Store:         store.New(d.Sidecar, d.StateStore),
				Publisher:     d.Sidecar,
				KeyID:         creds["key_id"],
				WebhookSecret: creds["webhook_secret"],
				Log:           d.Log,
				Now:           time.Now,
				OnWebhook:     func(outcome string) { webhooks.WithLabelValues(outcome).Inc() },
				Deliveries:    deliveries,
			}
			razorpayhttp.New(adapter).Routes(app)
			return nil
		},
	})
}
