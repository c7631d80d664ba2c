"""How every hot path grows with the number of tenants (PostgreSQL only).

    make bench BENCH=scale
    DATABASE_URL=postgresql+psycopg://... REDIS_URL=redis://... .venv/bin/python bench/scale.py

One database grows to each tenant count of BENCH_SCALE_TENANTS (default 100,1000,10000), and
after each step the same measurements run on it. Every tenant has a file in a tenants directory
(as `tenants apply` would have created it), an admin and two members with five usage events each;
one tenant, the same at every step, has BENCH_SCALE_BIG_USERS users (default 10,000) with ten
events each, and the per-tenant hot paths run against it: so what changes between the columns
is only how many other tenants there are. Seeding is bulk (pre-sealed rows, a hundred tenants a
transaction), through the same tables and triggers as the application's writes.

Measured at each step: SCIM create and `userName eq` filter, a users list page and an exact
e-mail look-up (in-process WSGI, p50/p99); usage ingest (a batch of ten events, p50/p99, and the
first one on a new connection); a DSR look-up across all tenants; creating a tenant from one new
tenant file (`tenants.service.apply`); purging one small tenant; removing a user of the big tenant
(its events cascade); the scheduler sweep (the daily one, which owes every active tenant its usage
retention, and the others; jobs handed to RQ with REDIS_URL) and the day's usage retention jobs, run
one after another as a worker would; `tenants plan` over all files;
and what the schema costs to operate: relations in the catalog, database size, `pg_dump
--schema-only`, `ANALYZE usage_events` (both take a lock per partition in one transaction).
The last columns give the ratio of the largest step to the smallest, per request and, for the
paths that visit every tenant, per tenant.

Environment: BENCH_SCALE_TENANTS, BENCH_SCALE_BIG_USERS, BENCH_SCALE_REQUESTS (per-request paths,
default 100), BENCH_SCALE_KEEP=1 keeps the database (named in the output) for a look afterwards.
"""
from __future__ import annotations

import hmac
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import admin_connection, backend, make_app, seed_tenant, timer  # noqa: E402
from bench.support.common import percentile  # noqa: E402
from privacy_saas import clock  # noqa: E402

SKIP = 77
STEPS = [int(n) for n in os.environ.get("BENCH_SCALE_TENANTS", "100,1000,10000").split(",")]
BIG_USERS = int(os.environ.get("BENCH_SCALE_BIG_USERS", 10_000))
BIG_EVENTS_PER_USER = 10
REQUESTS = int(os.environ.get("BENCH_SCALE_REQUESTS", 100))
#: Each small tenant: an admin (named in its file) and two members, five usage events each.
SMALL_USERS, SMALL_EVENTS_PER_USER = 3, 5
#: Tenants created per seeding transaction: each partition holds ~8 locks until commit.
SEED_GROUP = 100
#: Small tenants seeded `ended` (contract over, retention past) at each step, for the purge figure.
PURGES = 5
TENANT_CREATES = 10
DSR_LOOKUPS = 10
TOTAL_RUNS = 3
CONTRACT_END = date(2020, 6, 30)
USAGE_KINDS = ("session", "page_view", "report_download", "email_delivered", "email_opened")


class Step:
    """The figures of one tenant count, by name: (kind, milliseconds or text)."""

    def __init__(self, tenants: int):
        self.tenants = tenants
        self.figures: dict[str, tuple[str, object]] = {}

    def latencies(self, name: str, seconds: list[float], *, every_tenant: bool = False) -> None:
        """Per-request times (p50/p99); `every_tenant` for a request that visits every tenant."""
        self.figures[name] = ("every" if every_tenant else "latency", [s * 1000 for s in seconds])

    def totals(self, name: str, seconds: list[float], *, every_tenant: bool = True) -> None:
        """Whole runs (min/median), by default of something that visits every tenant."""
        self.figures[name] = ("total" if every_tenant else "runs", [s * 1000 for s in seconds])

    def note(self, name: str, text: str) -> None:
        self.figures[name] = ("note", text)


# --- seeding -----------------------------------------------------------------------------------

def tenant_file(directory: Path, slug: str, *, admin: str | None, contract_end: date | None = None) -> Path:
    path = directory / f"{slug}.toml"
    end = f"end = {contract_end.isoformat()}\n" if contract_end else ""
    admins = f'\n[[admins]]\nemail = "{admin}"\nname = "Admin of {slug}"\n' if admin else ""
    path.write_text(f'slug = "{slug}"\nname = "{slug.title()}"\nregion = "eu"\n\n'
                    f'[contract]\nstart = 2020-01-01\n{end}end_action = "delete"\n{admins}', encoding="utf-8")
    return path


