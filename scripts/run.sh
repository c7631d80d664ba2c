#!/usr/bin/env bash
# `make run`: a working local instance on http://127.0.0.1:5000 with nothing
# but Python: embedded SQLite by default (set DATABASE_URL to use PostgreSQL).
# It ends with a framed block: the URL, the demo staff sign-in and each demo
# tenant admin's invitation link (their mails land in instance/outbox/<tenant id>/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/venv.sh
ensure_venv

HOST="${PRIVACY_SAAS_HOST:-127.0.0.1}"
PORT="${PRIVACY_SAAS_PORT:-5000}"
# Links in e-mails (invitations) and SCIM locations are built from this, never from a request's Host.
case "$HOST" in
    *:*) export PRIVACY_SAAS_PUBLIC_URL="${PRIVACY_SAAS_PUBLIC_URL:-http://[$HOST]:$PORT}" ;;
    *)   export PRIVACY_SAAS_PUBLIC_URL="${PRIVACY_SAAS_PUBLIC_URL:-http://$HOST:$PORT}" ;;
esac

# Each step is idempotent, so running `make run` again is safe:
.venv/bin/privacy-saas db upgrade                  # apply pending migrations
# Sync tenants from tenants/. A contract end changed in the console since is never reverted
# silently: apply refuses (exit 3, naming tenant and field) and the instance starts as it is.
status=0
.venv/bin/privacy-saas tenants apply tenants/ --yes || status=$?
if [ "$status" -eq 3 ]; then
    echo "tenants/ not applied (see above): the instance keeps the console's changes." >&2
    echo "  To settle it: edit the file, or run .venv/bin/privacy-saas tenants apply tenants/ with" >&2
    echo "  --accept-console-changes (keep them) or --override-console-changes (the files win)." >&2
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi

# Loopback by default: this is a local admin backend with a demo login.
# Plain HTTP on loopback: a Secure session cookie would never come back. Anywhere else the
# cookie stays Secure (serve behind HTTPS).
case "$HOST" in
    127.*|localhost|::1) export PRIVACY_SAAS_INSECURE_COOKIES="${PRIVACY_SAAS_INSECURE_COOKIES:-1}" ;;
esac
# Last before the server's own lines: how to get in (demo staff password renewed, fresh invitations).
.venv/bin/privacy-saas demo welcome --tenants-dir tenants/
echo "Serving on http://$HOST:$PORT  (Ctrl-C to stop)"
# No Redis here: the web process runs jobs in a thread and the lifecycle sweep every 5 minutes.
export PRIVACY_SAAS_EMBEDDED_SCHEDULER="${PRIVACY_SAAS_EMBEDDED_SCHEDULER:-300}"
exec .venv/bin/flask --app wsgi run --host "$HOST" --port "$PORT"
