// Package platform is FinFlow's small shared module: what every service needs
// the same way and nothing else. It holds no business rules.
//
//   - apperr: error kinds, stable codes and their one mapping to HTTP
//   - id: prefixed opaque identifiers (usr_, bill_, pay_, wtx_)
//   - envconfig: fail-fast loading of settings from the environment
//   - server: Fiber app construction, strict JSON, request ids, graceful stop
//   - sidecar: the Dapr sidecar client (state, invocation, secrets, pub/sub)
//   - settings: runtime settings read and watched through the configuration API
package platform
