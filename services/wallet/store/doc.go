// Package store will hold the wallet service's state, kept in its own Dapr state store (wallet-store).
//
// It is empty on purpose: the wallet service's endpoints arrive with
// issue 3 (money). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package store
