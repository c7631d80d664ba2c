"""Purge benchmark: privacy_saas's purge of a 1,000,000-row tenant vs a raw DELETE on an identical copy.

    make bench BENCH=purge            (both databases)
    .venv/bin/python bench/purge.py   (SQLite; DATABASE_URL=postgresql+psycopg://... for PostgreSQL)

Goals: purge at or below the raw delete (issue 21; <= 1.3x before it); purge start -> keys destroyed
< 100 ms; the other tenant untouched.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from datetime import date
from typing import NamedTuple

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import admin_connection, backend, make_app, open_app, seed_tenant, timer  # noqa: E402
from privacy_saas.lifecycle.purge import DEFAULT_BATCH  # noqa: E402

USERS = int(os.environ.get("BENCH_PURGE_USERS", 10_000))
EVENTS_PER_USER = int(os.environ.get("BENCH_PURGE_EVENTS_PER_USER", 99))  # 10k users + 990k events = 1M rows
OTHER_USERS, OTHER_EVENTS = 1_000, 50
BATCH = int(os.environ.get("BENCH_PURGE_BATCH", 0)) or DEFAULT_BATCH


def counts(db, tenant_id) -> dict:
    from privacy_saas.lifecycle.purge import purge_tables

    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id))
            for t in purge_tables()}


class Copy(NamedTuple):
    """A copy of the installation's state: the database and the local key store beside it."""

    url: str
    keystore: str


def copy_database(app, workdir, name: str) -> Copy:
    """Return a fresh identical copy, called `name`, of the app's database and of its key store.

    The key store is the other half of the state: a purge destroys its tenant's key-encryption keys
    there, so a copy of the database beside the original store would find its tenant already
    shredded by the previous side (and the purge refuses to re-create a destroyed scope).
    """
    from privacy_saas.extensions import db

    if app.config["KEYSTORE"] != "local":
        raise SystemExit("the purge benchmarks copy the local key store: run them with PRIVACY_SAAS_KEYSTORE=local")
    keystore = os.path.join(workdir, f"{name}.keystore.sqlite3")
    with sqlite3.connect(app.config["KEYSTORE_PATH"]) as source, sqlite3.connect(keystore) as copy:
        source.backup(copy)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.engine.dispose()
            target = os.path.join(workdir, f"{name}.sqlite3")
            with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(target) as copy:
                source.backup(copy)
            return Copy(f"sqlite:///{target}", keystore)
        source = db.engine.url.database
        db.engine.dispose()
        with admin_connection(db.engine.url) as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{source}_{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{source}_{name}" TEMPLATE "{source}"')
        return Copy(db.engine.url.set(database=f"{source}_{name}").render_as_string(hide_password=False), keystore)


def drop_copy(copy: Copy) -> None:
    os.remove(copy.keystore)
    if copy.url.startswith("sqlite"):
        os.remove(copy.url.removeprefix("sqlite:///"))
        return
    with admin_connection(copy.url) as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{sa.engine.make_url(copy.url).database}"')


def settle(url: str) -> None:
    """Write out dirty buffers, so that a side does not pay for the writes the previous side left behind."""
    if url.startswith("postgresql"):
        with admin_connection(url) as conn:
            conn.exec_driver_sql("CHECKPOINT")


def raw_delete(copy: Copy, workdir: str, tenant_id, tables: list[str], expected: int) -> float:
    """Time one DELETE per table in one transaction, on an engine configured exactly as the app's."""
    from privacy_saas.extensions import db

    app = open_app(copy.url, workdir, KEYSTORE_PATH=copy.keystore)
    with app.app_context():
        value = tenant_id.hex if copy.url.startswith("sqlite") else tenant_id
        with timer() as t, db.engine.begin() as conn:
            deleted = sum(conn.execute(sa.text(f'DELETE FROM "{table}" WHERE tenant_id = :t'), {"t": value}).rowcount
                          for table in tables)
        db.engine.dispose()
    assert deleted == expected, (deleted, expected)
    return t["seconds"]


def purge_copy(copy: Copy, workdir: str, doomed, other, other_before: dict) -> dict:
    """Time purge_tenant on a copy; return its time, keys-destroyed delay, rows left, neighbour intact."""
    from privacy_saas.extensions import db
    from privacy_saas.lifecycle import purge
    from privacy_saas.lifecycle.models import PurgeRun

    app = open_app(copy.url, workdir, KEYSTORE_PATH=copy.keystore)
    with app.app_context():
        with timer() as t:
            outcome = purge.purge_tenant(doomed, batch=BATCH)
        assert outcome == "purged", outcome
        run = db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == doomed))
        result = {"seconds": t["seconds"],
                  "to_shred_ms": (run.keys_destroyed_at - run.started_at).total_seconds() * 1000,
                  "left": sum(counts(db, doomed).values()),
                  "neighbour_intact": counts(db, other) == other_before}
        db.session.remove()
        db.engine.dispose()
    return result


def main() -> None:
    from privacy_saas.extensions import db
    from privacy_saas.lifecycle import purge

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
    rows = sum(doomed_before.values())

    # Each side runs on its own fresh copy, in both orders, after a checkpoint: neither side gets a cache
    # the other warmed or pays for the dirty pages the other left.
    purges, raws = [], []
    for n, side in enumerate(("purge", "raw", "raw", "purge")):
        copy = copy_database(app, workdir, f"{side}{n}")
        settle(copy.url)
        if side == "purge":
            purges.append(purge_copy(copy, workdir, doomed, other, other_before))
        else:
            raws.append(raw_delete(copy, workdir, doomed, tables, rows))
        drop_copy(copy)
    purge_s = sum(p["seconds"] for p in purges) / len(purges)
    raw_s = sum(raws) / len(raws)
    left = sum(p["left"] for p in purges)
    intact = all(p["neighbour_intact"] for p in purges)

    print(f"rows purged:                {rows:,}  ({doomed_before})")
    print(f"purge_tenant:               {purge_s:.2f} s  (run 1st, 4th: {purges[0]['seconds']:.2f}, "
          f"{purges[1]['seconds']:.2f}; batches of {BATCH:,} rows)")
    print(f"raw DELETE (one tx):        {raw_s:.2f} s  (run 2nd, 3rd: {raws[0]:.2f}, {raws[1]:.2f})")
    print(f"ratio purge/raw:            {purge_s / raw_s:.2f}x   (goal <= 1.00x; 1.30x before issue 21)")
    print(f"purge start -> keys gone:   {max(p['to_shred_ms'] for p in purges):.1f} ms   (goal < 100 ms)")
    print(f"rows of the tenant left:    {left}")
    print(f"neighbour untouched:        {intact}  ({other_before})")
    shutil.rmtree(workdir, ignore_errors=True)
    if left or not intact:
        sys.exit(1)


if __name__ == "__main__":
    main()
