// Package store will hold the billing service's state, kept in its own Dapr state store (billing-store).
//
// It is empty on purpose: the billing service's endpoints arrive with
// issue 3 (money). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package store
