#!/usr/bin/env bash
# `make run`: a working local instance on http://127.0.0.1:5000 with nothing
# but Python: embedded SQLite by default (set DATABASE_URL to use PostgreSQL).
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
.venv/bin/privacy-saas tenants apply tenants/ --yes # sync tenants from tenants/
.venv/bin/privacy-saas staff demo                  # demo staff login (created once; prints credentials)

# Loopback by default: this is a local admin backend with a demo login.
# Plain HTTP on loopback: a Secure session cookie would never come back. Anywhere else the
# cookie stays Secure (serve behind HTTPS).
case "$HOST" in
    127.*|localhost|::1) export PRIVACY_SAAS_INSECURE_COOKIES="${PRIVACY_SAAS_INSECURE_COOKIES:-1}" ;;
esac
echo "Serving on http://$HOST:$PORT  (Ctrl-C to stop)"
# No Redis here: the web process runs jobs in a thread and the lifecycle sweep every 5 minutes.
export PRIVACY_SAAS_EMBEDDED_SCHEDULER="${PRIVACY_SAAS_EMBEDDED_SCHEDULER:-300}"
exec .venv/bin/flask --app wsgi run --host "$HOST" --port "$PORT"
