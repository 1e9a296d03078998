// Package store will hold the payment service's state, kept in its own Dapr state store (payment-store).
//
// It is empty on purpose: the payment service's endpoints arrive with
// issue 3 (money) and issue 4 (Razorpay). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package store
