// Package compose runs FinFlow's docker-compose.yml for real and walks it:
// `docker compose up --build --wait`, the README's user, wallet-payment and
// Razorpay walks through the published gateway (the Razorpay simulator runs
// as a container too), the access policies between the sidecars, the
// probes every service answers, and a stop and start that must keep the
// data; then `down -v`.
//
// It needs a Docker engine, Compose v2 and the images the files name, which
// `make compose-test` provides (tools/compose/compose-test.sh) before it runs
// this package with FINFLOW_COMPOSE=1. Without that variable the tests skip
// (so `go test ./tests/...` does not start containers); with it, anything
// missing is a failure, never a skip.
package compose
