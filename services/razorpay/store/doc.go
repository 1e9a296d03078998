// Package store will hold the razorpay service's state, kept in its own Dapr state store (razorpay-store).
//
// It is empty on purpose: the razorpay service's endpoints arrive with
// issue 4 (Razorpay). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package store
