// Package platform is FinFlow's small shared module: what every service
// needs the same way, and the contract services share. It holds no business
// rules.
//
//   - apperr: error kinds, stable codes and their one mapping to HTTP
//   - auth: signed identities from the gateway, and the caller rules
//     (auth.Caller: owner, admin, internal app) domain use cases apply
//   - authz: the Fiber middleware that admits only the service's sidecar
//     and reads the caller (authz.Caller)
//   - contract: what services say to each other: app ids, internal paths
//     and bodies, pub/sub topics and events, the errors that cross a
//     service boundary
//   - envconfig: fail-fast loading of start-up settings from the environment
//   - id: prefixed opaque identifiers (usr_, bill_, pay_, wtx_, top_, rfd_,
//     sub_)
//   - listindex: per-owner lists (a user's bills, payments, top-ups) read
//     newest first in a bounded number of state round trips
//   - metrics: the Prometheus registry and HTTP metrics of a service
//   - money: amounts in integer paise, strictly decoded and validated
//   - page: page limits and opaque cursors
//   - peers: small clients for questions services ask each other
//   - ringlog: bounded operator logs kept in a state store (the console's)
//   - server: Fiber app construction, strict JSON and media types, request
//     ids, logs that carry the request's ids, graceful stop
//   - service: the lifecycle every service shares (configuration, sidecar,
//     settings, HTTP, metrics, stop)
//   - settings: runtime settings read and watched through the
//     configuration API
//   - sidecar: the Dapr sidecar client (state with sidecar.Update, the one
//     compare-and-swap; invocation; pub/sub; secrets; metadata), and
//     sidecartest, its in-memory state for unit tests
//   - tracectx: W3C trace context
package platform
