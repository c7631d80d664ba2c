#!/usr/bin/env bash
# `make bench`: run every bench/*.py (or only those named) on SQLite, then on
# PostgreSQL + Redis started just for this run (same servers as the tests).
#
#   scripts/bench.sh [bench/NAME.py | NAME ...]     e.g.  make bench BENCH=ingest
#
# Each benchmark is run as `.venv/bin/python bench/NAME.py` with:
#   PRIVACY_SAAS_BENCH_DB=sqlite    and no DATABASE_URL / REDIS_URL, then
#   PRIVACY_SAAS_BENCH_DB=postgres  DATABASE_URL / REDIS_URL pointing at our
#                                   servers, plus everything scripts/services.sh exports.
# A benchmark that does not support a backend exits 77 (the automake "skip"
# code) when it sees that backend; that is reported as skipped, not failed.
# Output goes to the terminal and to .bench/NAME.<db>.log.
# Benchmarks are not part of `make test`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/venv.sh
source scripts/services.sh

trap services_stop EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "terminated" >&2; exit 143' TERM

# Which benchmarks: arguments (path or bare name), else all of bench/*.py.
benches=()
if (($#)); then
    for b in "$@"; do
        [[ "$b" == */* ]] || b="bench/${b%.py}.py"
        [[ -f "$b" ]] || { echo "no such benchmark: $b" >&2; exit 2; }
        benches+=("$b")
    done
else
    shopt -s nullglob
    benches=(bench/*.py)
    shopt -u nullglob
fi
if ((${#benches[@]} == 0)); then
    echo "no benchmarks in bench/*.py"
    exit 0
fi

ensure_venv || exit 1
services_ensure_installed || exit 1
services_start || exit 1
mkdir -p .bench

RESULTS=() FAILED=0
run_one() {   # run_one BENCH DB ENV...
    local b="$1" db="$2"; shift 2
    local log=".bench/$(basename "$b" .py).$db.log" rc
    echo "=================== $b ($db) ==================="
    env "$@" PRIVACY_SAAS_BENCH_DB="$db" .venv/bin/python "$b" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    case $rc in
        0)  RESULTS+=("$b ($db): ok") ;;
        77) RESULTS+=("$b ($db): skipped (backend not supported)") ;;
        *)  RESULTS+=("$b ($db): FAILED, exit $rc"); FAILED=1 ;;
    esac
}

for b in "${benches[@]}"; do
    run_one "$b" sqlite -u DATABASE_URL -u REDIS_URL
    run_one "$b" postgres DATABASE_URL="$PRIVACY_SAAS_PG_URL" REDIS_URL="$PRIVACY_SAAS_REDIS_URL"
done

echo
echo "=================== bench summary ==================="
printf '%s\n' "${RESULTS[@]}"
exit $FAILED
