"""The job queue: RQ on Redis when REDIS_URL is set, else an in-process runner.

Jobs are named by dotted path and take only ids and plain values, never personal data.
"""
from __future__ import annotations

import importlib
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

QUEUE_NAME = "privacy_saas"


def redis_connection(app: Flask):
    """Return a Redis connection for the app, or None for the embedded default."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn = app.extensions.get("privacy_saas.redis")
    if conn is None:
        from redis import Redis

        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
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


def _check_args(args) -> None:
    for arg in args:
        if not isinstance(arg, (str, int, float, bool, type(None), uuid.UUID)):
            raise TypeError(f"job arguments must be ids or plain values, not {type(arg).__name__}")


def enqueue(name: str, *args, job_id: str | None = None, retries: int = 3, **kwargs) -> str:
    """Queue job `name(*args)` once the current transaction commits (at once outside one); returns its id.

    A job runs in another session: queued before the commit, it could start before the rows
    it needs exist, or run for a change that is then rolled back.
    """
    from privacy_saas.extensions import db

    _check_args(list(args) + list(kwargs.values()))
    args = tuple(str(a) if isinstance(a, uuid.UUID) else a for a in args)
    job = (current_app._get_current_object(), name, args, kwargs, job_id or uuid.uuid4().hex, retries)
    session = db.session()
    if session.in_transaction():
        session.info.setdefault(_PENDING, []).append(job)
    else:
        _dispatch(*job)
    return job[4]


_PENDING = "privacy_saas.pending_jobs"


@sa.event.listens_for(Session, "after_commit")
def _dispatch_pending(session) -> None:
    for job in session.info.pop(_PENDING, []):
        _dispatch(*job)


@sa.event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def _dispatch(app: Flask, name: str, args, kwargs, job_id: str, retries: int) -> None:
    conn = redis_connection(app)
    if conn is not None:
        from rq import Queue, Retry

        Queue(QUEUE_NAME, connection=conn).enqueue(
            run_job, name, *args, job_id=job_id,
            retry=Retry(max=retries, interval=[10, 60, 300][:retries]) if retries else None,
            job_timeout=3600, **kwargs)
    elif app.config.get("JOBS_EAGER"):
        _run_inline(app, name, args, kwargs)
    else:
        _executor(app).submit(_run_inline, app, name, args, kwargs)


_executor_lock = threading.Lock()


def _executor(app: Flask) -> ThreadPoolExecutor:
    with _executor_lock:
        pool = app.extensions.get("privacy_saas.jobs")
        if pool is None:
            # One worker thread: SQLite has one writer anyway, and jobs stay ordered.
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privacy-saas-job")
            app.extensions["privacy_saas.jobs"] = pool
        return pool


def run_job(name: str, *args, **kwargs):
    """Run job `name` in the current app context with a clean session before and after."""
    from privacy_saas.extensions import db

    db.session.remove()
    try:
        return resolve(name)(*args, **kwargs)
    except Exception:
        db.session.rollback()
        log.exception("job %s failed", name)
        raise
    finally:
        db.session.remove()


def _run_inline(app: Flask, name: str, args, kwargs) -> None:
    with app.app_context():
        try:
            run_job(name, *args, **kwargs)
        except Exception:
            if app.config.get("JOBS_EAGER"):
                raise


def report_progress(done: int, total: int | None = None, **extra) -> None:
    """Record progress in the current RQ job's meta (no-op in-process)."""
    try:
        from rq import get_current_job
    except ImportError:
        return
    job = get_current_job()
    if job is None:
        return
    job.meta.update({"done": done, "total": total, **extra})
    job.save_meta()
