#!/bin/sh
# Checks the house layering of every service: domain imports no Fiber, Dapr
# or Redis package; store and http never import each other.
set -eu
fail=0
for svc in services/*/; do
	svc=${svc%/}
	mod=$(cd "$svc" && go list -f "{{.Module.Path}}" .)
	for pkg in $(cd "$svc" && go list ./domain/... 2>/dev/null); do
		bad=$(cd "$svc" && go list -deps "$pkg" | grep -E "gofiber|dapr|go-redis|^$mod/store|^$mod/http\$" | grep -v "^$pkg$" || true)
		if [ -n "$bad" ]; then echo "layering: $pkg depends on: $bad"; fail=1; fi
	done
	for pkg in $(cd "$svc" && go list ./store/... 2>/dev/null); do
		if (cd "$svc" && go list -deps "$pkg") | grep -qx "$mod/http"; then echo "layering: $pkg imports $mod/http"; fail=1; fi
	done
	for pkg in $(cd "$svc" && go list ./http/... 2>/dev/null); do
		if (cd "$svc" && go list -deps "$pkg") | grep -qx "$mod/store"; then echo "layering: $pkg imports $mod/store"; fail=1; fi
	done
done
[ "$fail" = 0 ] && echo "layering: ok"
exit "$fail"
