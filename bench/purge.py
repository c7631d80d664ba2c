"""Purge benchmark: privacy_saas's purge of a 1,000,000-row tenant vs a raw DELETE on an identical copy.

    make bench BENCH=purge            (both databases)
    .venv/bin/python bench/purge.py   (SQLite; DATABASE_URL=postgresql+psycopg://... for PostgreSQL)

Goals: purge <= 1.3x raw delete; purge start -> keys destroyed < 100 ms; the other tenant untouched.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from datetime import date

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import BENCH_MASTER_KEYS, backend, make_app, seed_tenant, timer  # noqa: E402

USERS = int(os.environ.get("BENCH_PURGE_USERS", 10_000))
EVENTS_PER_USER = int(os.environ.get("BENCH_PURGE_EVENTS_PER_USER", 99))  # 10k users + 990k events = 1M rows
OTHER_USERS, OTHER_EVENTS = 1_000, 50
BATCH = int(os.environ.get("BENCH_PURGE_BATCH", 50_000))


def counts(db, tenant_id) -> dict:
    from privacy_saas.lifecycle.purge import purge_tables

    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id))
            for t in purge_tables()}


def copy_database(app, workdir) -> str:
    """Return the URL of an identical copy of the app's database."""
    from privacy_saas.extensions import db

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.engine.dispose()
            target = os.path.join(workdir, "copy.sqlite3")
            with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(target) as copy:
                source.backup(copy)
            return f"sqlite:///{target}"
        name = db.engine.url.database
        db.engine.dispose()
        admin = sa.create_engine(db.engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}_copy"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}_copy" TEMPLATE "{name}"')
        admin.dispose()
        return db.engine.url.set(database=f"{name}_copy").render_as_string(hide_password=False)


def raw_delete(url: str, tenant_id, tables: list[str]) -> float:
    """Time one DELETE per table in one transaction, on an engine configured exactly as the app's."""
    from privacy_saas import create_app
    from privacy_saas.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PRIVACY_SAAS_MASTER_KEYS": BENCH_MASTER_KEYS,
                      "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        value = tenant_id.hex if url.startswith("sqlite") else tenant_id
        with timer() as t, db.engine.begin() as conn:
            for table in tables:
                conn.execute(sa.text(f'DELETE FROM "{table}" WHERE tenant_id = :t'), {"t": value})
        db.engine.dispose()
    return t["seconds"]


def main() -> None:
    from privacy_saas.extensions import db
    from privacy_saas.lifecycle import purge
    from privacy_saas.lifecycle.models import PurgeRun

    workdir = tempfile.mkdtemp(prefix="privacy-saas-bench-purge-")
    app = make_app(workdir=workdir)
    total = USERS * (1 + EVENTS_PER_USER)
    print(f"[{backend()}] seeding {total:,} rows for the purged tenant and "
          f"{OTHER_USERS * (1 + OTHER_EVENTS):,} for its neighbour ...", flush=True)
    with app.app_context():
        with timer() as seeding:
            doomed = seed_tenant("doomed", USERS, EVENTS_PER_USER, status="ended", contract_end=date(2020, 6, 30))
            other = seed_tenant("neighbour", OTHER_USERS, OTHER_EVENTS)
        print(f"seeded in {seeding['seconds']:.1f} s")
        if db.engine.dialect.name == "postgresql":
            # A production table has statistics and visibility maps; a freshly bulk-loaded one does not.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        other_before = counts(db, other)
        doomed_before = counts(db, doomed)
        tables = [t.name for t in purge.purge_tables()]
        db.session.remove()
    copy_url = copy_database(app, workdir)

    with app.app_context():
        with timer() as purge_time:
            outcome = purge.purge_tenant(doomed, batch=BATCH)
        assert outcome == "purged", outcome
        run = db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == doomed))
        to_shred_ms = (run.keys_destroyed_at - run.started_at).total_seconds() * 1000
        left = sum(counts(db, doomed).values())
        other_after = counts(db, other)
        db.session.remove()
    raw = raw_delete(copy_url, doomed, tables)

    print(f"rows purged:                {sum(doomed_before.values()):,}  ({doomed_before})")
    print(f"purge_tenant:               {purge_time['seconds']:.2f} s  (batches of {BATCH:,} rows)")
    print(f"raw DELETE (one tx):        {raw:.2f} s")
    print(f"ratio purge/raw:            {purge_time['seconds'] / raw:.2f}x   (goal <= 1.30x)")
    print(f"purge start -> keys gone:   {to_shred_ms:.1f} ms   (goal < 100 ms)")
    print(f"rows of the tenant left:    {left}")
    print(f"neighbour untouched:        {other_after == other_before}  ({other_after})")
    shutil.rmtree(workdir, ignore_errors=True)
    if left or other_after != other_before:
        sys.exit(1)


if __name__ == "__main__":
    main()
