#!/usr/bin/env bash
# make compose-test: runs docker-compose.yml for real and walks FinFlow
# through it (tests/compose). On a machine of its own it provides what is
# missing first, and says so:
#   1. a Docker engine: Debian's docker.io is installed when dockerd is
#      missing (as root), and dockerd is started when none answers (and
#      stopped again at the end);
#   2. Compose v2: an installed `docker compose` 2.20 or newer, else
#      Compose v2.40.3 built from its module through the Go module proxy
#      (once; cached);
#   3. a local stand-in for every base image that cannot be pulled
#      (tools/compose/standins.sh; daprd and sentry from `make daprd`);
#   4. then `go test ./tests/compose` with FINFLOW_COMPOSE=1: up --build
#      --wait, the README's walks, the access policies, stop and start
#      keeping the data, down -v.
# Slow things are cached in FINFLOW_COMPOSE_CACHE (default .cache/compose,
# git-ignored) and in the engine's own image store, so a second run is fast.
# Runs on one machine take turns (a lock in $TMPDIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FINFLOW_COMPOSE_CACHE:-$root/.cache/compose}
export FINFLOW_COMPOSE_CACHE=$cache
compose_version=v2.40.3
say() { echo "compose-test: $*"; }
die() { echo "compose-test: FAIL: $*" >&2; exit 1; }
mkdir -p "$cache/bin"
cd "$root"

# One run at a time on a machine: the project name and the engine are
# machine-wide, whichever clone runs.
lock=${TMPDIR:-/tmp}/finflow-compose-test.lock
exec 9>"$lock"
if ! flock -n 9; then
	say "another compose-test holds $lock; waiting for it"
	flock 9
fi
start=$(date +%s)
phase() { say "$1 ($(($(date +%s) - start)) s so far)"; }

is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
	is_root || return 1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

# 1. The Docker engine.
started_dockerd=""
stop_dockerd() {
	[ -n "$started_dockerd" ] || return 0
	say "stopping the dockerd this run started (pid $started_dockerd)"
	kill -TERM "$started_dockerd" 2>/dev/null || true
	for _ in $(seq 1 60); do kill -0 "$started_dockerd" 2>/dev/null || return 0; sleep 0.5; done
	say "dockerd $started_dockerd did not stop in 30 s; left running"
}
trap stop_dockerd EXIT
if ! engine_answers; then
	if ! command -v dockerd >/dev/null; then
		is_root || die "no Docker engine: install Docker (Debian: apt-get install docker.io) or run this as root"
		say "installing Debian's docker.io (no dockerd on this machine)"
		apt_install docker.io || die "apt-get install docker.io failed"
	fi
	command -v docker >/dev/null || die "the docker command is missing (apt-get install docker.io)"
	is_root || die "a Docker engine is installed but not running, and starting it needs root (sudo service docker start)"
	say "starting dockerd (log: $cache/dockerd.log)"
	dockerd >"$cache/dockerd.log" 2>&1 &
	started_dockerd=$!
	for _ in $(seq 1 120); do
		engine_answers && break
		kill -0 "$started_dockerd" 2>/dev/null || { tail -20 "$cache/dockerd.log" >&2; die "dockerd exited while starting"; }
		sleep 0.5
	done
	engine_answers || { tail -20 "$cache/dockerd.log" >&2; die "dockerd did not answer within 60 s"; }
fi
phase "Docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null) answers"

# 2. Compose v2.
compose_ok() { # VERSION: whether it is 2.20 or newer
	local v=${1#v}
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	[ "$major" = 2 ] && [ "$minor" -ge 20 ] 2>/dev/null
}
compose=""
if v=$(docker compose version --short 2>/dev/null) && compose_ok "$v"; then
	compose="docker compose"
else
	bin="$cache/bin/docker-compose"
	if ! { [ -x "$bin" ] && [ "$("$bin" version --short 2>/dev/null)" = "${compose_version#v}" ]; }; then
		command -v go >/dev/null || die "Compose v2 is missing and Go is needed to build it (https://go.dev/dl)"
		say "building Docker Compose $compose_version from its module (Go module proxy; once, about 2 min)"
		# go install refuses the module's exclude directives, so build it
		# inside the downloaded module.
		dir=$(cd "$cache" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/docker/compose/v2@$compose_version" |
			sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		[ -d "$dir" ] || die "downloading github.com/docker/compose/v2@$compose_version failed"
		(cd "$dir" && GOWORK=off GOFLAGS=-buildvcs=false go build -trimpath \
			-ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$compose_version" \
			-o "$bin.tmp" ./cmd) || die "building Compose failed"
		mv "$bin.tmp" "$bin"
	fi
	compose=$bin
fi
export FINFLOW_COMPOSE_CMD=$compose
phase "Compose $($compose version --short) ($compose)"

# 3. The stand-in images (daprd and sentry come from `make daprd`, which
# the make target runs first).
./tools/compose/standins.sh
phase "base images ready"

# 4. The walks. The test fails (never skips) when it cannot run Compose.
say "go test ./tests/compose (up --build --wait, walks, stop and start, down -v)"
FINFLOW_COMPOSE=1 go test -count=1 -v -timeout 30m ./tests/compose/
# Images this project built before and has since rebuilt: nothing uses them.
docker image prune -f --filter label=com.docker.compose.project=finflow-compose-test >/dev/null || true
phase "passed"
