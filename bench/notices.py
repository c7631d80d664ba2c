"""What telling every tenant costs: publishing a sub-processor change, recording and notifying a breach, the sweep.

    make bench BENCH=notices
    .venv/bin/python bench/notices.py [--tenants 100,1000] [--runs 3]

For each size, on a fresh database (PostgreSQL: a database of its own, dropped afterwards): N tenants,
each with keys, one admin and one privacy contact. Then, `--runs` times each:
  publish   propose + publish a change to every tenant: N notices, N + 2 audit entries, commit
            (its mail is queued for after the commit, not waited for here);
  deliver   the mail jobs of those N notices, run one after the other (2 mails each, to the outbox);
  breach    record a processor breach over every tenant and notify them all at once (N deadlines,
            N notices, 2N + 1 audit entries, commit; delivery not included);
  sweep     the scheduler's notices step with those changes pending and nothing due: the price of
            every five-minute sweep.
Figures are min and median over the runs, in seconds, and per tenant in milliseconds.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import admin_connection, backend, make_app  # noqa: E402


def seed(db, count: int) -> float:
    """Create `count` tenants with keys, an admin and a privacy contact; return seconds."""
    from privacy_saas.crypto.service import create_tenant_keys
    from privacy_saas.processor.privacy_contacts import service as privacy_contacts
    from privacy_saas.processor.tenants.models import Tenant
    from privacy_saas.processor.users import service as users

    started = time.perf_counter()
    for n in range(count):
        tenant = Tenant(slug=f"t{n:05d}", name=f"Tenant {n}", region="eu", contract_start=date(2025, 1, 1),
                        end_action="delete", status="active")
        db.session.add(tenant)
        db.session.flush()
        create_tenant_keys(tenant)
        users.create(tenant, email=f"admin@t{n}.example", role="admin", actor=("bench", None))
        privacy_contacts.add(tenant, f"dpo@t{n}.example", actor=("bench", None))
        if n % 100 == 99:
            db.session.commit()
            print(f"  seeded {n + 1:>6,} tenants", end="\r", flush=True)
    db.session.commit()
    print()
    return time.perf_counter() - started


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_size(app, db, tenants: int, runs: int) -> dict:
    from privacy_saas import clock
    from privacy_saas.notices import breaches, changes
    from privacy_saas.notices import tasks as notice_tasks

    figures = {"publish": [], "deliver": [], "breach": [], "sweep": []}
    for run in range(runs):
        queued = []
        app.config["JOBS_EAGER"] = False
        # Collect the jobs the commit dispatches instead of running them, to time them on their own.
        app.extensions["privacy_saas.jobs"] = Collector(queued)

        def publish():
            changes.propose({"action": "add", "name": f"Provider {run}", "purpose": "e-mail delivery",
                             "country": "IE", "transfer_mechanism": "none needed (EEA)",
                             "data_categories": ["contact_details"], "effective_on": clock.today() + timedelta(days=31)})
            db.session.commit()

        figures["publish"].append(timed(publish))
        jobs = list(queued)
        queued.clear()

        def deliver():
            for _app, name, args, _kwargs in jobs:
                with app.app_context():
                    notice_tasks.deliver_notice(*args)
                    db.session.remove()

        figures["deliver"].append(timed(deliver))

        def breach():
            breaches.record({"scope": "processor", "tenants": [f"t{n:05d}" for n in range(tenants)],
                             "occurred_at": clock.now() - timedelta(hours=3), "aware_at": clock.now(),
                             "nature": "bench", "consequences": "", "measures": ""}, notify=True)
            db.session.commit()

        figures["breach"].append(timed(breach))
        queued.clear()
        figures["sweep"].append(timed(lambda: notice_tasks.sweep()))
    return figures


class Collector(ThreadPoolExecutor):
    """Stands in for the in-process job runner: keeps what it is given."""

    def __init__(self, sink: list):
        super().__init__(max_workers=1)
        self.sink = sink

    def submit(self, fn, *args, **kwargs):
        self.sink.append(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", default=os.environ.get("BENCH_NOTICES_TENANTS", "100,1000"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.tenants.split(",")]
    print(f"notices on {backend()}: tenants {sizes}, {args.runs} runs each")
    rows = []
    for size in sizes:
        workdir = tempfile.mkdtemp(prefix="privacy-saas-bench-notices-")
        os.environ["PRIVACY_SAAS_OUTBOX_DIR"] = os.path.join(workdir, "outbox")
        base = os.environ.get("DATABASE_URL")
        name = None
        if backend() == "postgres":
            name = f"bench_notices_{uuid.uuid4().hex[:8]}"
            with admin_connection(base) as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
        else:
            url = None
        try:
            app = make_app(url, workdir)
            app.config["OUTBOX_DIR"] = os.path.join(workdir, "outbox")
            from privacy_saas.extensions import db

            with app.app_context():
                seconds = seed(db, size)
                print(f"{size:,} tenants seeded in {seconds:.1f} s")
                figures = run_size(app, db, size, args.runs)
                mails = len(os.listdir(os.path.join(workdir, "outbox")))
                db.session.remove()
                db.engine.dispose()
            rows.append((size, figures, mails))
        finally:
            if name:
                with admin_connection(base) as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{'tenants':>8} {'step':<8} {'min s':>8} {'median s':>9} {'ms/tenant (median)':>19}")
    for size, figures, mails in rows:
        for step, values in figures.items():
            median = statistics.median(values)
            print(f"{size:>8,} {step:<8} {min(values):>8.3f} {median:>9.3f} {median / size * 1000:>19.2f}")
        print(f"{'':>8} ({mails:,} mails written to the outbox)")


if __name__ == "__main__":
    main()
