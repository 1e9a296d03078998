// Package deploy checks FinFlow's deployment files without a container
// engine or a cluster: it parses them and compares them with what `make run`
// runs (dapr.yaml, components/, config/), so that Docker Compose and
// Kubernetes describe the same topology as the local one. The tests are the
// whole package; it has no other code.
package deploy
