// Package http will hold the billing service's HTTP API (Fiber).
//
// It is empty on purpose: the billing service's endpoints arrive with
// issue 3 (money). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package http
