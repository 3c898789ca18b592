#!/usr/bin/env bash
# `make run`: set up, load the demo town, start a Celery worker (with beat) in the
# background and gunicorn in the foreground. Ctrl-C stops both.
#
#   HOST, PORT           where gunicorn listens (default 127.0.0.1:8000)
#   WEB_CONCURRENCY      gunicorn worker processes (default 2)
#   OANM_SKIP_DEMO=1     do not run `manage.py demo_load`
#   PROVISIONING_SIMULATOR_PORT  where the provisioning simulator listens (default 8970);
#                        it is not started when PROVISIONING_BASE_URL names another system
#   OANM_DEMO_GIS        the demo's GIS of record: iqgeo (default) starts the IQGeo simulator
#                        seeded with the demo town on IQGEO_SIMULATOR_PORT (default 8971) and
#                        turns USE_IQGEO on; none starts no GIS. Not used when USE_IQGEO is
#                        already set (a real IQGeo is configured). vetro starts the VETRO
#                        simulator on VETRO_SIMULATOR_PORT (default 8972) and turns USE_VETRO
#                        on (not when USE_VETRO is already set).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

"$REPO/scripts/setup.sh"
load_env
cd "$REPO"

step "GIS of record"
GIS_PID_FILE="$RUN_DIR/gis-simulator.pid"
GIS_LOG="$LOG_DIR/gis-simulator.log"
GIS_PID=""
stop_pidfile "$GIS_PID_FILE" simulator "the GIS simulator of an earlier run"
# start_gis_simulator LABEL PORT MODULE [ARGS…]: seeded with the demo town, in the background
start_gis_simulator() {
    local label="$1" port="$2" module="$3"
    shift 3
    "$PY" -m "$module" --port "$port" --seed "$REPO/data/berlin-wedding/addresses.geojson" "$@" \
        >>"$GIS_LOG" 2>&1 </dev/null &
    GIS_PID=$!
    echo "$GIS_PID" >"$GIS_PID_FILE"
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$GIS_PID" 2>/dev/null \
            || die "the $label simulator exited at once; the end of its log:" \
                "$(tail -n 15 "$GIS_LOG")"
        sleep 0.2
    done
    ok "$label simulator on http://127.0.0.1:$port (pid $GIS_PID), log in .local/log/gis-simulator.log"
}

if [[ -n "${USE_IQGEO:-}${USE_VETRO:-}" ]]; then
    note "USE_IQGEO/USE_VETRO set: the configured GIS is used, no simulator"
else
    case "${OANM_DEMO_GIS:-iqgeo}" in
        iqgeo)
            port="${IQGEO_SIMULATOR_PORT:-8971}"
            start_gis_simulator IQGeo "$port" integrations.iqgeo.simulator \
                --user oanm --password demo-secret
            export USE_IQGEO=1 IQGEO_BASE_URL="http://127.0.0.1:$port"
            export IQGEO_USER=oanm IQGEO_PASSWORD=demo-secret
            ;;
        vetro)
            port="${VETRO_SIMULATOR_PORT:-8972}"
            start_gis_simulator VETRO "$port" integrations.vetro.simulator --token demo-vetro-token
            export USE_VETRO=1 VETRO_BASE_URL="http://127.0.0.1:$port" VETRO_TOKEN=demo-vetro-token
            ;;
        none) note "OANM_DEMO_GIS=none: no GIS of record" ;;
        *) die "OANM_DEMO_GIS must be iqgeo, vetro or none, not ${OANM_DEMO_GIS}" ;;
    esac
fi

if [[ "${OANM_SKIP_DEMO:-0}" == 1 ]]; then
    step "Demo town: skipped (OANM_SKIP_DEMO=1)"
else
    step "Demo town (manage.py demo_load)"
    "$PY" manage.py demo_load
fi

step "Provisioning simulator"
SIMULATOR_PORT="${PROVISIONING_SIMULATOR_PORT:-8970}"
SIMULATOR_PID_FILE="$RUN_DIR/provisioning-simulator.pid"
SIMULATOR_LOG="$LOG_DIR/provisioning-simulator.log"
SIMULATOR_PID=""
stop_pidfile "$SIMULATOR_PID_FILE" provisioning_simulator "the provisioning simulator of an earlier run"
if [[ -n "${PROVISIONING_BASE_URL:-}" \
    && "${PROVISIONING_BASE_URL%/}" != "http://127.0.0.1:$SIMULATOR_PORT" ]]; then
    note "PROVISIONING_BASE_URL=$PROVISIONING_BASE_URL: the simulator is not started"
else
    export PROVISIONING_BASE_URL="http://127.0.0.1:$SIMULATOR_PORT"
    "$PY" manage.py provisioning_simulator --port "$SIMULATOR_PORT" \
        >>"$SIMULATOR_LOG" 2>&1 </dev/null &
    SIMULATOR_PID=$!
    echo "$SIMULATOR_PID" >"$SIMULATOR_PID_FILE"
fi

step "Celery worker with beat"
WORKER_PID_FILE="$RUN_DIR/celery-worker.pid"
WORKER_LOG="$LOG_DIR/celery.log"
stop_pidfile "$WORKER_PID_FILE" celery "the worker of an earlier run"
"$VENV/bin/celery" -A config worker -B --loglevel=info \
    --schedule "$LOCAL/celerybeat-schedule" --pidfile "$WORKER_PID_FILE" \
    >>"$WORKER_LOG" 2>&1 </dev/null &
WORKER_PID=$!

stop_worker() {
    trap - EXIT INT TERM
    for pid_file in "$SIMULATOR_PID_FILE" "$GIS_PID_FILE"; do
        pid="$(cat "$pid_file" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            rm -f "$pid_file"
        fi
    done
    if kill -0 "$WORKER_PID" 2>/dev/null; then
        echo
        step "Stopping the Celery worker"
        kill -TERM "$WORKER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$WORKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$WORKER_PID" 2>/dev/null || true
        ok "worker stopped"
    fi
    rm -f "$WORKER_PID_FILE"
}
trap stop_worker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sleep 1
kill -0 "$WORKER_PID" 2>/dev/null \
    || die "the Celery worker exited at once; the end of .local/log/celery.log:" \
        "$(tail -n 15 "$WORKER_LOG")"
ok "worker running (pid $WORKER_PID), log in .local/log/celery.log"
if [[ -n "$SIMULATOR_PID" ]]; then
    kill -0 "$SIMULATOR_PID" 2>/dev/null \
        || die "the provisioning simulator exited at once; the end of its log:" \
            "$(tail -n 15 "$SIMULATOR_LOG")"
    ok "provisioning simulator on $PROVISIONING_BASE_URL (pid $SIMULATOR_PID), log in .local/log/provisioning-simulator.log"
fi

step "Web server (gunicorn)"
echo
echo "    ${_bold}oanm is running at http://$HOST:$PORT/ — admin at /admin/${_reset}"
case "$HOST" in
    127.0.0.1 | localhost | ::1) ;;
    *)
        [[ -n "${ALLOWED_HOSTS:-}" ]] \
            || note "HOST=$HOST: set ALLOWED_HOSTS to the names clients use (default 127.0.0.1,localhost)"
        ;;
esac
echo "    (Ctrl-C stops the web server and the worker)"
echo

# Not exec: the trap must outlive gunicorn to stop the worker.
"$VENV/bin/gunicorn" config.wsgi:application \
    --bind "$HOST:$PORT" \
    --workers "${WEB_CONCURRENCY:-2}" \
    --pid "$RUN_DIR/gunicorn.pid" \
    --no-control-socket \
    --access-logfile - \
    --graceful-timeout 5
