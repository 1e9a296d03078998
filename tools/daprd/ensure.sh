#!/bin/sh
# Provides .bin/daprd, the Dapr sidecar FinFlow runs, .bin/sentry (Dapr's
# own, for the Compose stand-in) and .bin/finflow-sentry (the launcher's):
#   1. .bin/daprd when it is already a daprd 1.14.x (so the build runs once);
#   2. else a daprd 1.14.x the user already has ($DAPRD, ~/.dapr/bin/daprd,
#      PATH), linked into .bin;
#   3. else the real one, built from github.com/dapr/dapr v1.14.0 through the
#      Go module proxy, from this folder's own module (outside go.work),
#      version-stamped. The first build downloads about 3 GB of modules and
#      takes about 4 to 6 minutes on 2 cores.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/.bin/daprd"

is_114() {
	[ -x "$1" ] || return 1
	v=$("$1" --version 2>/dev/null) || return 1
	case "$v" in 1.14.*) return 0 ;; esac
	return 1
}

# Sentry, Dapr's certificate authority, gives the sidecars mTLS. It builds
# from the same module in seconds once daprd's modules are there.
ensure_sentry() {
	sentry="$root/.bin/sentry"
	# (--help exits 2; its usage naming -trust-domain shows the binary runs.)
	if [ -x "$sentry" ] && "$sentry" --help 2>&1 | grep -q -- "-trust-domain"; then
		ensure_finflow_sentry
		return 0
	fi
	echo "building sentry 1.14.0 (mTLS between sidecars)..."
	(cd "$root/tools/daprd" && GOWORK=off go build \
		-ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=1.14.0" \
		-o "$sentry.tmp" github.com/dapr/dapr/cmd/sentry) && mv "$sentry.tmp" "$sentry"
	ensure_finflow_sentry
}

# The launcher runs FinFlow's own main for Sentry (./sentry, from Dapr
# 1.14.0's packages): Dapr's cmd/sentry ignores every listen address it is
# given, and signs for any app id when no validator is configured
# (sentry/main.go says why). .bin/sentry, Dapr's own, stays for the Compose
# stand-in image (tools/compose/standins.sh), which must be the real one.
ensure_finflow_sentry() {
	ff="$root/.bin/finflow-sentry"
	if [ -x "$ff" ] && [ "$ff" -nt "$root/tools/daprd/sentry/main.go" ] &&
		"$ff" --help 2>&1 | grep -q -- "FinFlow build of Dapr Sentry 1.14"; then
		return 0
	fi
	echo "building finflow-sentry (Sentry for the launcher's runs)..."
	(cd "$root/tools/daprd" && GOWORK=off go build \
		-ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=1.14.0" \
		-o "$ff.tmp" ./sentry) && mv "$ff.tmp" "$ff"
}

if is_114 "$out"; then
	echo "daprd $("$out" --version) ready at .bin/daprd"
	ensure_sentry
	exit 0
fi
for cand in "${DAPRD:-}" "$HOME/.dapr/bin/daprd" "$(command -v daprd 2>/dev/null || true)"; do
	if [ -n "$cand" ] && [ "$cand" != "$out" ] && is_114 "$cand"; then
		mkdir -p "$root/.bin"
		ln -sf "$cand" "$out"
		echo "using the daprd $("$cand" --version) found at $cand (linked as .bin/daprd)"
		ensure_sentry
		exit 0
	fi
done

command -v go >/dev/null 2>&1 || { echo "daprd: Go is required to build daprd (https://go.dev/dl)" >&2; exit 1; }
echo "building daprd 1.14.0 from github.com/dapr/dapr (first time: ~4 min, ~3 GB of modules)..."
mkdir -p "$root/.bin"
cd "$root/tools/daprd"
GOWORK=off go build -tags stablecomponents \
	-ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=1.14.0" \
	-o "$out.tmp" github.com/dapr/dapr/cmd/daprd
mv "$out.tmp" "$out"
echo "daprd $("$out" --version) built at .bin/daprd"
ensure_sentry
