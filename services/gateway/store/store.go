// Package store is the gateway's own state (its Dapr state store,
// gateway-store). It holds nothing yet: idempotency records arrive with the
// money work (issue 3), rate-limit counters with the security work.
package store
