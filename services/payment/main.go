// Command payment is FinFlow's payment orchestrator: wallet and Razorpay
// payments from PENDING to SUCCESS or FAILED, with a recovery loop that
// finishes any wallet payment a failure left PENDING, a subscription to
// verified Razorpay results, and reconciliation with the gateway for
// results that never came. It runs beside its Dapr sidecar (app id
// "payment", port 8084).
package main

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/peers"
	"github.com/finflow/finflow/platform/ringlog"
	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/services/payment/client"
	"github.com/finflow/finflow/services/payment/domain"
	paymenthttp "github.com/finflow/finflow/services/payment/http"
	"github.com/finflow/finflow/services/payment/store"
)

// cacheSize is how many documents (payments, list heads, pending shards)
// the payment store keeps in memory for its compare-and-swaps: about a
// minute of payments at 100/s, a few MiB.
const cacheSize = 8192

func main() {
	service.Main(service.Spec{
		Name:        "payment",
		DefaultPort: 8084,
		Settings:    domain.Settings,
		Setup: func(ctx context.Context, d *service.Deps, app *fiber.App) error {
			ms := func(key string) func() time.Duration {
				return func() time.Duration { return time.Duration(d.Settings.Get(key)) * time.Millisecond }
			}
			// The ops console's list of recent payments, written in batches.
			recent := ringlog.New(d.Sidecar, d.StateStore, "ops/recent-payments", 200, d.Log)
			go recent.Run(ctx, 250*time.Millisecond)
			// Payments and list heads this process wrote last are changed
			// without a read first (sidecar.Cache; none on stores whose
			// ETags are not versions).
			st := store.New(d.Sidecar, d.StateStore).WithRecent(recent).WithCache(d.Sidecar.Cached(ctx, d.StateStore, cacheSize))
			pr := &domain.Processor{
				Store:       st,
				Bills:       client.Bills{Dapr: d.Sidecar},
				Wallets:     client.Wallets{Dapr: d.Sidecar},
				Gateway:     client.Gateway{Dapr: d.Sidecar},
				Users:       peers.Users{Dapr: d.Sidecar},
				Log:         d.Log,
				Now:         time.Now,
				StepTimeout: ms(domain.SettingStepTimeoutMS),
				Retry: domain.RetryPolicy{
					Base:        ms(domain.SettingGatewayRetryBaseMS),
					Max:         ms(domain.SettingGatewayRetryMaxMS),
					MaxAttempts: func() int { return int(d.Settings.Get(domain.SettingGatewayMaxAttempts)) },
				},
				GatewayConcurrency:  func() int { return int(d.Settings.Get(domain.SettingGatewayConcurrency)) },
				MaxResultDeliveries: func() int { return int(d.Settings.Get(domain.SettingResultMaxDeliveries)) },
				Watch:               domain.WatchPolicy{Window: ms(domain.SettingWatchWindowMS), First: ms(domain.SettingWatchFirstMS)},
				Background:          ctx,
			}
			settled := d.Metrics.Counter("payments_total", "Payments moved out of PENDING by this process, by method and final state.", "method", "status")
			pr.OnSettled = func(p domain.Payment) { settled.WithLabelValues(string(p.Method), string(p.Status)).Inc() }
			reconciled := d.Metrics.Counter("reconciliation_actions_total", "Reconciliation actions on Razorpay payments (captured, refunded, failed, refused, expired, resumed).", "action")
			pr.OnReconcile = func(action string) { reconciled.WithLabelValues(action).Inc() }
			parked := d.Metrics.Counter("dead_letters_total", "Things parked for an operator as dead letters, by kind (refund_refused, refund_not_made, refund_unconfirmed, capture_unconfirmed, capture_mismatch, order_refused, reconcile_stuck, refused_result, parked_event, dropped_result, result_gave_up).", "kind")
			pr.OnParked = func(kind string) { parked.WithLabelValues(kind).Inc() }
			go pr.Recover(ctx, domain.RecoveryConfig{
				Interval:    ms(domain.SettingRecoveryIntervalMS),
				Changed:     d.Settings.Changed,
				MinAge:      ms(domain.SettingRecoveryMinAgeMS),
				Concurrency: func() int { return int(d.Settings.Get(domain.SettingRecoveryConcurrency)) },
			})
			go pr.Reconcile(ctx, domain.ReconcileConfig{
				Interval:      ms(domain.SettingReconcileIntervalMS),
				Changed:       d.Settings.Changed,
				After:         ms(domain.SettingReconcileAfterMS),
				OrderLifetime: ms(domain.SettingRazorpayOrderLifetime),
			})
			pr.RecentLog = st
			paymenthttp.New(pr, d.Log).Routes(app)
			return nil
		},
	})
}
