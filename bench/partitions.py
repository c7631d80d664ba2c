"""What partitioning usage_events costs (PostgreSQL only): statement times, plain table vs hash partitions.

    make bench BENCH=partitions
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/partitions.py

Migration 0016b spreads usage_events over 32 hash partitions by tenant (0011 had given each tenant a
partition of its own; bench/scale.py measured why that went). This measures the price of the
partitioning on each statement, on a fresh database per case: usage_events partitioned (head) or
plain (the schema of migration 0010), beside 0 or BENCH_PARTITIONS_TENANTS other tenants, with
PostgreSQL's plan cache in its default mode (`auto`: a prepared statement may switch to a generic
plan after five runs, and a generic plan locks every partition when it starts) or
`force_custom_plan`. Each statement is its own transaction, as in a request: deleting a registered
user (its usage events go by ON DELETE CASCADE), the same with `SET LOCAL plan_cache_mode =
force_custom_plan` first, inserting one usage event, counting a user's events. Also the time to
create a tenant.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import admin_connection, backend, make_app, seed_tenant  # noqa: E402

SKIP = 77
OTHERS = int(os.environ.get("BENCH_PARTITIONS_TENANTS", 1_000))
USERS, EVENTS_PER_USER = 1_000, 10
STATEMENTS = 400
CASES = [  # (partitioned, other tenants, plan_cache_mode)
    (False, 0, "auto"), (True, 0, "auto"),
    (False, OTHERS, "auto"), (True, OTHERS, "auto"),
    (False, OTHERS, "force_custom_plan"), (True, OTHERS, "force_custom_plan"),
]


def add_tenants(db, count: int) -> float:
    """Create `count` tenants; return the mean ms per tenant (each its own transaction)."""
    from privacy_saas.processor.tenants.models import Tenant

    times = []
    for n in range(count):
        started = time.perf_counter()
        db.session.add(Tenant(slug=f"other-{n}", name="Other", region="eu", contract_start=date(2020, 1, 1),
                              end_action="delete", status="active"))
        db.session.commit()
        times.append(time.perf_counter() - started)
    return statistics.mean(times) * 1000 if times else float("nan")


def per_statement_ms(conn, statement: str, params, *, first: str | None = None) -> float:
    started = time.perf_counter()
    for values in params:
        if first:
            conn.exec_driver_sql(first)
        conn.execute(sa.text(statement), values)
        conn.commit()
    return (time.perf_counter() - started) / len(params) * 1000


def run_case(base_url: str, partitioned: bool, others: int, mode: str) -> dict:
    from flask_migrate import downgrade

    from privacy_saas.extensions import db

    name = f"bench_partitions_{uuid.uuid4().hex[:8]}"
    with admin_connection(base_url) as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    workdir = tempfile.mkdtemp(prefix="privacy-saas-bench-partitions-")
    try:
        app = make_app(sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False), workdir)
        with app.app_context():
            if not partitioned:
                downgrade(revision="0010")
            tenant = seed_tenant("measured", USERS, EVENTS_PER_USER)
            create_ms = add_tenants(db, others)
            users = db.session.scalars(sa.text("SELECT id FROM registered_users WHERE tenant_id = :t ORDER BY id"),
                                       {"t": tenant}).all()
            db.session.remove()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
            with db.engine.connect() as conn:
                conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
                conn.commit()
                kept = users[-1]
                delete = "DELETE FROM registered_users WHERE tenant_id = :t AND id = :u"
                result = {
                    "delete user": per_statement_ms(conn, delete, [{"t": tenant, "u": u} for u in users[:STATEMENTS]]),
                    # Custom plans for that transaction only (what the app did with a partition per tenant).
                    "delete user (custom)": per_statement_ms(
                        conn, delete, [{"t": tenant, "u": u} for u in users[STATEMENTS:2 * STATEMENTS]],
                        first="SET LOCAL plan_cache_mode = force_custom_plan"),
                    "insert event": per_statement_ms(
                        conn, "INSERT INTO usage_events (tenant_id, id, user_id, kind, occurred_at) "
                              "VALUES (:t, :i, :u, 'session', now())",
                        [{"t": tenant, "i": uuid.uuid4(), "u": kept} for _ in range(STATEMENTS)]),
                    "count events": per_statement_ms(
                        conn, "SELECT count(*) FROM usage_events WHERE tenant_id = :t AND user_id = :u",
                        [{"t": tenant, "u": kept}] * STATEMENTS),
                    "create tenant": create_ms,
                }
            db.session.remove()
            db.engine.dispose()
        return result
    finally:
        with admin_connection(base_url) as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    if backend() != "postgres":
        print("partitions: PostgreSQL only (SQLite has no partitions)")
        sys.exit(SKIP)
    base_url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    results = {}
    for case in CASES:
        partitioned, others, mode = case
        print(f"[postgres] {'hash-partitioned' if partitioned else 'plain'}, {others:,} other tenants, "
              f"plan_cache_mode={mode} ...", flush=True)
        results[case] = run_case(base_url, *case)
    operations = list(next(iter(results.values())))
    print(f"\nms per statement (its own transaction); {STATEMENTS} of each; tenant of "
          f"{USERS} users x {EVENTS_PER_USER} events")
    print(f"{'usage_events':<13}{'others':>8}  {'plan cache':<18}" + "".join(f"{op:>15}" for op in operations))
    for (partitioned, others, mode), figures in results.items():
        print(f"{'partitioned' if partitioned else 'plain':<13}{others:>8,}  {mode:<18}"
              + "".join(f"{figures[op]:>15.2f}" for op in operations))
    print("\npartitioned / plain, same tenants and plan cache:")
    for others, mode in sorted({(o, m) for _, o, m in results}):
        if (True, others, mode) in results and (False, others, mode) in results:
            ratios = "  ".join(f"{op} {results[(True, others, mode)][op] / results[(False, others, mode)][op]:.2f}x"
                               for op in operations if op != "create tenant" or others)
            print(f"  {others:>6,} others, {mode:<18} {ratios}")


if __name__ == "__main__":
    main()
