#!/usr/bin/env bash
# `make test`: set up (with Chromium, without demo data), then lint, format check,
# Django's system checks and the whole pytest suite on real PostGIS and Redis. Every stage runs;
# the script fails if any of them did. Arguments go to pytest (make test ARGS="-k foo").
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The suite's settings come from pyproject.toml; a DJANGO_SETTINGS_MODULE left in the
# shell (say, production) would override them.
unset DJANGO_SETTINGS_MODULE

"$REPO/scripts/setup.sh" --with-browser
load_env
cd "$REPO"

FAILED=()

step "ruff check"
"$VENV/bin/ruff" check . || FAILED+=("ruff check")

step "ruff format --check"
"$VENV/bin/ruff" format --check . || FAILED+=("ruff format --check (run 'make format')")

step "Django system checks"
DJANGO_SETTINGS_MODULE=config.settings.test "$PY" manage.py check --fail-level WARNING \
    || FAILED+=("manage.py check")

step "pytest $*"
status=0
"$VENV/bin/pytest" "$@" || status=$?
case "$status" in
    0) ;;
    5) FAILED+=("pytest: no tests were collected (exit code 5)") ;;
    *) FAILED+=("pytest (exit code $status)") ;;
esac

echo
if [[ ${#FAILED[@]} -gt 0 ]]; then
    printf '%sFAILED:%s\n' "$_red" "$_reset"
    printf '  - %s\n' "${FAILED[@]}"
    exit 1
fi
printf '%sAll checks and tests passed.%s\n' "$_green" "$_reset"
