package domain

import "github.com/finflow/finflow/platform/settings"

// Runtime settings of the gateway (configuration store keys; see
// docs/dapr.md for how they are changed while FinFlow runs).
const (
	// SettingInvokeTimeoutMS bounds one forwarded call to a service, in ms.
	// A write whose answer does not come back in time has an unknown
	// outcome (503, details.outcome "unknown"), so it must cover what a
	// service takes to answer even when its own calls are slow: a wallet
	// payment answers 202 PENDING after at most three steps of
	// payments.step_timeout_ms (reading the bill, debiting the wallet,
	// marking the bill paid) and its own writes; keep it above three times
	// that. Its minimum, a second, is above three of the payment service's
	// shortest steps (100 ms) with room for two sidecar hops under load.
	SettingInvokeTimeoutMS = "gateway.invoke_timeout_ms"
	// SettingHealthTimeoutMS bounds GET /health's fan-out to the services, in ms.
	SettingHealthTimeoutMS = "gateway.health_timeout_ms"
	// SettingRateUserPerMinute is a user's budget of requests a minute.
	SettingRateUserPerMinute = "gateway.ratelimit.user_per_minute"
	// SettingRateAdminPerMinute is an admin's budget of requests a minute.
	SettingRateAdminPerMinute = "gateway.ratelimit.admin_per_minute"
	// SettingRateAnonPerMinute is the budget of requests a minute of one
	// address without a token.
	SettingRateAnonPerMinute = "gateway.ratelimit.anonymous_per_minute"
	// SettingRateWebhookPerMinute is the budget of webhook deliveries a
	// minute from one address.
	SettingRateWebhookPerMinute = "gateway.ratelimit.webhook_per_minute"
)

// Settings declares the gateway's runtime settings, their defaults and
// bounds (a value outside them is refused and the default kept).
var Settings = []settings.Int{
	{Key: SettingInvokeTimeoutMS, Default: 15000, Min: 1000, Max: 120000},
	{Key: SettingHealthTimeoutMS, Default: 2000, Min: 100, Max: 30000},
	{Key: SettingRateUserPerMinute, Default: 600, Min: 1, Max: 10000000},
	{Key: SettingRateAdminPerMinute, Default: 60000, Min: 1, Max: 10000000},
	{Key: SettingRateAnonPerMinute, Default: 600, Min: 1, Max: 10000000},
	{Key: SettingRateWebhookPerMinute, Default: 6000, Min: 1, Max: 10000000},
}