def seed_small_tenants(db, files: Path, first: int, count: int, *, ended: bool = False) -> list[uuid.UUID]:
    """Create `count` small tenants (files, keys, users, usage) in groups; return their ids."""
    from privacy_saas.crypto.envelope import build_aad, encode_value
    from privacy_saas.crypto.keyring import keyring, tenant_scope
    from privacy_saas.crypto.service import create_tenant_keys
    from privacy_saas.db import new_id
    from privacy_saas.processor.tenants.models import Tenant
    from privacy_saas.processor.usage.models import UsageEvent
    from privacy_saas.processor.users.models import RegisteredUser

    ring, now, ids = keyring(), clock.now(), []
    for start in range(first, first + count, SEED_GROUP):
        tenants = []
        for n in range(start, min(start + SEED_GROUP, first + count)):
            slug = f"{'ended' if ended else 't'}{n:05d}"
            tenant = Tenant(slug=slug, name=slug.title(), region="eu", contract_start=date(2020, 1, 1),
                            contract_end=CONTRACT_END if ended else None, end_action="delete", status="active")
            tenants.append(tenant)
            tenant_file(files, slug, admin=f"admin@{slug}.example", contract_end=tenant.contract_end)
        db.session.add_all(tenants)
        db.session.flush()
        users, events = [], []
        for tenant in tenants:
            create_tenant_keys(tenant)
            if ended:
                tenant.end_contract(CONTRACT_END)
            scope = tenant_scope(tenant.id)
            cipher = ring.writer(scope)
            for u in range(SMALL_USERS):
                uid = new_id()
                email = f"admin@{tenant.slug}.example" if u == 0 else f"member{u}@{tenant.slug}.example"
                users.append({
                    "tenant_id": tenant.id, "id": uid, "email_bidx": (bidx := ring.email_index(scope, email)),
                    "email_ct": cipher.seal(encode_value(email, "str"),
                                            build_aad("registered_users", "email", scope, str(uid))),
                    "user_name_bidx": bidx,  # userName is the e-mail (issue 16)
                    "user_name_ct": cipher.seal(encode_value(email, "str"),
                                                build_aad("registered_users", "user_name", scope, str(uid))),
                    "role": "admin" if u == 0 else "member", "status": "active", "processing_restricted": False,
                    "created_at": now, "updated_at": now,
                })
                for e in range(SMALL_EVENTS_PER_USER):
                    eid = new_id()
                    events.append({
                        "tenant_id": tenant.id, "id": eid, "user_id": uid, "kind": USAGE_KINDS[e],
                        "occurred_at": now - timedelta(hours=e),
                        "detail_ct": cipher.seal(encode_value({"path": f"/app/{e}"}, "json"),
                                                 build_aad("usage_events", "detail", scope, str(eid))),
                    })
            ids.append(tenant.id)
        db.session.execute(sa.insert(RegisteredUser), users)
        db.session.execute(sa.insert(UsageEvent), events)
        db.session.commit()
    return ids


