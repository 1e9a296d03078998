# FinFlow: `make run` to run everything, `make test` to test everything.
SHELL := /bin/bash
GO ?= go
REDIS_ADDR ?= localhost:6379
export REDIS_ADDR
# Backend profile: redis (default: state, events and settings in Redis) or
# postgres (state in PostgreSQL, events in RabbitMQ, settings in Redis).
# `make run PROFILE=postgres`, `make test PROFILE=postgres`.
PROFILE ?= redis
export PROFILE
RUNFILE := $(if $(filter postgres,$(PROFILE)),dapr.postgres.yaml,dapr.yaml)

# Every Go module of the workspace (go.work); tools/daprd is outside it on purpose.
MODULES := platform services/gateway services/user services/wallet services/billing services/payment services/razorpay tools/launcher tools/rzpsim tests
UNIT    := $(foreach m,$(filter-out tests,$(MODULES)),./$(m)/...)

.DEFAULT_GOAL := help
.PHONY: help run settings launcher fuzz test test-unit test-e2e test-replicas compose-test bench chaos chaos-replicas build daprd newman lint fmt tidy clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

run: daprd launcher ## Run FinFlow: every service beside its sidecar, Redis found or started (Ctrl-C stops all; PROFILE=postgres for PostgreSQL + RabbitMQ; SIDECAR_TOKENS=on, see SECURITY.md)
	@./tools/profile/check.sh $(PROFILE) run
	@.bin/finflow-run -f $(RUNFILE) -start-redis -seed-settings config/runtime-settings.yaml -razorpay-sim 127.0.0.1:8090 $(if $(SIDECAR_TOKENS),-sidecar-tokens $(SIDECAR_TOKENS))

settings: launcher ## Seed the runtime settings into the Redis at REDIS_ADDR (for `dapr run -f .` users)
	@.bin/finflow-run -seed-only -redis $(REDIS_ADDR) -seed-settings config/runtime-settings.yaml

launcher: ## Build the launcher (.bin/finflow-run) that `make run` uses
	@$(GO) build -o .bin/finflow-run ./tools/launcher

test: daprd lint test-unit test-e2e test-replicas ## Lint, unit tests, then the end-to-end suites on a real topology, and on the replica topology

test-unit: ## Unit tests (race detector on)
	$(GO) test -race -count=1 $(UNIT)

test-e2e: daprd build newman ## End-to-end suites: real daprd sidecars, a private Redis, through the gateway (PROFILE=postgres: PostgreSQL + RabbitMQ)
	@./tools/profile/check.sh $(PROFILE) test
	@command -v redis-server >/dev/null || { echo "redis-server is required for the end-to-end suites (apt-get install redis-server)"; exit 1; }
	@command -v chromium >/dev/null || [ -n "$$FINFLOW_CHROMIUM" ] || { echo "Chromium is required for the ops console test (apt-get install chromium, or set FINFLOW_CHROMIUM)"; exit 1; }
	$(GO) test -count=1 -p 1 -timeout 30m ./tests/...

test-replicas: daprd build ## The money and Razorpay suites again with two instances of every app but razorpay on two hosts (root; docs/deploy.md)
	FINFLOW_REPLICAS=2 $(GO) test -count=1 -p 1 -timeout 30m ./tests/money/ ./tests/razorpay/

compose-test: daprd ## Run docker-compose.yml for real and walk it; provides Docker, Compose v2 and offline stand-ins (docs/deploy.md)
	@./tools/compose/compose-test.sh

bench: daprd build ## Measure FinFlow against the floor through the gateway; report in var/bench/latest-full (BENCH_URL=http://127.0.0.1:8080 measures a running `make run`)
	@command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)"; exit 1; }
	BENCH_MODE=full $(GO) test -count=1 -run '^TestBench$$' -v -timeout 90m ./tests/bench/

chaos: daprd build ## Kill apps, sidecars and Redis under mixed load for minutes, then check the money; report in var/chaos/latest-full
	@command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)"; exit 1; }
	CHAOS_MODE=full $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 60m ./tests/chaos/

chaos-replicas: daprd build ## `make chaos` with two instances of every app but razorpay on two hosts, killing instances while their twins serve (root); report in var/chaos/latest-replicas-full
	@command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)"; exit 1; }
	CHAOS_MODE=full CHAOS_REPLICAS=2 $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 60m ./tests/chaos/

newman: ## Install newman (pinned in tools/newman, from the npm registry) for the Postman collection test
	@command -v npm >/dev/null || { echo "Node.js and npm are required to run the Postman collection (apt-get install nodejs npm)"; exit 1; }
	@[ -x tools/newman/node_modules/.bin/newman ] || (cd tools/newman && npm ci --no-audit --no-fund --loglevel=error)

FUZZTIME ?= 60s
FUZZ := platform/server:FuzzDecode platform/money:FuzzAmount services/razorpay/domain:FuzzVerifySignature \
	services/razorpay/domain:FuzzParseEvent services/gateway/domain:FuzzVerifyToken services/gateway/http:FuzzGateway
fuzz: ## Run every fuzz target for FUZZTIME each (their corpora also run in make test)
	@for t in $(FUZZ); do d=$${t%%:*}; f=$${t##*:}; echo "== $$f ($$d, $(FUZZTIME))"; \
		(cd $$d && $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) .) || exit 1; done

build: ## Compile every module (and warm the cache the launcher's `go run` uses)
	$(GO) build $(UNIT) ./tests/...
	@for s in gateway user wallet billing payment razorpay; do (cd services/$$s && $(GO) build -o /dev/null .) || exit 1; done

daprd: ## Provide .bin/daprd: an installed daprd 1.14, or build Dapr 1.14.0's from the module proxy (once)
	@./tools/daprd/ensure.sh

lint: ## gofmt, go vet and the layering rules
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet $(UNIT) ./tests/...
	@./tools/lint/layers.sh

fmt: ## Format the Go code
	gofmt -w $$(git ls-files '*.go')

tidy: ## go mod tidy every module (each stands alone, so no go.work)
	@for m in $(MODULES) tools/daprd; do (cd $$m && GOWORK=off $(GO) mod tidy) || exit 1; done

clean: ## Remove built binaries, runtime data and logs
	rm -rf .bin var services/*/.dapr
