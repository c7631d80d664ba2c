"""Purging K tenants at once with K RQ workers (K = 1, 2, 4): rows/s, and whether they wait on each other.

    make bench BENCH=purge_parallel
    DATABASE_URL=postgresql+psycopg://... REDIS_URL=redis://... .venv/bin/python bench/purge_parallel.py

PostgreSQL + Redis only. One database is seeded with four ended tenants of the same size
(BENCH_PURGE_PARALLEL_USERS users with BENCH_PURGE_PARALLEL_EVENTS usage events each) and a live
neighbour; each round runs on a fresh copy of it and of its key store. K `privacy-saas worker`
processes start and register, then K purge jobs are queued at once, one per worker. Reported per K: the span from
the first purge's start to the last one's end (the purge runs' own timestamps, so worker start-up
is not counted), rows/s over that span, each purge's duration, and what the purges' database
sessions waited on, sampled from pg_stat_activity every few milliseconds: a lock shared by the
purges would show as lock waits that grow with K.
"""
from __future__ import annotations

import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.purge import copy_database, counts, drop_copy, settle  # noqa: E402
from bench.support import BENCH_MASTER_KEYS, backend, make_app, open_app, seed_tenant, timer  # noqa: E402

SKIP = 77
ROUNDS = (1, 2, 4)
USERS = int(os.environ.get("BENCH_PURGE_PARALLEL_USERS", 2_000))
EVENTS_PER_USER = int(os.environ.get("BENCH_PURGE_PARALLEL_EVENTS", 49))  # 2,000 x 50 = 100,000 rows a tenant
SAMPLE_EVERY = 0.005
ROUND_TIMEOUT = 900
ROOT = Path(__file__).resolve().parent.parent


def start_workers(k: int, copy, workdir: str) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": copy.url, "PRIVACY_SAAS_MASTER_KEYS": BENCH_MASTER_KEYS,
           "PRIVACY_SAAS_KEYSTORE": "local", "PRIVACY_SAAS_KEYSTORE_PATH": copy.keystore,
           "PRIVACY_SAAS_INSTANCE": os.path.join(workdir, "instance"), "SECRET_KEY": "bench",
           "PRIVACY_SAAS_EXPORT_DIR": os.path.join(workdir, "exports"),
           "PRIVACY_SAAS_SIGNING_KEY_FILE": os.path.join(workdir, "signing.pem"),
           "PRIVACY_SAAS_LOG_LEVEL": "WARNING"}
    logs = Path(workdir) / "workers"
    logs.mkdir(exist_ok=True)
    command = [os.path.join(os.path.dirname(sys.executable), "privacy-saas"), "worker", "--sweep-interval", "0"]
    return [subprocess.Popen(command,
                             cwd=ROOT, env=env, stdout=(logs / f"{n}.log").open("wb"), stderr=subprocess.STDOUT)
            for n in range(k)]


def wait_registered(conn, k: int, workers: list[subprocess.Popen]) -> None:
    from rq import Worker

    deadline = time.monotonic() + 60
    while len(Worker.all(connection=conn)) < k:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit("the workers did not start; see their logs")
        time.sleep(0.05)


def wait_purged(db, tenant_ids: list, workers: list[subprocess.Popen]) -> None:
    """Wait (bounded) until every tenant's purge run has finished."""
    from privacy_saas.lifecycle.models import PurgeRun

    deadline = time.monotonic() + ROUND_TIMEOUT
    while time.monotonic() < deadline and not any(w.poll() is not None for w in workers):
        finished = db.session.scalar(sa.select(sa.func.count()).select_from(PurgeRun).where(
            PurgeRun.tenant_id.in_(tenant_ids), PurgeRun.finished_at.is_not(None)))
        db.session.rollback()
        if finished == len(tenant_ids):
            return
        time.sleep(0.1)


