#!/usr/bin/env bash
# Sourceable: `ensure_venv` creates .venv and installs the project into it.
#
# pip runs only when pyproject.toml is newer than .venv/.installed-stamp (or
# the stamp is missing), so `make run` / `make test` start fast after the
# first time. The stamp is touched only after a successful install, so a
# failed install is retried next time. Override the interpreter with PYTHON=.

VENV_DIR="${VENV_DIR:-.venv}"
VENV_STAMP="$VENV_DIR/.installed-stamp"

# pip installs the playwright package only, never a browser; this makes sure
# nothing tries to download one (tests use Debian's /usr/bin/chromium).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

ensure_venv() {
    local python="${PYTHON:-python3}"
    # A venv without its interpreter (interrupted creation, python moved) is
    # useless: rebuild it rather than fail later with a confusing error.
    if [[ -d "$VENV_DIR" && ! -x "$VENV_DIR/bin/python" ]]; then
        echo "[venv] $VENV_DIR is broken; recreating" >&2
        rm -rf -- "$VENV_DIR"
    fi
    if [[ ! -d "$VENV_DIR" ]]; then
        echo "[venv] creating $VENV_DIR with $python" >&2
        "$python" -m venv "$VENV_DIR" || return 1
    fi
    if [[ ! -f "$VENV_STAMP" || pyproject.toml -nt "$VENV_STAMP" ]]; then
        echo "[venv] pip install -e '.[test,bench]'" >&2
        "$VENV_DIR/bin/python" -m pip install -q -e '.[test,bench]' </dev/null || return 1
        touch "$VENV_STAMP"
    fi
}
