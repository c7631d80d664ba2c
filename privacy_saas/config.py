"""Settings from the environment, with embedded defaults for `make run`."""
from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

from privacy_saas.links import check_public_url

log = logging.getLogger(__name__)

#: Requests larger than this are refused with 413 before any parsing (bulk imports included).
DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024 * 1024


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'privacy_saas.sqlite3'}"
    # Heroku-style and bare URLs name the driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance_path: Path, name: str, make, what: str) -> str:
    """Read a development secret from instance/, generating it once with a loud warning."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    log.warning(
        "DEVELOPMENT %s generated at %s. Set it from the environment in production: "
        "anyone who reads that file can read this installation's data.", what, path,
    )
    return value


def from_env(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the configuration read from the environment (secrets in `overrides` win)."""
    overrides = overrides or {}
    ipath = Path(instance_path)
    database_url = _database_url(ipath)
    master_keys = overrides.get("PRIVACY_SAAS_MASTER_KEYS") or os.environ.get("PRIVACY_SAAS_MASTER_KEYS")
    master_keys_file = os.environ.get("PRIVACY_SAAS_MASTER_KEYS_FILE")
    if not master_keys and master_keys_file:
        master_keys = Path(master_keys_file).read_text()
    if not master_keys:
        master_keys = _instance_secret(
            ipath, "master.keys",
            lambda: "1:" + base64.b64encode(secrets.token_bytes(32)).decode(), "master key",
        )
    secret_key = overrides.get("SECRET_KEY") or os.environ.get("SECRET_KEY") or _instance_secret(
        ipath, "secret_key", lambda: secrets.token_urlsafe(48), "SECRET_KEY"
    )
    secure_cookies = os.environ.get("PRIVACY_SAAS_INSECURE_COOKIES") != "1"
    openbao_token = os.environ.get("OPENBAO_TOKEN")
    if not openbao_token and os.environ.get("OPENBAO_TOKEN_FILE"):
        openbao_token = Path(os.environ["OPENBAO_TOKEN_FILE"]).read_text().strip()
    public_url = os.environ.get("PRIVACY_SAAS_PUBLIC_URL")
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "SECRET_KEY": secret_key,
        "PRIVACY_SAAS_MASTER_KEYS": master_keys,
        # Scopes whose keys a process keeps unwrapped (each for PRIVACY_SAAS_KEY_CACHE_SECONDS at most):
        # a DSR look-up reads every tenant's index key, and with fewer entries than tenants each look-up
        # unwraps them all again (SCALING.md). Keep it above the number of tenants.
        "PRIVACY_SAAS_KEY_CACHE_SIZE": int(os.environ.get("PRIVACY_SAAS_KEY_CACHE_SIZE", 16_384)),
        "PRIVACY_SAAS_SIGNING_KEY_FILE": os.environ.get(
            "PRIVACY_SAAS_SIGNING_KEY_FILE", str(ipath / "signing_key.pem")
        ),
        "MAX_CONTENT_LENGTH": int(os.environ.get("PRIVACY_SAAS_MAX_BODY", DEFAULT_MAX_CONTENT_LENGTH)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure everywhere, whatever the database: a SQLite install behind HTTPS still needs it.
        # Only the plain-HTTP loopback dev server opts out (scripts/run.sh sets the variable).
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "API_TITLE": "privacy_saas",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "TENANTS_DIR": os.environ.get("PRIVACY_SAAS_TENANTS_DIR", "tenants"),
        "OUTBOX_DIR": os.environ.get("PRIVACY_SAAS_OUTBOX_DIR", str(ipath / "outbox")),
        # Base of links in e-mails and SCIM locations; without it, only loopback requests get links.
        "PUBLIC_URL": check_public_url(public_url) if public_url else None,
        # SMTP when MAIL_SMTP_HOST is set; otherwise mail is written to OUTBOX_DIR as .eml files.
        "MAIL_SMTP_HOST": os.environ.get("MAIL_SMTP_HOST") or None,
        "MAIL_SMTP_PORT": int(os.environ.get("MAIL_SMTP_PORT", "587")),
        "MAIL_SMTP_USER": os.environ.get("MAIL_SMTP_USER") or None,
        "MAIL_SMTP_PASSWORD": os.environ.get("MAIL_SMTP_PASSWORD") or None,
        "MAIL_SMTP_STARTTLS": os.environ.get("MAIL_SMTP_STARTTLS", "1") != "0",
        "MAIL_FROM": os.environ.get("MAIL_FROM", "privacy_saas <no-reply@privacy-saas.invalid>"),
        "EXPORT_DIR": os.environ.get("PRIVACY_SAAS_EXPORT_DIR", str(ipath / "exports")),
        # Background work (README, "Operating notes"): how long a dead worker's purge stays locked
        # (the lease is renewed at every step and batch), when a purge counts as stuck, how often a
        # running job beats and when a silent one is taken back, when a dispatched job unknown to
        # Redis is handed over again, how often dispatchers look, the retry backoff, RQ's time limit.
        "PURGE_LEASE_SECONDS": _seconds("PRIVACY_SAAS_PURGE_LEASE_SECONDS", 60),
        "PURGE_STUCK_SECONDS": _seconds("PRIVACY_SAAS_PURGE_STUCK_SECONDS", 900),
        "JOB_HEARTBEAT_SECONDS": _seconds("PRIVACY_SAAS_JOB_HEARTBEAT_SECONDS", 10),
        "JOB_LOST_AFTER_SECONDS": _seconds("PRIVACY_SAAS_JOB_LOST_AFTER_SECONDS", 60),
        "JOB_DISPATCH_TIMEOUT_SECONDS": _seconds("PRIVACY_SAAS_JOB_DISPATCH_TIMEOUT_SECONDS", 60),
        "JOB_POLL_SECONDS": _seconds("PRIVACY_SAAS_JOB_POLL_SECONDS", 2),
        "JOB_RETRY_BASE_SECONDS": _seconds("PRIVACY_SAAS_JOB_RETRY_BASE_SECONDS", 10),
        "JOB_RETRY_MAX_SECONDS": _seconds("PRIVACY_SAAS_JOB_RETRY_MAX_SECONDS", 900),
        "JOB_TIMEOUT_SECONDS": _seconds("PRIVACY_SAAS_JOB_TIMEOUT_SECONDS", 3600),
        # Tenant tokens a process has checked stay trusted this long at most (0: every request reads the
        # database); any change to a token, tenant or staff row invalidates them at once (auth/token_cache.py).
        "TOKEN_CACHE_SECONDS": _seconds("PRIVACY_SAAS_TOKEN_CACHE_SECONDS", 30),
        # With Redis down, sign-in keeps its limits in each process's memory (see README) rather
        # than failing: the account lockout in the database still bounds guessing per account.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # A stuck Redis must not hold a sign-in for long before the fallback takes over.
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}
        if os.environ.get("REDIS_URL") else {},
        # Key custody (crypto/keystore/): where each scope's key-encryption key lives.
        "KEYSTORE": os.environ.get("PRIVACY_SAAS_KEYSTORE", "local"),
        "KEYSTORE_PATH": os.environ.get("PRIVACY_SAAS_KEYSTORE_PATH", str(ipath / "keystore.sqlite3")),
        "KEYSTORE_PREFIX": os.environ.get("PRIVACY_SAAS_KEYSTORE_PREFIX", "privacy-saas"),
        #: How long backups of the key store are kept: the certificate's horizon for them.
        "KEYSTORE_BACKUP_RETENTION": os.environ.get("PRIVACY_SAAS_KEYSTORE_BACKUP_RETENTION", "P30D"),
        "OPENBAO_ADDR": os.environ.get("OPENBAO_ADDR") or None,
        "OPENBAO_TOKEN": openbao_token,
        "OPENBAO_TRANSIT_MOUNT": os.environ.get("OPENBAO_TRANSIT_MOUNT", "transit"),
        "OPENBAO_KV_MOUNT": os.environ.get("OPENBAO_KV_MOUNT", "privacy-saas"),
        # An outage must fail a request in seconds: connect and read timeouts of each call.
        "OPENBAO_CONNECT_TIMEOUT": float(os.environ.get("OPENBAO_CONNECT_TIMEOUT", "1.5")),
        "OPENBAO_READ_TIMEOUT": float(os.environ.get("OPENBAO_READ_TIMEOUT", "5")),
        #: Unwrapped data keys stay in each process's memory this long (re-checked every few seconds).
        "PRIVACY_SAAS_KEY_TTL_SECONDS": float(os.environ.get("PRIVACY_SAAS_KEY_CACHE_SECONDS", "300")),
        # Who the vendor is, for the Art. 30 records (name and contact details of the controller/processor,
        # its DPO and its EU/UK representative) and where it is established (transfers are counted from there).
        "VENDOR_NAME": os.environ.get("PRIVACY_SAAS_VENDOR_NAME") or None,
        "VENDOR_CONTACT": os.environ.get("PRIVACY_SAAS_VENDOR_CONTACT") or None,
        "VENDOR_DPO": os.environ.get("PRIVACY_SAAS_VENDOR_DPO") or None,
        "VENDOR_REPRESENTATIVE": os.environ.get("PRIVACY_SAAS_VENDOR_REPRESENTATIVE") or None,
        "VENDOR_REGION": os.environ.get("PRIVACY_SAAS_VENDOR_REGION", "eu"),
    }


def _seconds(name: str, default: float) -> float:
    """Read a duration in seconds from the environment; refuse anything but a number >= 0."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{name} must be a number of seconds (0 or more), not {raw!r}")
    return value