class WaitSampler(threading.Thread):
    """Count, per wait event and per locked relation, how often the purge sessions were seen waiting."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.stop = threading.Event()
        self.samples = 0
        self.busy = 0  # session-samples running or waiting
        self.waits: collections.Counter = collections.Counter()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                rows = conn.exec_driver_sql("""
                    SELECT a.wait_event_type, a.wait_event,
                           (SELECT l.relation::regclass::text FROM pg_locks l
                            WHERE l.pid = a.pid AND NOT l.granted LIMIT 1)
                    FROM pg_stat_activity a
                    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                      AND a.state = 'active' AND a.backend_type = 'client backend'""").all()
                self.samples += 1
                for kind, event, relation in rows:
                    self.busy += 1
                    if kind in ("Lock", "LWLock"):
                        self.waits[f"{kind}:{event}" + (f" on {relation}" if relation else "")] += 1
                self.stop.wait(SAMPLE_EVERY)
        self.engine.dispose()


def run_round(app, workdir: str, k: int, doomed: list, other, other_before: dict) -> dict:
    from privacy_saas.extensions import db
    from privacy_saas.jobs.queue import QUEUE_NAME, enqueue, redis_connection
    from privacy_saas.jobs.scheduler import purge_dedupe
    from privacy_saas.lifecycle.tasks import PURGE_JOB
    from privacy_saas.lifecycle.models import DeletionCertificate, PurgeRun

    copy = copy_database(app, workdir, f"parallel{k}")
    settle(copy.url)
    # Jobs go to RQ, to the workers (not run inline as the other benchmarks' apps do).
    on_copy = open_app(copy.url, workdir, KEYSTORE_PATH=copy.keystore,
                       REDIS_URL=os.environ["REDIS_URL"], JOBS_EAGER=False)
    conn = redis_connection(on_copy)
    from rq import Queue

    Queue(QUEUE_NAME, connection=conn).empty()
    workers = start_workers(k, copy, workdir)
    sampler = WaitSampler(copy.url)
    try:
        wait_registered(conn, k, workers)
        sampler.start()
        with on_copy.app_context():
            for tenant_id in doomed[:k]:  # as the scheduler owes them
                enqueue(PURGE_JOB, str(tenant_id), tenant_id=tenant_id, dedupe=purge_dedupe(tenant_id),
                        max_attempts=None)
            db.session.commit()  # the job rows commit, then go to RQ
            wait_purged(db, doomed[:k], workers)
            db.session.remove()
    finally:
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join(10)
        for worker in workers:  # ours: stopped by their own pids
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
    with on_copy.app_context():
        runs = db.session.scalars(sa.select(PurgeRun).where(PurgeRun.tenant_id.in_(doomed[:k]))).all()
        certificates = db.session.scalars(sa.select(DeletionCertificate)
                                          .where(DeletionCertificate.tenant_id.in_(doomed[:k]))).all()
        if len(certificates) != k or any(r.finished_at is None for r in runs):
            raise SystemExit(f"K={k}: {len(certificates)} of {k} purges finished; see {workdir}/workers/*.log")
        rows = sum(c.document["certificate"]["rows_deleted_total"] for c in certificates)
        left = sum(sum(counts(db, t).values()) for t in doomed[:k])
        intact = counts(db, other) == other_before
        span = (max(r.finished_at for r in runs) - min(r.started_at for r in runs)).total_seconds()
        each = sorted((r.finished_at - r.started_at).total_seconds() for r in runs)
        db.session.remove()
        db.engine.dispose()
    drop_copy(copy)
    return {"k": k, "rows": rows, "span": span, "each": each, "left": left, "intact": intact,
            "busy": sampler.busy, "waits": sampler.waits, "samples": sampler.samples}


def main() -> None:
    if backend() != "postgres" or not os.environ.get("REDIS_URL"):
        print("purge_parallel: PostgreSQL and Redis only (RQ workers purge in parallel)")
        sys.exit(SKIP)
    from privacy_saas.extensions import db

    workdir = tempfile.mkdtemp(prefix="privacy-saas-bench-parallel-")
    app = make_app(workdir=workdir)
    rows_each = USERS * (1 + EVENTS_PER_USER)
    print(f"[postgres] seeding {max(ROUNDS)} ended tenants of {rows_each:,} rows and a live neighbour ...", flush=True)
    with app.app_context(), timer() as seeding:
        doomed = [seed_tenant(f"doomed{n}", USERS, EVENTS_PER_USER, status="ended", contract_end=date(2020, 6, 30))
                  for n in range(max(ROUNDS))]
        other = seed_tenant("neighbour", 500, 9)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        other_before = counts(db, other)
        db.session.remove()
    print(f"seeded in {seeding['seconds']:.0f} s")
    results = []
    for k in ROUNDS:
        print(f"[postgres] {k} worker(s), {k} purge(s) ...", flush=True)
        results.append(run_round(app, workdir, k, doomed, other, other_before))
    base = results[0]["rows"] / results[0]["span"]
    print(f"\n{'K':>2} {'rows':>10} {'span s':>8} {'rows/s':>10} {'vs K=1':>7}  {'each purge s':<24} "
          f"lock waits (share of the purge sessions' samples)")
    for r in results:
        rate = r["rows"] / r["span"]
        waited = sum(r["waits"].values())
        top = ", ".join(f"{name} {n / max(r['busy'], 1):.0%}" for name, n in r["waits"].most_common(3))
        print(f"{r['k']:>2} {r['rows']:>10,} {r['span']:>8.2f} {rate:>10,.0f} {rate / base:>6.2f}x  "
              f"{', '.join(f'{s:.2f}' for s in r['each']):<24} {waited / max(r['busy'], 1):.1%}"
              + (f" ({top})" if top else ""))
    print(f"\n{os.cpu_count()} CPUs (PostgreSQL and the workers share them); load average "
          f"{os.getloadavg()[0]:.1f}; pg_stat_activity sampled every {SAMPLE_EVERY * 1000:.0f} ms")
    left = sum(r["left"] for r in results)
    intact = all(r["intact"] for r in results)
    print(f"rows of the purged tenants left: {left}; neighbour untouched: {intact}; "
          f"median purge {statistics.median(s for r in results for s in r['each']):.2f} s")
    shutil.rmtree(workdir, ignore_errors=True)
    if left or not intact:
        sys.exit(1)


if __name__ == "__main__":
    main()
