// Package domain will hold the razorpay service's model and rules.
//
// It is empty on purpose: the razorpay service's endpoints arrive with
// issue 4 (Razorpay). Until then the service starts beside its sidecar and answers
// GET /healthz and GET /readyz.
package domain
