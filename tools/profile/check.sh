#!/usr/bin/env bash
# Checks that the servers a backend profile needs answer, and says what is
# missing otherwise.  Usage: tools/profile/check.sh <redis|postgres> <run|test>
#
#   redis     state, events and settings in Redis: the launcher finds or
#             starts Redis itself (make run), the suites start their own.
#   postgres  state in PostgreSQL, events in RabbitMQ, settings in Redis.
#             run:  PostgreSQL and RabbitMQ on localhost answer, and the
#                   database "finflow" exists (created when missing).
#             test: PostgreSQL and RabbitMQ answer and rabbitmqctl works:
#                   every suite gets its own database and virtual host.
set -uo pipefail
profile=${1:-redis} mode=${2:-run}
PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
RABBITMQ_HOST=${RABBITMQ_HOST:-127.0.0.1} RABBITMQ_PORT=${RABBITMQ_PORT:-5672}

answers() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

case "$profile" in
redis) exit 0 ;;
postgres) ;;
*) echo "unknown PROFILE '$profile': use redis (the default) or postgres"; exit 2 ;;
esac

missing=()
if ! answers "$PGHOST" "$PGPORT"; then
	missing+=("PostgreSQL on $PGHOST:$PGPORT (apt-get install postgresql; or set PGHOST/PGPORT)")
fi
if ! answers "$RABBITMQ_HOST" "$RABBITMQ_PORT"; then
	missing+=("RabbitMQ on $RABBITMQ_HOST:$RABBITMQ_PORT (apt-get install rabbitmq-server; or set RABBITMQ_HOST/RABBITMQ_PORT)")
fi
if [ "$mode" = test ] && ! timeout 30 rabbitmqctl -q list_vhosts >/dev/null 2>&1; then
	missing+=("a working rabbitmqctl (the suites give every run its own RabbitMQ virtual host; run as root or a user in the rabbitmq group)")
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "PROFILE=postgres needs servers that do not answer here:"
	printf '  - %s\n' "${missing[@]}"
	echo "Use the default profile (make $mode) where they are not available."
	exit 1
fi

if [ "$mode" = run ]; then
	command -v psql >/dev/null || { echo "PROFILE=postgres: psql is needed to check the database (apt-get install postgresql-client)"; exit 1; }
	if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'finflow'" | grep -q 1; then
		echo "PROFILE=postgres: creating database finflow on $PGHOST:$PGPORT"
		psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc 'CREATE DATABASE finflow' || exit 1
	fi
fi
echo "PROFILE=postgres: PostgreSQL $PGHOST:$PGPORT and RabbitMQ $RABBITMQ_HOST:$RABBITMQ_PORT answer"
