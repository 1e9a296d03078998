//go:build tools

// Package daprd pins the Dapr runtime that FinFlow builds its sidecar from.
// It lives outside go.work so that the services' dependency graph does not
// inherit all of daprd's.
package daprd

import _ "github.com/dapr/dapr/cmd/daprd"
