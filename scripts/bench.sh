#!/usr/bin/env bash
# `make bench`: set up, then run the benchmarks (python -m bench). Arguments go to bench.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO/scripts/setup.sh"
load_env
cd "$REPO"

step "Benchmarks (python -m bench $*)"
exec "$PY" -m bench "$@"
