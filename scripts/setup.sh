#!/usr/bin/env bash
# The set-up `make run`, `make test` and `make bench` share. Idempotent: on a machine where
# everything is in place it checks, changes nothing and takes a few seconds.
#
#   1. system packages (PostgreSQL + PostGIS, GDAL, Redis; Chromium with --with-browser)
#   2. .venv with the pinned Python dependencies
#   3. the database: $DATABASE_URL, or the project's own cluster in .local/pgdata
#   4. Redis: $REDIS_URL, or the project's own on 127.0.0.1:$OANM_REDIS_PORT
#   5. .local/env: the effective DATABASE_URL/REDIS_URL for the steps that follow
#   6. migrate and collectstatic
#
# Usage: scripts/setup.sh [--with-browser] [--python-only]
#   --with-browser  also Chromium and chromedriver (for the browser tests)
#   --python-only   only steps 1-2 for Python itself (what make lint/format need)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WITH_BROWSER=0
PYTHON_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --with-browser) WITH_BROWSER=1 ;;
        --python-only) PYTHON_ONLY=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown option: $arg" "usage: scripts/setup.sh [--with-browser] [--python-only]" ;;
    esac
done

STARTED=$SECONDS
cd "$REPO"
mkdir -p "$LOCAL" "$RUN_DIR" "$LOG_DIR"

USE_LOCAL_PG=1
[[ -n "${DATABASE_URL:-}" || $PYTHON_ONLY -eq 1 ]] && USE_LOCAL_PG=0
USE_LOCAL_REDIS=1
[[ -n "${REDIS_URL:-}" || $PYTHON_ONLY -eq 1 ]] && USE_LOCAL_REDIS=0

PG_HOME="$(pg_home)"
PGDATA="$PG_HOME/pgdata"
PG_INSTALL_VERSION=15 # what we install when no PostgreSQL server is present

# --- 1. system packages ------------------------------------------------------------------
step "1/6 System packages"

NEED=()
need() { NEED+=("$@"); }

if ! command -v python3 >/dev/null 2>&1; then
    need python3 python3-venv
elif [[ ! -x "$PY" ]] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need python3-venv
fi
if [[ $PYTHON_ONLY -eq 0 ]]; then
    command -v ogr2ogr >/dev/null 2>&1 || need gdal-bin libgdal-dev
fi

if [[ $USE_LOCAL_PG -eq 1 && -z "$(pg_bindir "$PGDATA")" ]]; then
    if [[ -s "$PGDATA/PG_VERSION" ]]; then
        version="$(cat "$PGDATA/PG_VERSION")" # an existing cluster needs its own version
    else
        version="$(pg_server_versions | head -n1)"
        version="${version:-$PG_INSTALL_VERSION}"
    fi
    need "postgresql-$version" "postgresql-$version-postgis-3" "postgresql-$version-postgis-3-scripts"
fi
if [[ $USE_LOCAL_REDIS -eq 1 ]]; then
    { command -v redis-server && command -v redis-cli; } >/dev/null 2>&1 || need redis-server
fi
if [[ $WITH_BROWSER -eq 1 ]]; then
    command -v chromium >/dev/null 2>&1 || need chromium
    command -v chromedriver >/dev/null 2>&1 || need chromium-driver
fi

