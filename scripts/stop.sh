#!/usr/bin/env bash
# `make stop`: stop what this checkout started for itself — gunicorn and the Celery worker
# of `make run`, the project's own Redis and PostgreSQL. Instances named by DATABASE_URL or
# REDIS_URL, and anything else on the machine, are left alone.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_env
cd "$REPO"

step "Stopping oanm's own processes"

stop_pidfile "$RUN_DIR/gunicorn.pid" gunicorn "gunicorn"
stop_pidfile "$RUN_DIR/celery-worker.pid" celery "the Celery worker"
stop_pidfile "$RUN_DIR/provisioning-simulator.pid" provisioning_simulator "the provisioning simulator"
stop_pidfile "$RUN_DIR/gis-simulator.pid" simulator "the GIS simulator"

# Redis: every instance whose working directory is this checkout's .local.
ports=("$OANM_REDIS_PORT")
for pidfile in "$RUN_DIR"/redis-*.pid; do
    [[ -e "$pidfile" ]] || continue
    port="${pidfile##*/redis-}"
    ports+=("${port%.pid}")
done
for port in $(printf '%s\n' "${ports[@]}" | sort -u); do
    if redis_is_ours "$port"; then
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
        ok "stopped Redis on port $port"
    fi
    rm -f "$RUN_DIR/redis-$port.pid"
done

# PostgreSQL: the cluster in .local/pgdata (or where pg_home put it), if it runs.
PGDATA="$(pg_home)/pgdata"
if [[ -s "$PGDATA/PG_VERSION" ]] || { is_root && runuser -u postgres -- test -s "$PGDATA/PG_VERSION"; }; then
    BINDIR="$(pg_bindir "$PGDATA")"
    if [[ -n "$BINDIR" ]] && pg_running "$BINDIR" "$PGDATA"; then
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
        ok "stopped PostgreSQL (${PGDATA#"$REPO"/})"
    fi
fi
ok "done"
