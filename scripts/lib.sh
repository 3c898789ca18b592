# shellcheck shell=bash disable=SC2034  # (the variables are used by the scripts that source this)
# Shared by the scripts in scripts/: where things live, how to talk, how to run PostgreSQL.
# Sourced, never run. OANM_PG_PORT and OANM_REDIS_PORT come from the environment if set.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$REPO/.local"          # everything this checkout runs for itself (git-ignored)
RUN_DIR="$LOCAL/run"          # pid files (and the PostgreSQL socket)
LOG_DIR="$LOCAL/log"
ENV_FILE="$LOCAL/env"         # the effective environment written by setup.sh
VENV="$REPO/.venv"
PY="$VENV/bin/python"

OANM_PG_PORT="${OANM_PG_PORT:-55432}"
OANM_REDIS_PORT="${OANM_REDIS_PORT:-56379}"
PG_ROLE=oanm
PG_DB=oanm

if [[ -t 1 ]]; then
    _bold=$'\e[1m' _green=$'\e[32m' _yellow=$'\e[33m' _red=$'\e[31m' _reset=$'\e[0m'
else
    _bold="" _green="" _yellow="" _red="" _reset=""
fi

step() { printf '%s==> %s%s\n' "$_bold" "$*" "$_reset"; }
ok() { printf '    %s✓%s %s\n' "$_green" "$_reset" "$*"; }
note() { printf '    %s!%s %s\n' "$_yellow" "$_reset" "$*"; }
die() {
    printf '%serror:%s %s\n' "$_red" "$_reset" "$1" >&2
    shift
    local line
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Load the environment setup.sh wrote (DATABASE_URL/REDIS_URL of the project's own
# instances, unless the caller set them).
load_env() {
    # shellcheck disable=SC1090
    [[ -f "$ENV_FILE" ]] && . "$ENV_FILE"
    return 0
}

# --- the project's own PostgreSQL ------------------------------------------------------

# Where the cluster lives: .local/ of this checkout, unless we are root and the postgres
# user cannot reach it (a private parent directory such as /root): then under /var/lib/oanm.
pg_home() {
    if is_root && id postgres >/dev/null 2>&1 \
        && ! runuser -u postgres -- test -x "$REPO" 2>/dev/null; then
        printf '/var/lib/oanm/%s' "$(printf '%s' "$REPO" | sha1sum | cut -c1-12)"
    else
        printf '%s' "$LOCAL"
    fi
}

# The socket directory; a Unix socket path must stay under 108 bytes.
pg_socket_dir() {
    local dir="$1/run"
    if (( ${#dir} + 20 > 107 )); then
        dir="/tmp/oanm-pg-$(printf '%s' "$1" | sha1sum | cut -c1-12)"
    fi
    printf '%s' "$dir"
}

# Installed PostgreSQL major versions that have a server, newest first.
pg_server_versions() {
    local bin
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x "$bin" ]] && basename "$(dirname "$(dirname "$bin")")"
    done | sort -rn
}

pg_has_postgis() { compgen -G "/usr/share/postgresql/$1/extension/postgis.control" >/dev/null; }

# The bin directory of the server to use: the version an existing cluster was made with;
# else the one pg_config names (if it has PostGIS); else the newest with PostGIS; else none.
pg_bindir() {
    local pgdata="$1" version bindir
    if [[ -s "$pgdata/PG_VERSION" ]]; then
        version="$(cat "$pgdata/PG_VERSION" 2>/dev/null || true)"
        if [[ -z "$version" ]] && is_root; then
            version="$(runuser -u postgres -- cat "$pgdata/PG_VERSION" 2>/dev/null || true)"
        fi
        if [[ -n "$version" && -x "/usr/lib/postgresql/$version/bin/postgres" ]]; then
            printf '/usr/lib/postgresql/%s/bin' "$version"
        fi
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        bindir="$(pg_config --bindir 2>/dev/null || true)"
        version="$(pg_config --version 2>/dev/null | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
        if [[ -x "$bindir/postgres" && -x "$bindir/initdb" ]] && pg_has_postgis "$version"; then
            printf '%s' "$bindir"
            return 0
        fi
    fi
    for version in $(pg_server_versions); do
        if pg_has_postgis "$version"; then
            printf '/usr/lib/postgresql/%s/bin' "$version"
            return 0
        fi
    done
}

# Run a PostgreSQL server binary: as the postgres user when we are root (postgres refuses
# to run as root), directly otherwise.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@") # from /: our directory may be closed to postgres
    else
        "$@"
    fi
}

# Is the cluster in $1 running? (pg_ctl status: 0 running, 3 stopped, 4 no data directory)
pg_running() {
    local bindir="$1" pgdata="$2"
    as_pg "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1
}

# --- the project's own Redis -----------------------------------------------------------

# Is the Redis on this port the project's own (its working directory is our .local)?
redis_is_ours() {
    local port="$1" dir
    command -v redis-cli >/dev/null 2>&1 || return 1
    dir="$(redis-cli -h 127.0.0.1 -p "$port" config get dir 2>/dev/null | sed -n 2p)"
    [[ "$dir" == "$LOCAL" ]]
}

redis_answers() {
    [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]
}

# --- processes we started ----------------------------------------------------------------

# Stop the process in a pid file if it is alive and its command line contains $2.
stop_pidfile() {
    local pidfile="$1" expect="$2" label="$3" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(tr -dc '0-9' <"$pidfile")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$expect"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            note "$label (pid $pid) did not stop in 10 s: killed"
        else
            ok "stopped $label (pid $pid)"
        fi
    fi
    rm -f "$pidfile"
}