def vacuum_analyze(db) -> None:
    """Statistics and visibility maps, as autovacuum would have made them on a live database.

    Table by table, as autovacuum works: ANALYZE of the partitioned parent locks every partition
    at once (measured separately, in measure_operations).
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        tables = conn.exec_driver_sql("SELECT oid::regclass::text FROM pg_class WHERE relkind = 'r' "
                                      "AND relnamespace = 'public'::regnamespace").scalars().all()
        conn.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(tables))


# --- measurements ------------------------------------------------------------------------------

def timed_requests(client, requests) -> list[float]:
    """Send each (method, url, kwargs, expected status); return the seconds each took."""
    out = []
    for method, url, kwargs, expected in requests:
        started = time.perf_counter()
        response = client.open(url, method=method, **kwargs)
        out.append(time.perf_counter() - started)
        if response.status_code != expected:
            raise SystemExit(f"{method} {url} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return out


def measure_big_tenant(step: Step, app, big: dict, rng: random.Random) -> None:
    """The per-tenant hot paths, all on the big tenant."""
    client = app.test_client()
    api = {"headers": {"Authorization": f"Bearer {big['token']}"}}
    scim = {"headers": {"Authorization": f"Bearer {big['token']}", "Content-Type": "application/scim+json"}}
    run = uuid.uuid4().hex[:6]
    created = [f"scim-{run}-{n}@big.example" for n in range(REQUESTS)]
    warm = [("GET", "/api/v1/users?page_size=50", api, 200)] * 10
    timed_requests(client, warm)
    step.latencies("SCIM create", timed_requests(client, [
        ("POST", "/scim/v2/Users", {**scim, "json": {"userName": email, "externalId": email,
                                                     "displayName": "Scim User"}}, 201) for email in created]))
    step.latencies("SCIM filter userName eq", timed_requests(client, [
        ("GET", f'/scim/v2/Users?filter=userName eq "{rng.choice(created)}"', scim, 200) for _ in range(REQUESTS)]))
    pages = max(BIG_USERS // 50, 1)
    step.latencies("users list, random page", timed_requests(client, [
        ("GET", f"/api/v1/users?page={rng.randint(1, pages)}&page_size=50", api, 200) for _ in range(REQUESTS)]))
    step.latencies("users exact e-mail", timed_requests(client, [
        ("GET", f"/api/v1/users?email=user{rng.randrange(BIG_USERS)}@big.example", api, 200)
        for _ in range(REQUESTS)]))
    batch = lambda: {"events": [{"user_id": str(rng.choice(big["users"])), "kind": "page_view",  # noqa: E731
                                 "occurred_at": clock.now().isoformat(), "detail": {"path": "/x"}} for _ in range(10)]}
    step.latencies("usage ingest, 10 events", timed_requests(client, [
        ("POST", "/api/v1/usage-events", {**api, "json": batch()}, 201) for _ in range(REQUESTS)]))
    doomed = [big["users"].pop() for _ in range(min(REQUESTS, len(big["users"]) - 1))]
    step.latencies("user removal (+10 events)", timed_requests(client, [
        ("DELETE", f"/api/v1/users/{user_id}", api, 204) for user_id in doomed]))


def measure_first_ingest(step: Step, app, big: dict, rng: random.Random) -> None:
    """A usage batch on a new database connection: the backend builds the partition map first."""
    from privacy_saas.extensions import db

    seconds = []
    for _ in range(10):
        with app.app_context():
            db.engine.dispose()  # the next request opens a new connection, so a new backend
        client = app.test_client()
        body = {"events": [{"user_id": str(rng.choice(big["users"])), "kind": "session",
                            "occurred_at": clock.now().isoformat()}]}
        seconds += timed_requests(client, [("POST", "/api/v1/usage-events",
                                             {"headers": {"Authorization": f"Bearer {big['token']}"}, "json": body},
                                             201)])
    step.latencies("usage ingest, new connection", seconds)


def measure_dsr(step: Step, app) -> None:
    from privacy_saas.extensions import db
    from privacy_saas.rights import service

    seconds = []
    with app.app_context():
        for n in range(DSR_LOOKUPS):
            with timer() as took:
                matches = service.lookup(f"user{n}@big.example")
            assert len(matches.users) == 1, matches
            seconds.append(took["seconds"])
        db.session.remove()
    step.latencies("DSR look-up, all tenants", seconds, every_tenant=True)


def measure_tenant_create(step: Step, app, files: Path) -> None:
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants import service
    from privacy_saas.processor.tenants.files import load_file

    seconds = []
    with app.app_context():
        for _ in range(TENANT_CREATES):
            slug = f"new-{uuid.uuid4().hex[:10]}"
            spec, errors = load_file(tenant_file(files, slug, admin=f"admin@{slug}.example"))
            assert not errors, errors
            with timer() as took:
                changes = service.apply([spec])
                db.session.commit()
            assert [c.action for c in changes if c.slug == slug] == ["create"], changes
            seconds.append(took["seconds"])
        db.session.remove()
    step.latencies("tenant create (apply 1 file)", seconds)


def measure_purge(step: Step, app, doomed: list) -> None:
    from privacy_saas.extensions import db
    from privacy_saas.lifecycle import purge

    seconds = []
    with app.app_context():
        for tenant_id in doomed:
            with timer() as took:
                outcome = purge.purge_tenant(tenant_id)
            assert outcome == "purged", outcome
            seconds.append(took["seconds"])
        db.session.remove()
    step.latencies(f"purge, small tenant ({SMALL_USERS * (1 + SMALL_EVENTS_PER_USER)} rows)", seconds)


def measure_sweep(step: Step, app) -> None:
    """The scheduler's sweep: the one a day that owes every active tenant its usage retention, the others."""
    from privacy_saas.extensions import db
    from privacy_saas.jobs.models import Job
    from privacy_saas.jobs.queue import QUEUE_NAME, redis_connection
    from privacy_saas.jobs.scheduler import USAGE_RETENTION_JOB, sweep
    from privacy_saas.processor.usage.tasks import enforce_usage_retention

    def forget_jobs():
        # Nobody works the queue here: the owed rows and RQ's copies go, so every step starts alike.
        db.session.execute(sa.delete(Job))
        db.session.commit()
        if (conn := redis_connection(app)) is not None:
            from rq import Queue

            Queue(QUEUE_NAME, connection=conn).empty()

    with app.app_context():
        forget_jobs()
        with timer() as daily:
            report = sweep()
        owed = db.session.scalars(sa.select(Job.tenant_id).where(Job.name == USAGE_RETENTION_JOB)).all()
        assert report["usage_retention"] == len(owed) > 0, report
        others = []
        for _ in range(TOTAL_RUNS):
            with timer() as took:
                sweep()
            others.append(took["seconds"])
        forget_jobs()
        db.session.remove()
        step.totals("scheduler sweep, daily (owes retention)", [daily["seconds"]])
        step.totals("scheduler sweep, the other 287 a day", others)
        with timer() as took:
            for tenant_id in owed:  # one after another, as one worker would run them
                enforce_usage_retention(str(tenant_id))
                db.session.remove()
        step.totals("usage retention jobs of a day", [took["seconds"]])


