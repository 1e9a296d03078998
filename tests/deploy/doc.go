// Package deploy checks FinFlow's deployment files without a container
// engine or a cluster, and holds them to what `make run` runs (dapr.yaml,
// components/, config/), so that Docker Compose and Kubernetes describe the
// same topology as the local one. docker-compose.yml is parsed; the
// Kubernetes manifests are read as the API server would: rendered by
// kustomize, every object decoded strictly into the k8s.io/api types, every
// Dapr resource checked against Dapr 1.14's CRD schemas. (make compose-test
// runs the Compose file for real: tests/compose.) The tests are the whole
// package; it has no other code.
package deploy
