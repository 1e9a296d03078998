#!/bin/sh
# The redis stand-in's entrypoint, as the official image's: flags alone
# mean redis-server; redis-server runs as the redis user, owning /data.
set -e
if [ "${1#-}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
	chown -R redis:redis . 2>/dev/null || true
	exec setpriv --reuid=redis --regid=redis --init-groups "$@" --protected-mode no
fi
exec "$@"