if [[ ${#NEED[@]} -eq 0 ]]; then
    ok "all present"
else
    SUDO=()
    if ! is_root; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo)
        else
            die "missing system packages, and I cannot install them (not root, no passwordless sudo)." \
                "Install them, then run this again:" \
                "  sudo apt-get update" \
                "  sudo apt-get install --no-install-recommends ${NEED[*]}"
        fi
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "missing system packages and no apt-get here (oanm sets itself up on Debian/Ubuntu)." \
            "Install the equivalents of: ${NEED[*]}"
    note "installing: ${NEED[*]}"
    # Keep the packages from starting their own system services (a PostgreSQL on 5432, a
    # Redis on 6379): oanm runs its own instances and must not disturb the machine's.
    POLICY=/usr/sbin/policy-rc.d
    if [[ ! -e "$POLICY" ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
        "${SUDO[@]}" chmod 755 "$POLICY"
        trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
    fi
    APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0)
    "${APT[@]}" update -qq
    # Where PostgreSQL 15 is not packaged (e.g. newer Ubuntu), take the distribution's default.
    if [[ " ${NEED[*]} " == *" postgresql-$PG_INSTALL_VERSION "* ]] \
        && ! apt-cache show "postgresql-$PG_INSTALL_VERSION" >/dev/null 2>&1; then
        default="$(apt-cache depends postgresql 2>/dev/null \
            | sed -nE 's/.*Depends: postgresql-([0-9]+)$/\1/p' | head -n1)"
        [[ -n "$default" ]] || die "no postgresql-$PG_INSTALL_VERSION package and no default PostgreSQL in apt"
        note "postgresql-$PG_INSTALL_VERSION is not packaged here: using PostgreSQL $default"
        NEED=("${NEED[@]/postgresql-$PG_INSTALL_VERSION/postgresql-$default}")
    fi
    "${APT[@]}" install -y -qq --no-install-recommends "${NEED[@]}" >/dev/null
    ok "installed ${NEED[*]}"
fi

# --- 2. Python environment ---------------------------------------------------------------
step "2/6 Python environment (.venv)"

STAMP="$VENV/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
if [[ -x "$PY" ]] && ! "$PY" -c '' >/dev/null 2>&1; then
    note ".venv is broken (its Python is gone): recreating it"
    rm -rf "$VENV"
fi
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    ok "up to date with requirements.txt"
else
    [[ -x "$PY" ]] || python3 -m venv "$VENV"
    "$PY" -m pip install --disable-pip-version-check --no-input -q -r requirements.txt
    printf '%s\n' "$want" >"$STAMP"
    ok "installed requirements.txt into .venv"
fi

if [[ $PYTHON_ONLY -eq 1 ]]; then
    ok "python-only set-up done in $((SECONDS - STARTED)) s"
    exit 0
fi

# --- 3. database -------------------------------------------------------------------------
step "3/6 Database"

if [[ $USE_LOCAL_PG -eq 0 ]]; then
    # Somebody else's PostgreSQL: wait for it, create the database and extensions if we may.
    "$PY" - <<'PY'
import os
import sys
import time

import dj_database_url
import psycopg

cfg = dj_database_url.parse(os.environ["DATABASE_URL"])
params = {
    "host": cfg.get("HOST") or None,
    "port": cfg.get("PORT") or None,
    "user": cfg.get("USER") or None,
    "password": cfg.get("PASSWORD") or None,
    "connect_timeout": 3,
    "autocommit": True,
}
params = {k: v for k, v in params.items() if v is not None}
name = cfg["NAME"]
where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{name}"
deadline = time.monotonic() + 60
while True:
    try:
        conn = psycopg.connect(dbname=name, **params)
        break
    except psycopg.OperationalError as exc:
        if f'database "{name}" does not exist' in str(exc):
            try:
                with psycopg.connect(dbname="postgres", **params) as admin:
                    admin.execute(f'CREATE DATABASE "{name}"')
                print(f"    ✓ created database {name}")
                continue
            except psycopg.Error as create_exc:
                sys.exit(f"error: database {name} does not exist and cannot be created: {create_exc}")
        if time.monotonic() > deadline:
            sys.exit(f"error: DATABASE_URL ({where}) did not answer within 60 s: {exc}")
        time.sleep(1)
with conn:
    for extension in ("postgis", "pg_trgm"):
        try:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        except psycopg.Error as exc:
            print(f"    ! could not create extension {extension}: {exc}".rstrip())
    version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
print(f"    ✓ DATABASE_URL answers ({where}, PostGIS {version})")
PY
else
    BINDIR="$(pg_bindir "$PGDATA")"
    [[ -n "$BINDIR" ]] || die "no PostgreSQL server with PostGIS found under /usr/lib/postgresql"
    SOCKET_DIR="$(pg_socket_dir "$PG_HOME")"
    PG_LOG="$PG_HOME/log/postgres.log"
    if [[ -e "$PGDATA" && ! -r "$PGDATA" ]]; then
        die "$PGDATA belongs to another user ($(stat -c %U "$PGDATA")), probably from a run as root." \
            "Run as that user or root, or remove it (make stop; sudo rm -rf $PGDATA) to start afresh."
    fi
    mkdir -p "$PG_HOME/log" "$SOCKET_DIR"
    [[ -e "$PG_LOG" ]] || : >"$PG_LOG"
    if is_root; then
        # The server runs as postgres: it must own its data, socket directory and log.
        for path in "$PG_HOME/run" "$SOCKET_DIR" "$PG_LOG" "$PGDATA"; do
            if [[ -e "$path" && "$(stat -c %U "$path")" != postgres ]]; then
                chown -R postgres:postgres "$path"
            fi
        done
    fi

    if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
        mkdir -p "$PGDATA"
        is_root && chown postgres:postgres "$PGDATA"
        chmod 700 "$PGDATA"
        as_pg "$BINDIR/initdb" -D "$PGDATA" -U "$PG_ROLE" --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >>"$PG_LOG" 2>&1 \
            || die "initdb failed; the end of $PG_LOG:" "$(tail -n 15 "$PG_LOG")"
        ok "created the cluster in ${PGDATA#"$REPO"/} ($("$BINDIR/postgres" --version))"
    fi

    if pg_running "$BINDIR" "$PGDATA"; then
        port="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true)"
        if [[ -n "$port" && "$port" != "$OANM_PG_PORT" ]]; then
            die "the project's cluster is already running on port $port, not $OANM_PG_PORT." \
                "Use OANM_PG_PORT=$port, or run 'make stop' first."
        fi
        ok "PostgreSQL already running on 127.0.0.1:$OANM_PG_PORT"
    else
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 \
            -o "-p $OANM_PG_PORT -k $SOCKET_DIR -c listen_addresses=127.0.0.1" start >/dev/null \
            || die "PostgreSQL did not start (is port $OANM_PG_PORT taken?); the end of $PG_LOG:" \
                "$(tail -n 15 "$PG_LOG")"
        ok "started PostgreSQL on 127.0.0.1:$OANM_PG_PORT"
    fi

    PSQL=("$BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$OANM_PG_PORT" -U "$PG_ROLE")
    for _ in $(seq 1 30); do
        "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$OANM_PG_PORT" && break
        sleep 1
    done
    super="$("${PSQL[@]}" -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$PG_ROLE'")" \
        || die "cannot connect to 127.0.0.1:$OANM_PG_PORT as $PG_ROLE"
    [[ "$super" == t ]] \
        || die "role $PG_ROLE must be a superuser (the tests create the postgis extension)"

    # Settings for bulk work (a million-address import, the benchmark county), for this
    # cluster only, never for a DATABASE_URL: it is a development, demo and test cluster.
    # synchronous_commit=off lets a crash lose the last fraction of a second of commits
    # (never consistency): fine here, not for production data (docs/configuration.md).
    # JIT compiling costs short queries more than it saves. Written with ALTER SYSTEM only
    # when they differ; a restart only when one needs it (shared_buffers), else a reload.
    PG_TUNING=(
        shared_buffers=512MB
        max_wal_size=4GB
        checkpoint_timeout=15min
        work_mem=32MB
        maintenance_work_mem=512MB
        synchronous_commit=off
        max_parallel_workers_per_gather=2
        jit=off
    )
    tuned=() restart=0
    for setting in "${PG_TUNING[@]}"; do
        name="${setting%%=*}" value="${setting#*=}"
        [[ "$("${PSQL[@]}" -d postgres -c "SHOW $name")" == "$value" ]] && continue
        "${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET $name = '$value'"
        tuned+=("$setting")
        context="$("${PSQL[@]}" -d postgres -c "SELECT context FROM pg_settings WHERE name = '$name'")"
        [[ "$context" == postmaster ]] && restart=1
    done
    if [[ ${#tuned[@]} -eq 0 ]]; then
        ok "PostgreSQL settings for bulk work in place"
    elif [[ $restart -eq 1 ]]; then
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 -m fast \
            -o "-p $OANM_PG_PORT -k $SOCKET_DIR -c listen_addresses=127.0.0.1" restart >/dev/null \
            || die "PostgreSQL did not restart; the end of $PG_LOG:" "$(tail -n 15 "$PG_LOG")"
        ok "set ${tuned[*]} and restarted PostgreSQL"
    else
        "${PSQL[@]}" -d postgres -c "SELECT pg_reload_conf()" >/dev/null
        ok "set ${tuned[*]} (reloaded)"
    fi
    if [[ -z "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]]; then
        "${PSQL[@]}" -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE"
        ok "created database $PG_DB"
    fi
    "${PSQL[@]}" -d "$PG_DB" -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION IF NOT EXISTS postgis" -c "CREATE EXTENSION IF NOT EXISTS pg_trgm"
    ok "database $PG_DB has postgis and pg_trgm"
fi

# --- 4. Redis ----------------------------------------------------------------------------
step "4/6 Redis"

if [[ $USE_LOCAL_REDIS -eq 0 ]]; then
    "$PY" - <<'PY'
import os
import sys
import time

import redis

url = os.environ["REDIS_URL"]
deadline = time.monotonic() + 30
while True:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        break
    except redis.RedisError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"error: REDIS_URL ({url}) did not answer within 30 s: {exc}")
        time.sleep(1)
print("    ✓ REDIS_URL answers")
PY
elif redis_answers "$OANM_REDIS_PORT"; then
    if redis_is_ours "$OANM_REDIS_PORT"; then
        ok "Redis already running on 127.0.0.1:$OANM_REDIS_PORT"
    else
        note "a Redis this checkout did not start answers on 127.0.0.1:$OANM_REDIS_PORT: using it"
        note "(another OANM_REDIS_PORT gives this checkout its own)"
    fi
else
    redis-server --daemonize yes --bind 127.0.0.1 --port "$OANM_REDIS_PORT" --save "" \
        --appendonly no --dir "$LOCAL" --logfile "$LOG_DIR/redis.log" \
        --pidfile "$RUN_DIR/redis-$OANM_REDIS_PORT.pid" >/dev/null
    for _ in $(seq 1 50); do
        redis_answers "$OANM_REDIS_PORT" && break
        sleep 0.1
    done
    redis_answers "$OANM_REDIS_PORT" \
        || die "Redis did not start on port $OANM_REDIS_PORT; the end of .local/log/redis.log:" \
            "$(tail -n 10 "$LOG_DIR/redis.log")"
    ok "started Redis on 127.0.0.1:$OANM_REDIS_PORT"
fi

# --- 5. the effective environment --------------------------------------------------------
step "5/6 Environment (.local/env)"

{
    echo "# Written by scripts/setup.sh: the project's own instances of the last set-up."
    echo "# Variables already set in the environment win."
    if [[ $USE_LOCAL_PG -eq 1 ]]; then
        echo "export OANM_PG_PORT=$OANM_PG_PORT"
        echo ": \"\${DATABASE_URL:=postgis://$PG_ROLE@127.0.0.1:$OANM_PG_PORT/$PG_DB}\""
        echo "export DATABASE_URL"
    fi
    if [[ $USE_LOCAL_REDIS -eq 1 ]]; then
        echo "export OANM_REDIS_PORT=$OANM_REDIS_PORT"
        echo ": \"\${REDIS_URL:=redis://127.0.0.1:$OANM_REDIS_PORT/0}\""
        echo "export REDIS_URL"
    fi
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
load_env
ok "DATABASE_URL=$(printf '%s' "$DATABASE_URL" | sed -E 's#//([^:@/]*):[^@]*@#//\1:***@#')"
ok "REDIS_URL=$REDIS_URL"

# --- 6. migrations and static files ------------------------------------------------------
step "6/6 Migrations and static files"

"$PY" manage.py migrate --noinput -v 0
ok "database migrated"

# collectstatic only when a static source or a package changed (it takes seconds).
static_stamp="$LOCAL/collectstatic.sha256"
static_want="$(
    {
        cat "$STAMP"
        printf '%s\n' "${DJANGO_SETTINGS_MODULE:-}" "${STATIC_ROOT:-}"
        find static ./*/static -type f -printf '%p %s %T@\n' 2>/dev/null | sort || true
    } | sha256sum | cut -d' ' -f1
)"
static_root="${STATIC_ROOT:-staticfiles}"
if [[ -f "$static_stamp" && "$(cat "$static_stamp")" == "$static_want" && -d "$static_root" ]]; then
    ok "static files up to date"
else
    "$PY" manage.py collectstatic --noinput -v 0
    printf '%s\n' "$static_want" >"$static_stamp"
    ok "static files collected"
fi

ok "set-up done in $((SECONDS - STARTED)) s"
