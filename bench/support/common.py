"""Shared setup for the benchmarks: an app on DATABASE_URL (default: a temp SQLite), a tenant, a token."""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import statistics
import tempfile
import uuid
from datetime import date


def bench_env() -> dict:
    """Set (and return) the environment the app and any gunicorn child use."""
    instance = tempfile.mkdtemp(prefix="privacy-saas-bench-")
    env = {
        "PRIVACY_SAAS_INSTANCE": instance,
        # A fixed key for synthetic bench data, so a crashed run cannot lock the next one out of a shared database.
        "PRIVACY_SAAS_MASTER_KEYS": os.environ.get("PRIVACY_SAAS_MASTER_KEYS")
        or "1:" + base64.b64encode(hashlib.sha256(b"privacy_saas bench master key").digest()).decode(),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PRIVACY_SAAS_LOG_LEVEL": "WARNING",
        "PRIVACY_SAAS_OUTBOX_DIR": os.path.join(instance, "outbox"),
    }
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)  # jobs are not exercised here
    return env


def make_app():
    """Create the app and migrate its database to head."""
    from flask_migrate import upgrade

    from privacy_saas import create_app

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
    return app


def make_tenant(app, slug_prefix: str = "bench"):
    """Create a tenant with keys and a token; return (tenant id, token)."""
    from privacy_saas.crypto.service import create_tenant_keys
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant
    from privacy_saas.processor.users.tokens import create_token

    with app.app_context():
        tenant = Tenant(slug=f"{slug_prefix}-{uuid.uuid4().hex[:8]}", name="Bench Ltd", region="eu",
                        contract_start=date(2025, 1, 1), end_action="delete")
        db.session.add(tenant)
        db.session.flush()
        create_tenant_keys(tenant)
        token = create_token(tenant, "bench", actor=("bench", None))[1]
        tenant_id = tenant.id
        db.session.commit()
        db.session.remove()
    return tenant_id, token


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(int(round(pct / 100 * len(ordered))) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def summary(latencies_s: list[float]) -> dict:
    """Return p50/p99/mean in milliseconds."""
    ms = [v * 1000 for v in latencies_s]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "mean": statistics.fmean(ms), "n": len(ms)}


def database_label() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return "postgresql" if url.startswith("postgres") else "sqlite (temp file)"


def shred_tenant(app, tenant_id) -> None:
    """Crypto-shred the bench tenant, so a shared database is left with no live key of this run."""
    from privacy_saas.crypto.service import destroy_tenant_keys
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant

    with app.app_context():
        destroy_tenant_keys(db.session.get(Tenant, tenant_id))
        db.session.commit()
        db.session.remove()
