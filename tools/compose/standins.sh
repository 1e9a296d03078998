#!/usr/bin/env bash
# Provides every base image docker-compose.yml and deploy/docker/Dockerfile
# name, on a machine that cannot pull them (no Docker Hub, no gcr.io), by
# building a local stand-in under the same name from what the machine can
# reach: Debian's archive (debootstrap), the Go module proxy (the Go
# toolchain) and the daprd and sentry that `make daprd` builds from Dapr's
# own source. What docker-compose.yml says a user gets is not changed: an
# image that is already there (pulled, or a stand-in still up to date) is
# used as it is.
#
#   tools/compose/standins.sh            (make compose-test runs it)
#
# Every stand-in carries the label org.finflow.standin (what it stands in
# for) and org.finflow.standin.hash (its inputs: rebuilt when they change).
# They shadow the real images on this Docker engine until removed:
#   docker image rm $(docker image ls -q --filter label=org.finflow.standin)
# FINFLOW_COMPOSE_PULL=1 tries `docker pull` first (a machine with a
# registry). Work folders live in FINFLOW_COMPOSE_CACHE (.cache/compose).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tools/compose/standins"
cache=${FINFLOW_COMPOSE_CACHE:-$root/.cache/compose}
base=finflow-standin/debian:bookworm
say() { echo "standins: $*"; }
die() { echo "standins: $*" >&2; exit 1; }

mkdir -p "$cache/ctx"
docker info >/dev/null 2>&1 || die "no Docker engine answers (make compose-test starts one)"
ca=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca" ] || die "$ca is missing: the images that fetch Go modules need the machine's CA certificates (apt-get install ca-certificates)"

# The images the files name: the Dockerfile's FROM lines (ARG defaults
# filled in) and the Compose file's image: lines.
dockerfile="$root/deploy/docker/Dockerfile"
images() {
	local go_version
	go_version=$(sed -n 's/^ARG GO_VERSION=//p' "$dockerfile" | head -n1)
	sed -n 's/^FROM \([^ ]*\).*/\1/p' "$dockerfile" | sed "s/\${GO_VERSION}/$go_version/"
	sed -n 's/^ *image: *"\{0,1\}\([^" ]*\)"\{0,1\} *$/\1/p' "$root/docker-compose.yml"
}

label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# build NAME RECIPE HASH CONTEXT [--build-arg ...]: builds a stand-in with
# the legacy builder (it needs no frontend image and runs on every engine).
build() {
	local name=$1 recipe=$2 hash=$3 ctx=$4
	shift 4
	cp "$here/$recipe.Dockerfile" "$ctx/Dockerfile"
	say "building stand-in $name ($recipe)"
	DOCKER_BUILDKIT=0 docker build -q --label "org.finflow.standin=$name" --label "org.finflow.standin.hash=$hash" \
		"$@" -t "$name" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; die "building $name failed"; }
}

# fresh NAME HASH: whether NAME is there and needs nothing (a real image, or
# a stand-in with these inputs). A pull is tried first when asked.
fresh() {
	local name=$1 hash=$2
	if ! docker image inspect "$name" >/dev/null 2>&1 && [ "${FINFLOW_COMPOSE_PULL:-}" = 1 ]; then
		timeout 300 docker pull -q "$name" >/dev/null 2>&1 || say "pulling $name failed; building a stand-in"
	fi
	docker image inspect "$name" >/dev/null 2>&1 || return 1
	local have
	have=$(label "$name" org.finflow.standin.hash)
	[ -z "$have" ] || [ "$have" = "$hash" ]
}

inputs_hash() { cat "$@" | sha256sum | cut -c1-16; }

# The Debian base every stand-in starts from (debootstrap, Debian's archive).
ensure_base() {
	docker image inspect "$base" >/dev/null 2>&1 && return 0
	command -v debootstrap >/dev/null || {
		[ "$(id -u)" = 0 ] || die "debootstrap is needed for the Debian base image (apt-get install debootstrap)"
		say "installing debootstrap (Debian)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
	}
	[ "$(id -u)" = 0 ] || die "building the Debian base image needs root (debootstrap)"
	local rootfs="$cache/rootfs-bookworm"
	rm -rf "$rootfs"
	say "debootstrap bookworm (Debian's archive; about a minute)"
	debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' \
		-c "LABEL org.finflow.standin=$base" -c "LABEL org.finflow.standin.hash=debootstrap" - "$base" >/dev/null
	rm -rf "$rootfs"
}