def measure_plan(step: Step, app, files: Path) -> None:
    runner = app.test_cli_runner()
    seconds = []
    for _ in range(TOTAL_RUNS):
        with timer() as took:
            result = runner.invoke(args=["tenants", "plan", str(files)])
        assert result.exit_code == 0, result.output[-2000:]
        seconds.append(took["seconds"])
    step.totals("tenants plan (all files)", seconds)


def measure_control(step: Step, when: str) -> None:
    """The same CPU work at every step, with no database: how loaded the (shared) machine was meanwhile."""
    key, seconds = b"k" * 32, []
    for _ in range(TOTAL_RUNS):
        with timer() as took:
            for n in range(20_000):
                hmac.digest(key, str(n).encode(), "sha256")
        seconds.append(took["seconds"])
    step.totals(f"control {when}: 20,000 HMACs, no db", seconds, every_tenant=False)
    step.note(f"load average {when} (1 min)", f"{os.getloadavg()[0]:.1f}")


def measure_operations(step: Step, app, url: str) -> None:
    """What running the schema costs: catalog, size, and the two tools that lock every partition at once."""
    from privacy_saas.extensions import db

    with app.app_context():
        relations, size = db.session.execute(sa.text(
            "SELECT (SELECT count(*) FROM pg_class), pg_database_size(current_database())")).one()
        db.session.remove()
    step.note("catalog relations / database size", f"{relations:,} / {size / 2**20:,.0f} MB")
    dump = [os.path.join(os.environ.get("PG_BIN", "/usr/bin"), "pg_dump"), "--schema-only", "-f", os.devnull,
            "-d", sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)]
    started = time.perf_counter()
    result = subprocess.run(dump, capture_output=True, text=True, timeout=1800)
    step.note("pg_dump --schema-only", f"{time.perf_counter() - started:.1f} s" if result.returncode == 0
              else "FAILS: " + (result.stderr.strip().splitlines() or ["?"])[-1][:70])
    with app.app_context():
        started = time.perf_counter()
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE usage_events")
            step.note("ANALYZE usage_events", f"{time.perf_counter() - started:.1f} s")
        except sa.exc.DBAPIError as error:
            step.note("ANALYZE usage_events", "FAILS: " + str(error.orig).splitlines()[0][:70])
        db.session.remove()


# --- report ------------------------------------------------------------------------------------

def cell(kind: str, values) -> str:
    if kind == "note":
        return values
    if kind in ("latency", "every"):
        return f"{percentile(values, 50):.1f} / {percentile(values, 99):.1f}"
    return f"{min(values):,.0f} / {statistics.median(values):,.0f}" if len(values) > 1 else f"{values[0]:,.0f}"


