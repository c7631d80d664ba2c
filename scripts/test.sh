#!/usr/bin/env bash
# `make test` (and so CI): every check, against real PostgreSQL + Redis and
# against the embedded SQLite default.
#
#   scripts/test.sh [PYTEST_ARGS...]     e.g.  make test ARGS="-k consent -x"
#
# Steps (all run; the exit status is non-zero if any failed):
#   1. lint-imports            import-linter contracts from pyproject.toml
#   2. pytest on PostgreSQL    DATABASE_URL, REDIS_URL set; PRIVACY_SAAS_TEST_DB=postgres;
#                              keys in OpenBao (PRIVACY_SAAS_KEYSTORE=openbao)
#   3. pytest on SQLite        DATABASE_URL, REDIS_URL unset; PRIVACY_SAAS_TEST_DB=sqlite;
#                              keys in the local key-store file (PRIVACY_SAAS_KEYSTORE=local)
# pytest exit 5 ("no tests collected") counts as a failure: a suite must exist.
#
# Environment seen by the tests (both pytest runs unless noted):
#   DATABASE_URL           postgresql+psycopg://privacy@127.0.0.1:$PG_PORT/privacy_saas_test  (run 2 only)
#   REDIS_URL              redis://127.0.0.1:$REDIS_PORT/0                                      (run 2 only)
#   PRIVACY_SAAS_TEST_DB   postgres | sqlite
#   PRIVACY_SAAS_KEYSTORE  openbao (run 2) | local (run 3)
#   PRIVACY_SAAS_CHROMIUM  /usr/bin/chromium (Debian's; never a Playwright download)
#   PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
#   From scripts/services.sh (see its header for details), for fault tests:
#     PG_BIN PG_DATA PG_HOST PG_PORT PG_SOCKET_DIR PG_LOG PG_USER PG_DATABASE
#     REDIS_HOST REDIS_PORT REDIS_DIR REDIS_PIDFILE REDIS_LOG
#     BAO_BIN BAO_DIR BAO_PORT
#     PRIVACY_SAAS_PG_URL PRIVACY_SAAS_REDIS_URL
#     OPENBAO_ADDR OPENBAO_TOKEN_FILE OPENBAO_TRANSIT_MOUNT OPENBAO_KV_MOUNT  (both runs: the local
#                             run's tests that move keys to OpenBao use them)
#     PRIVACY_SAAS_PG_CTL     "$PRIVACY_SAAS_PG_CTL" stop|start|restart|status  (stop takes smart|fast|immediate)
#     PRIVACY_SAAS_REDIS_CTL  "$PRIVACY_SAAS_REDIS_CTL" stop|kill|start|restart|status
#     PRIVACY_SAAS_OPENBAO_CTL "$PRIVACY_SAAS_OPENBAO_CTL" stop|kill|start|restart|status
#     PRIVACY_SAAS_SERVICES_DIR PRIVACY_SAAS_SERVICES_SH
#   A fault test that stops a server should start it again before it ends
#   (later tests share the servers); whatever state it leaves, the servers
#   are stopped and the temp dir removed when this script exits.

# No `set -e`: every step runs and failures are collected instead.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/venv.sh
source scripts/services.sh

FAILED=()          # names of failed steps
SUMMARY=()         # one line per step for the final report
LOGDIR="$(mktemp -d /tmp/psaas-testlogs.XXXXXX)"

cleanup() {
    services_stop
    rm -rf -- "$LOGDIR"
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap stops the servers.
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "terminated" >&2; exit 143' TERM

fail() { FAILED+=("$1"); SUMMARY+=("$1: FAILED${2:+ ($2)}"); }

# ------------------------------------------------------------------ setup ---

if ! ensure_venv; then
    echo "error: could not create .venv / install the project" >&2
    exit 1   # nothing below can run without it
fi

services_ok=1
services_ensure_installed || { fail "install postgresql/redis"; services_ok=0; }

# Browser tests drive Debian's Chromium; a Playwright browser download cannot
# work here (no network but package registries) and must never be attempted.
export PRIVACY_SAAS_CHROMIUM=/usr/bin/chromium
if [[ ! -x "$PRIVACY_SAAS_CHROMIUM" ]]; then
    svc_apt_install chromium || fail "install chromium"
fi

if ((services_ok)); then
    services_start || { fail "start postgresql/redis"; services_ok=0; }
fi

# ------------------------------------------------------------------ steps ---

# Totals over both pytest runs, for the closing "N passed, N failed" line.
TOTAL_PASSED=0 TOTAL_FAILED=0 TOTAL_SKIPPED=0

# Count "<n> <word>" from a pytest summary line, e.g. "3 passed, 1 error in 2s".
count_of() { grep -oE "[0-9]+ $2\b" <<<"$1" | awk '{s+=$1} END {print s+0}'; }

# run_pytest NAME [VAR=VALUE | -u VAR]... -- PYTEST_ARGS...
run_pytest() {
    local name="$1"; shift
    local envargs=()
    while [[ $# -gt 0 && "$1" != -- ]]; do envargs+=("$1"); shift; done
    shift   # the --
    local log="$LOGDIR/$name.log" rc line
    echo
    echo "=================== pytest ($name) ==================="
    env "${envargs[@]}" .venv/bin/python -m pytest "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # pytest's closing line looks like "==== 3 passed, 1 skipped in 0.52s ====",
    # or without the "=" padding under -q.
    line="$(grep -E '^(=+ )?[^=]*\b(passed|failed|errors?|skipped|deselected|xfailed|xpassed|no tests ran)\b.* in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$log" | tail -n 1)"
    TOTAL_PASSED=$((TOTAL_PASSED + $(count_of "$line" passed)))
    TOTAL_FAILED=$((TOTAL_FAILED + $(count_of "$line" failed) + $(count_of "$line" errors?)))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + $(count_of "$line" skipped)))
    [[ -n "$line" ]] || line="(no pytest summary line)"
    if ((rc == 0)); then
        SUMMARY+=("pytest ($name): $line")
    else
        FAILED+=("pytest ($name)")
        SUMMARY+=("pytest ($name): FAILED, exit $rc$([[ $rc == 5 ]] && echo ' = no tests collected'): $line")
    fi
}

# 1. Import contracts (processor and controller scopes stay independent).
echo "=================== lint-imports ==================="
if .venv/bin/lint-imports; then SUMMARY+=("lint-imports: OK"); else fail "lint-imports" "exit $?"; fi

# 2. PostgreSQL + Redis.
if ((services_ok)); then
    run_pytest postgres \
        DATABASE_URL="$PRIVACY_SAAS_PG_URL" REDIS_URL="$PRIVACY_SAAS_REDIS_URL" PRIVACY_SAAS_TEST_DB=postgres \
        PRIVACY_SAAS_KEYSTORE=openbao \
        -- "$@"
else
    fail "pytest (postgres)" "not run: services unavailable"
fi

# 3. Embedded SQLite default: no DATABASE_URL / REDIS_URL at all.
run_pytest sqlite -u DATABASE_URL -u REDIS_URL PRIVACY_SAAS_TEST_DB=sqlite PRIVACY_SAAS_KEYSTORE=local -- "$@"

# ---------------------------------------------------------------- summary ---

echo
echo "=================== summary ==================="
for s in "${SUMMARY[@]}"; do echo "$s"; done
if ((${#FAILED[@]})); then
    (IFS=","; echo "FAILED: ${FAILED[*]}")
    rc=1
else
    echo "all steps passed"
    rc=0
fi
# Plain closing line over both pytest runs.
echo "total: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
exit $rc