# golang:<minor>-bookworm: the newest <minor>.x toolchain the module proxy
# offers, looked up once (then the image is there).
standin_golang() {
	command -v go >/dev/null || die "Go is needed to fetch the Go toolchain for $1"
	local name=$1 minor tag
	tag=${name#golang:}
	minor=${tag%%-*}
	local proxy sumdb platform hash
	platform=$(go env GOOS)-$(go env GOARCH)
	proxy=$(go env GOPROXY)
	sumdb=$(go env GOSUMDB)
	hash=$(inputs_hash "$here/golang.Dockerfile" "$ca" <(echo "$minor $platform $proxy $sumdb"))
	fresh "$name" "$hash" && return 0
	local patch
	patch=$(cd "$cache" && GOWORK=off GOFLAGS=-mod=mod go list -m -versions golang.org/toolchain | tr ' ' '\n' |
		sed -n "s/^v0\.0\.1-go\($minor\.[0-9]*\)\.$platform\$/\1/p" | sort -t. -k3 -n | tail -n1)
	[ -n "$patch" ] || die "the module proxy offers no Go $minor.x toolchain (golang.org/toolchain)"
	local dir
	dir=$(cd "$cache" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "golang.org/toolchain@v0.0.1-go$patch.$platform" |
		sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || die "downloading Go $patch failed"
	local ctx="$cache/ctx/golang"
	rm -rf "$ctx"; mkdir -p "$ctx"
	cp -r "$dir" "$ctx/goroot"
	cp "$ca" "$ctx/ca-certificates.crt"
	build "$name" golang "$hash" "$ctx" --build-arg "GO_PATCH=$patch" --build-arg "GOPROXY=$proxy" --build-arg "GOSUMDB=$sumdb"
	rm -rf "$ctx/goroot"
}

# standin_files NAME RECIPE FILE...: a stand-in built from its recipe and
# these files, copied into its build folder.
standin_files() {
	local name=$1 recipe=$2
	shift 2
	local hash
	hash=$(inputs_hash "$here/$recipe.Dockerfile" "$@")
	fresh "$name" "$hash" && return 0
	local ctx="$cache/ctx/$recipe"
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp "$@" "$ctx/"
	build "$name" "$recipe" "$hash" "$ctx"
}

# daprio/<binary>:<version> from .bin/<binary> (make daprd), which must be
# that version.
standin_dapr() {
	local name=$1 binary version
	binary=${name#daprio/}
	binary=${binary%%:*}
	version=${name##*:}
	local bin="$root/.bin/$binary"
	[ -x "$bin" ] || die "$bin is missing: run make daprd"
	if [ "$binary" = daprd ]; then
		local have
		have=$("$bin" --version 2>/dev/null || true)
		[ "$have" = "$version" ] || die "$name: .bin/daprd is version '$have', want $version (make daprd)"
	fi
	local hash
	hash=$(inputs_hash "$here/dapr.Dockerfile" "$bin")
	fresh "$name" "$hash" && return 0
	local ctx="$cache/ctx/$binary"
	rm -rf "$ctx"; mkdir -p "$ctx"
	cp "$bin" "$ctx/$binary"
	build "$name" dapr "$hash" "$ctx" --build-arg "BINARY=$binary"
	rm -f "$ctx/$binary"
}

ensure_base
for name in $(images | sort -u); do
	case "$name" in
	golang:*-bookworm) standin_golang "$name" ;;
	gcr.io/distroless/static-debian12:nonroot | gcr.io/distroless/static:nonroot) standin_files "$name" distroless "$ca" ;;
	redis:7*) standin_files "$name" redis "$here/redis-entrypoint.sh" ;;
	daprio/daprd:* | daprio/sentry:*) standin_dapr "$name" ;;
	*)
		docker image inspect "$name" >/dev/null 2>&1 ||
			die "no stand-in recipe for $name (named in docker-compose.yml or deploy/docker/Dockerfile): add one to tools/compose/standins.sh"
		;;
	esac
done
standins=""
for name in $(images | sort -u); do
	[ "$(label "$name" org.finflow.standin)" = "$name" ] && standins="$standins $name"
done
say "ready; stand-ins (shadowing the real images on this engine):${standins:- none}"
