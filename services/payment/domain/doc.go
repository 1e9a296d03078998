// Package domain will hold the payment service's model and rules.
//
// It is empty on purpose: the payment service's endpoints arrive with
// issue 3 (money) and issue 4 (Razorpay). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package domain
