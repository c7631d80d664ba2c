"""Owing background work: `enqueue` writes a job row in the caller's transaction (an outbox).

After the commit the new rows are handed on at once: to RQ when REDIS_URL is set, to a thread
of this process otherwise, or run inline with JOBS_EAGER (tests). That hand-over is only a
shortcut: if Redis is down, or loses the job, the row is still owed and a dispatcher
(jobs/dispatcher.py, in every worker) hands it over again. Jobs are named by dotted path and
take only ids and plain values, never personal data.
"""
from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job as RQJob
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from privacy_saas import clock
from privacy_saas.db import new_id
from privacy_saas.extensions import db
# The job functions' API, importable from here too.
from privacy_saas.jobs.context import RetryLater, last_attempt, report_progress, resolve  # noqa: F401
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.runner import perform

log = logging.getLogger(__name__)

QUEUE_NAME = "privacy_saas"
#: Runs before a job is dead (staff then see it): with the default backoff, 11 to 21 minutes of
#: retries. Only runs that started count: while Redis or the database is down none starts, so an
#: outage uses up no attempts. Purges never die (max_attempts=None).
DEFAULT_MAX_ATTEMPTS = 8
#: The function RQ runs for every job row: it takes the row's id only.
RQ_ENTRY = "privacy_saas.jobs.runner.perform"
#: RQ states in which a job will still be run (a row dispatched to it is not lost).
RQ_WAITING = frozenset({"queued", "scheduled", "deferred"})




def redis_connection(app: Flask):
    """Return the app's Redis connection for handing jobs over (short timeouts), or None without Redis."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn = app.extensions.get("privacy_saas.redis")
    if conn is None:
        # Short: a request that owes a job, or a dispatcher pass, must not hang on a stuck Redis.
        conn = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        app.extensions["privacy_saas.redis"] = conn
    return conn


def ping(app: Flask) -> bool:
    """Return whether the queue backend is reachable (always, in-process)."""
    conn = redis_connection(app)
    if conn is None:
        return True
    try:
        return bool(conn.ping())
    except RedisError:
        return False




def _plain(args) -> list:
    plain = []
    for arg in args:
        if isinstance(arg, uuid.UUID):
            arg = str(arg)
        if not isinstance(arg, (str, int, float, bool, type(None))):
            raise TypeError(f"job arguments must be ids or plain values, not {type(arg).__name__}")
        plain.append(arg)
    return plain


_OWED = "privacy_saas.owed_jobs"


def enqueue(name: str, *args, tenant_id=None, dedupe: str | None = None,
            max_attempts: int | None = DEFAULT_MAX_ATTEMPTS, not_before: datetime | None = None) -> Job:
    """Owe job `name(*args)` in the current transaction; return its row.

    The row commits or rolls back with the change that owes it, and the job runs only once it
    is committed. With `dedupe`, at most one unfinished job holds that key: while one is owed
    or running, the owed row is returned and nothing is added. `max_attempts=None` retries
    until the job succeeds.
    """
    resolve(name)  # a misspelt job fails here, in the caller, not later in a worker
    values = {"id": new_id(), "name": name, "args": _plain(args),
              "tenant_id": uuid.UUID(str(tenant_id)) if tenant_id is not None else None,
              "dedupe_key": dedupe, "status": "pending", "attempts": 0, "max_attempts": max_attempts,
              "created_at": clock.now(), "not_before": not_before or clock.now()}
    session = db.session()
    if dedupe is None:
        job = Job(**values)
        session.add(job)
        session.flush()
    else:
        job_id = _insert_unless_owed(session, values)
        if job_id is None:
            owed = session.scalar(sa.select(Job).where(Job.dedupe_key == dedupe, Job.finished_at.is_(None)))
            if owed is not None:
                return owed
            # The owed one finished between our insert and this look-up: owe a new one.
            job_id = _insert_unless_owed(session, values)
        job = session.get(Job, job_id)
    if job.not_before <= clock.now():
        # Handed over after the commit; a delayed job waits for the dispatcher instead.
        session.info.setdefault(_OWED, []).append(job.id)
    return job


def _insert_unless_owed(session: Session, values: dict):
    """INSERT ... ON CONFLICT DO NOTHING on the unfinished-dedupe index; return the id or None."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(Job).values(**values)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=Job.finished_at.is_(None))
                 .returning(Job.id))
    return session.execute(statement).scalar_one_or_none()


