// Package domain will hold the wallet service's model and rules.
//
// It is empty on purpose: the wallet service's endpoints arrive with
// issue 3 (money). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package domain
