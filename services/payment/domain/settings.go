package domain

import "github.com/finflow/finflow/platform/settings"

// Runtime settings of the payment service (configuration store keys; all
// durations in milliseconds).
const (
	SettingStepTimeoutMS         = "payments.step_timeout_ms"
	SettingRecoveryIntervalMS    = "payments.recovery.interval_ms"
	SettingRecoveryMinAgeMS      = "payments.recovery.min_age_ms"
	SettingRecoveryConcurrency   = "payments.recovery.concurrency"
	SettingReconcileIntervalMS   = "payments.reconcile.interval_ms"
	SettingReconcileAfterMS      = "payments.reconcile.after_ms"
	SettingRazorpayOrderLifetime = "payments.razorpay.order_lifetime_ms"
	// The watch of orders (WatchOrders): how long after a Razorpay
	// payment's creation its order is watched, and the first look's delay
	// (also the shortest time between two looks).
	SettingWatchWindowMS = "payments.razorpay.watch_window_ms"
	SettingWatchFirstMS  = "payments.razorpay.watch_first_ms"
	// Gateway work (refunds, confirming late captures, reconciliation)
	// that Razorpay does not answer is tried again after RetryBase,
	// doubling up to RetryMax, at most MaxAttempts times; then it is
	// parked for an operator. Concurrency bounds how many payments' gateway
	// work runs at once, apart from the subscriber.
	SettingGatewayRetryBaseMS  = "payments.gateway.retry_base_ms"
	SettingGatewayRetryMaxMS   = "payments.gateway.retry_max_ms"
	SettingGatewayMaxAttempts  = "payments.gateway.max_attempts"
	SettingGatewayConcurrency  = "payments.gateway.concurrency"
	SettingResultMaxDeliveries = "payments.results.max_deliveries"
)

// Settings declares the payment service's runtime settings and defaults.
var Settings = []settings.Int{
	{Key: SettingStepTimeoutMS, Default: 5000, Min: 100, Max: 60000},
	{Key: SettingRecoveryIntervalMS, Default: 1000, Min: 100, Max: 600000},
	{Key: SettingRecoveryMinAgeMS, Default: 5000, Min: 0, Max: 3600000},
	{Key: SettingRecoveryConcurrency, Default: 8, Min: 1, Max: 256},
	{Key: SettingReconcileIntervalMS, Default: 5000, Min: 100, Max: 3600000},
	{Key: SettingReconcileAfterMS, Default: 30000, Min: 0, Max: 86400000},
	{Key: SettingRazorpayOrderLifetime, Default: 900000, Min: 1000, Max: 7 * 86400000},
	{Key: SettingWatchWindowMS, Default: 86400000, Min: 60000, Max: 30 * 86400000},
	{Key: SettingWatchFirstMS, Default: 60000, Min: 100, Max: 3600000},
	{Key: SettingGatewayRetryBaseMS, Default: 2000, Min: 10, Max: 3600000},
	{Key: SettingGatewayRetryMaxMS, Default: 300000, Min: 10, Max: 86400000},
	{Key: SettingGatewayMaxAttempts, Default: 12, Min: 1, Max: 1000},
	{Key: SettingGatewayConcurrency, Default: 4, Min: 1, Max: 64},
	{Key: SettingResultMaxDeliveries, Default: 100, Min: 1, Max: 100000},
}