def ratio(kind: str, first, last, first_n: int, last_n: int) -> str:
    if kind == "note":
        return ""
    growth = (percentile(last, 50) / percentile(first, 50)) if kind in ("latency", "every") else min(last) / min(first)
    if kind in ("latency", "runs"):
        return f"{growth:.2f}x"
    return f"{growth:.2f}x ({growth * first_n / last_n:.2f}x per tenant)"


def report(steps: list[Step], seeding: dict, load: str) -> None:
    names = list(steps[0].figures)
    width = max(len(n) for n in names) + 2
    print(f"\n{'tenants':<{width}}" + "".join(f"{s.tenants:>20,}" for s in steps)
          + f"   growth {steps[0].tenants:,} -> {steps[-1].tenants:,}")
    for name in names:
        kind = steps[0].figures[name][0]
        values = [s.figures[name][1] for s in steps]
        print(f"{name:<{width}}" + "".join(f"{cell(kind, v):>20}" for v in values)
              + "   " + ratio(kind, values[0], values[-1], steps[0].tenants, steps[-1].tenants))
    print(f"\nms; per-request paths p50 / p99 ({REQUESTS} requests; DSR look-ups {DSR_LOOKUPS}, tenant creations "
          f"{TENANT_CREATES}, purges {PURGES}, new connections 10); sweeps and plan: min / median of "
          f"{TOTAL_RUNS} runs (the daily sweep and the day's retention jobs: one); growth compares p50 or min")
    print("seeding: " + ", ".join(f"{n:,} tenants in {s:.0f} s" for n, s in seeding.items()))
    if load:
        print(f"load: {load}")


def main() -> None:
    if backend() != "postgres":
        print("scale: PostgreSQL only (it measures partitions, plans and locks of PostgreSQL)")
        sys.exit(SKIP)
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant
    from privacy_saas.processor.users.tokens import create_token

    base_url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"bench_scale_{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    with admin_connection(base_url) as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    workdir = tempfile.mkdtemp(prefix="privacy-saas-bench-scale-")
    files = Path(workdir) / "tenants"
    files.mkdir()
    rng = random.Random(21)
    load_before = os.getloadavg()
    app = None
    try:
        app = make_app(url, workdir)
        # Jobs go to RQ as in production (handing them over is part of what the sweep costs); nobody runs them.
        app.config.update(REDIS_URL=os.environ.get("REDIS_URL"), JOBS_EAGER=False)
        with app.app_context():
            print(f"[postgres] database {name}: the big tenant ({BIG_USERS:,} users) ...", flush=True)
            big_id = seed_tenant("big", BIG_USERS, BIG_EVENTS_PER_USER)
            tenant_file(files, "big", admin=None)
            big = {"token": create_token(db.session.get(Tenant, big_id), "bench")[1],
                   "users": list(db.session.scalars(sa.text(
                       "SELECT id FROM registered_users WHERE tenant_id = :t ORDER BY id"), {"t": big_id}))}
            db.session.commit()
            db.session.remove()
        steps, seeding, have = [], {}, 1
        for target in STEPS:
            with app.app_context(), timer() as took:
                small = target - have - PURGES
                if small < 0:
                    raise SystemExit(f"BENCH_SCALE_TENANTS: {target} is too few after {have} tenants")
                print(f"[postgres] growing to {target:,} tenants ...", flush=True)
                seed_small_tenants(db, files, have, small)
                doomed = seed_small_tenants(db, files, have + small, PURGES, ended=True)
                have = target
                vacuum_analyze(db)
                db.session.remove()
            seeding[target] = took["seconds"]
            print(f"  seeded in {took['seconds']:.0f} s; measuring ...", flush=True)
            step = Step(target)
            measure_control(step, "before")
            measure_big_tenant(step, app, big, rng)
            measure_first_ingest(step, app, big, rng)
            measure_dsr(step, app)
            measure_tenant_create(step, app, files)
            have += TENANT_CREATES
            measure_purge(step, app, doomed)
            measure_sweep(step, app)
            measure_plan(step, app, files)
            measure_operations(step, app, url)
            measure_control(step, "after")
            steps.append(step)
            report(steps, seeding, "")
        load_after = os.getloadavg()
        report(steps, seeding, f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end "
                               f"({os.cpu_count()} CPUs)")
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        if os.environ.get("BENCH_SCALE_KEEP"):
            print(f"kept database {name}")
        else:
            with admin_connection(base_url) as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
