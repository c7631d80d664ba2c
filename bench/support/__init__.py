"""Shared set-up for benchmarks: an app on a fresh database, bulk seeding."""
from __future__ import annotations

import base64
import os
import secrets
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta

import sqlalchemy as sa

from privacy_saas import clock

BENCH_MASTER_KEYS = "1:" + base64.b64encode(secrets.token_bytes(32)).decode()


def backend() -> str:
    return "postgres" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"


def make_app(database_url: str | None = None, workdir: str | None = None):
    """Create an app on a freshly migrated database (temp SQLite unless DATABASE_URL/`database_url`)."""
    from flask_migrate import upgrade

    workdir = workdir or tempfile.mkdtemp(prefix="privacy-saas-bench-")
    os.environ.setdefault("PRIVACY_SAAS_INSTANCE", os.path.join(workdir, "instance"))
    url = database_url or os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite3"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgresql"):
        # Start from an empty schema (before create_app, which checks stored keys against ours).
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    app = open_app(url, workdir)
    with app.app_context():
        upgrade()
    return app


@contextmanager
def admin_connection(url):
    """Yield an autocommit connection to the cluster's `postgres` database."""
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


def open_app(url: str, workdir: str, **config):
    """Create the benchmark app on an existing database at `url` (no migration); `config` overrides."""
    from privacy_saas import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url, "PRIVACY_SAAS_MASTER_KEYS": BENCH_MASTER_KEYS, "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": False, "JOBS_EAGER": True, "REDIS_URL": None,
        "EXPORT_DIR": os.path.join(workdir, "exports"),
        "PRIVACY_SAAS_SIGNING_KEY_FILE": os.path.join(workdir, "signing.pem"),
        **config,
    })


def seed_tenant(slug: str, users: int, events_per_user: int, *, status: str = "active",
                contract_end: date | None = None, chunk: int = 20_000, progress=None):
    """Bulk-insert a tenant with keys, encrypted users and encrypted usage events; returns the tenant id."""
    from privacy_saas.crypto.envelope import build_aad, encode_value
    from privacy_saas.crypto.keyring import keyring, tenant_scope
    from privacy_saas.crypto.service import create_tenant_keys
    from privacy_saas.db import new_id
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant
    from privacy_saas.processor.usage.models import EVENT_KINDS, UsageEvent
    from privacy_saas.processor.users.models import RegisteredUser

    tenant = Tenant(slug=slug, name=slug.title(), region="eu", contract_start=date(2020, 1, 1),
                    contract_end=contract_end, end_action="delete", status="active")
    db.session.add(tenant)
    db.session.flush()
    create_tenant_keys(tenant)
    if status == "ended":
        tenant.end_contract(contract_end)
    db.session.commit()
    scope = tenant_scope(tenant.id)
    ring = keyring()
    cipher = ring.writer(scope)
    now = clock.now()
    user_ids = []
    batch = []

    def flush(model, rows):
        if rows:
            db.session.execute(sa.insert(model), rows)
            db.session.commit()
            if progress:
                progress(len(rows))
            rows.clear()

    for n in range(users):
        uid = new_id()
        user_ids.append(uid)
        email = f"user{n}@{slug}.example"
        batch.append({
            "tenant_id": tenant.id, "id": uid, "email_bidx": (bidx := ring.email_index(scope, email)),
            "email_ct": cipher.seal(encode_value(email, "str"), build_aad("registered_users", "email", scope, str(uid))),
            # userName is the e-mail, as the JSON API and imports make it (issue 16).
            "user_name_bidx": bidx,
            "user_name_ct": cipher.seal(encode_value(email, "str"),
                                        build_aad("registered_users", "user_name", scope, str(uid))),
            "display_name_ct": cipher.seal(encode_value(f"User {n}", "str"),
                                           build_aad("registered_users", "display_name", scope, str(uid))),
            "role": "member", "status": "active", "processing_restricted": False,
            "created_at": now, "updated_at": now,
        })
        if len(batch) >= chunk:
            flush(RegisteredUser, batch)
    flush(RegisteredUser, batch)
    for uid in user_ids:
        for e in range(events_per_user):
            eid = new_id()
            batch.append({
                "tenant_id": tenant.id, "id": eid, "user_id": uid, "kind": EVENT_KINDS[e % len(EVENT_KINDS)],
                "occurred_at": now - timedelta(hours=e),
                "detail_ct": cipher.seal(encode_value({"path": f"/app/page/{e}"}, "json"),
                                         build_aad("usage_events", "detail", scope, str(eid))),
            })
            if len(batch) >= chunk:
                flush(UsageEvent, batch)
    flush(UsageEvent, batch)
    return tenant.id


@contextmanager
def timer():
    """Yield a dict whose 'seconds' is filled in on exit."""
    out = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start
