#!/usr/bin/env bash
# `make clean-db`: drop the project's own `oanm` database so the next set-up starts from an
# empty one (migrations, then the demo town on `make run`). Only ever the project's local
# cluster, never a DATABASE_URL; asks first unless OANM_YES=1.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

if [[ -n "${DATABASE_URL:-}" ]]; then
    die "DATABASE_URL is set: clean-db only drops the project's own local database." \
        "Drop that database yourself if you mean it."
fi
PGDATA="$(pg_home)/pgdata"
BINDIR="$(pg_bindir "$PGDATA")"
if [[ -z "$BINDIR" ]] || ! pg_running "$BINDIR" "$PGDATA"; then
    die "the project's PostgreSQL is not running: run 'make setup' first"
fi
OANM_PG_PORT="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || echo "$OANM_PG_PORT")"
if [[ "${OANM_YES:-0}" != 1 ]]; then
    read -r -p "Drop database '$PG_DB' on 127.0.0.1:$OANM_PG_PORT with all its data? [y/N] " answer
    [[ "$answer" == [yY]* ]] || die "nothing dropped"
fi
"$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$OANM_PG_PORT" -U "$PG_ROLE" -d postgres \
    -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"
ok "dropped database $PG_DB; 'make setup' or 'make run' creates it afresh"