@sa.event.listens_for(Session, "after_commit")
def _hand_over_owed(session) -> None:
    owed = session.info.pop(_OWED, None)
    if owed:
        hand_over(current_app._get_current_object(), owed)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_owed(session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_OWED, None)


def hand_over(app: Flask, job_ids) -> None:
    """Start committed jobs now where that is cheap; whatever fails here the dispatcher retries."""
    if app.config.get("JOBS_EAGER"):
        for job_id in job_ids:
            with app.app_context():
                perform(str(job_id), raise_errors=True)
        return
    backend = backend_for(app)
    if backend is None:
        return
    try:
        backend.push(job_ids)
    except Exception as error:  # noqa: BLE001  (the request that owed the job must not fail for it)
        log.warning("%d job(s) stay owed in the database, the queue is unavailable (%s); "
                    "a dispatcher will hand them over", len(job_ids), type(error).__name__)


def backend_for(app: Flask):
    """Return where jobs go: RQ, this process's runner thread, or None (tests run them explicitly)."""
    if app.config.get("REDIS_URL"):
        return RQBackend(app)
    if app.config.get("TESTING"):
        return None
    return in_process(app)


class RQBackend:
    """Jobs travel to RQ workers as their row id; RQ keeps no state the row does not also hold."""

    def __init__(self, app: Flask):
        self.app = app
        self.conn = redis_connection(app)

    def push(self, job_ids) -> None:
        queue = Queue(QUEUE_NAME, connection=self.conn)
        timeout = int(self.app.config["JOB_TIMEOUT_SECONDS"])
        with self.conn.pipeline() as pipe:
            for job_id in job_ids:
                # No RQ retries: a failed run is retried by the table, with its backoff.
                queue.enqueue(RQ_ENTRY, str(job_id), job_id=str(job_id), job_timeout=timeout,
                              result_ttl=600, failure_ttl=86400, pipeline=pipe)
            pipe.execute()

    def waiting(self, job_ids) -> set:
        """Return the ids RQ still holds and will run: scheduled, deferred, or queued and still in the queue.

        A job marked queued but no longer in the list was taken by a worker that never started it
        (killed, or frozen, right after taking it): lost as much as one Redis forgot.
        """
        found = [j for j in RQJob.fetch_many([str(i) for i in job_ids], connection=self.conn) if j is not None]
        statuses = {j.id: j.get_status(refresh=False) for j in found}
        queued = [job_id for job_id, status in statuses.items() if status == "queued"]
        key = Queue(QUEUE_NAME, connection=self.conn).key
        with self.conn.pipeline(transaction=False) as pipe:
            for job_id in queued:
                pipe.lpos(key, job_id)
            positions = dict(zip(queued, pipe.execute()))
        return {uuid.UUID(job_id) for job_id, status in statuses.items()
                if status in RQ_WAITING - {"queued"} or positions.get(job_id) is not None}


@dataclass
class InProcess:
    """The embedded default's queue: one thread runs the jobs, in order (SQLite has one writer anyway)."""

    app: Flask
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="privacy-saas-job"))
    queued: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, job_ids) -> None:
        with self.lock:
            fresh = [i for i in job_ids if i not in self.queued]
            self.queued.update(fresh)
        for job_id in fresh:
            self.pool.submit(self._run, job_id)

    def waiting(self, job_ids) -> set:
        with self.lock:
            return {i for i in job_ids if i in self.queued}

    def _run(self, job_id) -> None:
        with self.lock:
            self.queued.discard(job_id)
        with self.app.app_context():
            try:
                perform(str(job_id))
            except Exception:  # noqa: BLE001  (perform records failures; the thread must live on)
                log.exception("in-process job %s could not be run", job_id)


_in_process_lock = threading.Lock()


def in_process(app: Flask) -> InProcess:
    """Return this process's job thread for `app` (created on first use)."""
    with _in_process_lock:
        runner = app.extensions.get("privacy_saas.jobs")
        if runner is None:
            runner = app.extensions["privacy_saas.jobs"] = InProcess(app)
        return runner
