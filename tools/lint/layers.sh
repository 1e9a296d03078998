#!/bin/sh
# Checks the house layering of every service, and of every part of a
# service laid out the same way (services/gateway/console/{domain,store,http}):
# a domain imports no Fiber, Dapr or Redis package and no store or http
# package of its module; store and http never import each other.
set -eu
fail=0
for svc in services/*/; do
	svc=${svc%/}
	mod=$(cd "$svc" && go list -f "{{.Module.Path}}" .)
	pkgs=$(cd "$svc" && go list ./...)
	layer() { echo "$pkgs" | grep -E "^$mod(/.*)?/$1(/.*)?\$" || true; }
	for pkg in $(layer domain); do
		bad=$(cd "$svc" && go list -deps "$pkg" | grep -E "gofiber|dapr|go-redis|^$mod(/.*)?/(store|http)(/.*)?\$" | grep -v "^$pkg$" || true)
		if [ -n "$bad" ]; then echo "layering: $pkg depends on: $bad"; fail=1; fi
	done
	for pkg in $(layer store); do
		bad=$(cd "$svc" && go list -deps "$pkg" | grep -E "^$mod(/.*)?/http(/.*)?\$" || true)
		if [ -n "$bad" ]; then echo "layering: $pkg imports $bad"; fail=1; fi
	done
	for pkg in $(layer http); do
		bad=$(cd "$svc" && go list -deps "$pkg" | grep -E "^$mod(/.*)?/store(/.*)?\$" || true)
		if [ -n "$bad" ]; then echo "layering: $pkg imports $bad"; fail=1; fi
	done
done
[ "$fail" = 0 ] && echo "layering: ok"
exit "$fail"
