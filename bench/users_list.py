"""GET /api/v1/users on a tenant with 100,000 users: page and exact e-mail lookup, p50/p99.

Run from the repository root: python -m bench.users_list [--users N] [--requests N]
DATABASE_URL=postgresql+psycopg://... selects PostgreSQL; the default is a temp SQLite file.
Requests go through the full WSGI stack in-process (auth, tenant scope, decryption, JSON).
Goal: p99 < 50 ms for both.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import random
import time

import sqlalchemy as sa

from bench.support.common import bench_env, database_label, make_app, make_tenant, shred_tenant, summary

GOAL_P99_MS = 50.0
BATCH = 5000


def seed(app, tenant_id, count: int) -> float:
    """Bulk-insert `count` users (sealed by the model's own encrypted attributes); return seconds."""
    from privacy_saas import clock
    from privacy_saas.crypto.keyring import keyring, tenant_scope
    from privacy_saas.extensions import db
    from privacy_saas.processor.users.models import RegisteredUser

    table = RegisteredUser.__table__
    columns = [c.key for c in table.columns]
    started = time.perf_counter()
    with app.app_context():
        scope = tenant_scope(tenant_id)
        for first in range(0, count, BATCH):
            rows = []
            for n in range(first, min(first + BATCH, count)):
                email = f"user{n}@example.com"
                bidx = keyring().email_index(scope, email)
                user = RegisteredUser(tenant_id=tenant_id, email=email, display_name=f"User {n}", email_bidx=bidx,
                                      user_name=email, user_name_bidx=bidx,
                                      role="admin" if n % 1000 == 0 else "member", status="active",
                                      version=1, failed_logins=0)
                user.created_at = user.updated_at = clock.now()
                # Unset columns are left out, so their column defaults apply (same for every row).
                rows.append({c: value for c in columns if (value := getattr(user, c)) is not None})
            db.session.execute(sa.insert(table), rows)
            db.session.commit()
            print(f"  seeded {min(first + BATCH, count):>7,} users", end="\r", flush=True)
        db.session.remove()
    print()
    return time.perf_counter() - started


def analyse(app) -> None:
    """Refresh planner statistics and the visibility map, as autovacuum would after a bulk load."""
    from privacy_saas.extensions import db

    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("VACUUM ANALYZE registered_users")
        db.session.remove()


def timed(client, url: str, headers: dict) -> float:
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario")
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args()

    bench_env()
    app = make_app()
    tenant_id, token = make_tenant(app, "bench-list")
    print(f"database: {database_label()}; seeding {args.users:,} users in one tenant ...")
    seconds = seed(app, tenant_id, args.users)
    print(f"seeded in {seconds:.1f} s ({args.users / seconds:,.0f} users/s, bulk insert)")
    analyse(app)

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    pages = max(args.users // args.page_size, 1)
    rng = random.Random(7)
    for _ in range(20):  # warm caches: keys, statements, connections
        timed(client, f"/api/v1/users?page_size={args.page_size}", headers)
        timed(client, f"/api/v1/users?email=user{rng.randrange(args.users)}@example.com", headers)

    scenarios = {
        "first page": lambda: f"/api/v1/users?page=1&page_size={args.page_size}",
        "random page": lambda: f"/api/v1/users?page={rng.randint(1, pages)}&page_size={args.page_size}",
        "exact e-mail": lambda: f"/api/v1/users?email=user{rng.randrange(args.users)}@example.com",
        "filter role=admin": lambda: f"/api/v1/users?role=admin&page_size={args.page_size}",
    }
    print(f"\n{args.requests} requests each, page_size={args.page_size}, {args.users:,} users")
    print(f"{'scenario':<20} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}   p99 vs goal {GOAL_P99_MS:.0f} ms")
    for name, make_url in scenarios.items():
        figures = summary([timed(client, make_url(), headers) for _ in range(args.requests)])
        verdict = "OK" if figures["p99"] < GOAL_P99_MS else "MISSED"
        print(f"{name:<20} {figures['p50']:>8.2f} {figures['p99']:>8.2f} {figures['mean']:>8.2f}   "
              f"{figures['p99'] / GOAL_P99_MS:>5.2f}x of goal  {verdict}")

    from privacy_saas.extensions import db
    from privacy_saas.processor.users.models import RegisteredUser

    with app.app_context():  # leave a shared PostgreSQL as it was
        db.session.execute(sa.delete(RegisteredUser).where(RegisteredUser.tenant_id == tenant_id))
        db.session.commit()
    shred_tenant(app, tenant_id)


if __name__ == "__main__":
    main()
