"""Owing background work: `enqueue` writes a job row in the caller's transaction (an outbox).

After the commit the new rows are handed on at once: to RQ when REDIS_URL is set, to a thread
of this process otherwise, or run inline with JOBS_EAGER (tests). That hand-over is only a
shortcut: if Redis is down, or loses the job, the row is still owed and a dispatcher
(jobs/dispatcher.py, in every worker) hands it over again. Jobs are named by dotted path and
take only ids and plain values, never personal data.
"""
from __future__ import annotations

import contextvars
import importlib
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from privacy_saas import clock
from privacy_saas.db import new_id
from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job

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


class RetryLater(Exception):
    """Raised by a job that must wait (another worker's live lease): owed again at `at`, no attempt used."""

    def __init__(self, at: datetime, reason: str):
        super().__init__(reason)
        self.at = at
        self.reason = reason


def redis_connection(app: Flask):
    """Return the app's Redis connection for handing jobs over (short timeouts), or None without Redis."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn = app.extensions.get("privacy_saas.redis")
    if conn is None:
        from redis import Redis

        # Short: a request that owes a job, or a dispatcher pass, must not hang on a stuck Redis.
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        app.extensions["privacy_saas.redis"] = conn
    return conn


def ping(app: Flask) -> bool:
    """Return whether the queue backend is reachable (always, in-process)."""
    conn = redis_connection(app)
    if conn is None:
        return True
    from redis.exceptions import RedisError

    try:
        return bool(conn.ping())
    except RedisError:
        return False


def resolve(name: str):
    """Return the job function at dotted path `name`."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


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
        from privacy_saas.jobs.runner import perform

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
        from rq import Queue

        queue = Queue(QUEUE_NAME, connection=self.conn)
        timeout = int(self.app.config["JOB_TIMEOUT_SECONDS"])
        with self.conn.pipeline() as pipe:
            for job_id in job_ids:
                # No RQ retries: a failed run is retried by the table, with its backoff.
                queue.enqueue(RQ_ENTRY, str(job_id), job_id=str(job_id), job_timeout=timeout,
                              result_ttl=600, failure_ttl=86400, pipeline=pipe)
            pipe.execute()

    def waiting(self, job_ids) -> set:
        """Return the ids RQ still holds and will run (queued, scheduled or deferred)."""
        from rq.job import Job as RQJob

        ids = [str(i) for i in job_ids]
        found = RQJob.fetch_many(ids, connection=self.conn)
        return {uuid.UUID(j.id) for j in found if j is not None and j.get_status(refresh=False) in RQ_WAITING}


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
        from privacy_saas.jobs.runner import perform

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


@dataclass
class RunState:
    """The job this thread is running: for progress reports and `last_attempt()`."""

    attempt: int
    max_attempts: int | None
    progress: dict | None = None


running_job: contextvars.ContextVar[RunState | None] = contextvars.ContextVar("privacy_saas_job", default=None)


def report_progress(done: int, total: int | None = None, **extra) -> None:
    """Record the running job's progress; its next heartbeat saves it (no-op outside a job)."""
    running = running_job.get()
    if running is not None:
        running.progress = {"done": done, "total": total, **extra}


def last_attempt() -> bool:
    """Return whether a failure now would make the running job dead (True outside a job)."""
    running = running_job.get()
    return running is None or (running.max_attempts is not None and running.attempt >= running.max_attempts)
