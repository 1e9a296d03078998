// Package api holds the OpenAPI 3 description of FinFlow's public API
// (docs/api-contract.md), which the gateway serves at GET /openapi.json and
// the end-to-end suites validate every request and response against.
package api

import _ "embed"

// OpenAPI is the description, as served.
//
//go:embed openapi.json
var OpenAPI []byte
