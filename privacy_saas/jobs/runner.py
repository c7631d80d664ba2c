"""Running one job row: claim it, run its function while a thread beats, record what happened.

RQ runs `perform(job_id)` for every job; the in-process runner and JOBS_EAGER call it too. The
row is the only state: a run that cannot record its outcome (the database went away) simply
stops beating, and the dispatcher takes the job back after JOB_LOST_AFTER_SECONDS.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from privacy_saas import clock
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.context import RetryLater, RunState, resolve, running_job

log = logging.getLogger(__name__)

#: Exceptions whose message is a system condition, not data: kept in last_error. Others (ValueError,
#: KeyError, a driver's message) may quote a value, so only their class is kept.
_MESSAGE_SAFE = (RuntimeError, ConnectionError, TimeoutError, InvalidTransition)


def worker_name() -> str:
    """Return this process's name in job rows and heartbeats (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def retry_delay(app: Flask, attempt: int) -> timedelta:
    """Return the pause before retrying after failed run `attempt`: doubling from the base, capped, jittered."""
    base, cap = app.config["JOB_RETRY_BASE_SECONDS"], app.config["JOB_RETRY_MAX_SECONDS"]
    full = min(base * 2 ** (attempt - 1), cap)
    # Half fixed, half random: jobs that failed together (an outage) do not all come back at once.
    return timedelta(seconds=full / 2 + random.uniform(0, full / 2))


def describe(error: BaseException) -> str:
    """Return what may be stored of an error: its class, and its message only where that holds no data."""
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(error, sa.exc.DBAPIError):
        code = getattr(getattr(error.orig, "diag", None), "sqlstate", None) or getattr(error.orig, "sqlstate", None)
        return f"{name} ({type(error.orig).__name__}{f', SQLSTATE {code}' if code else ''})"
    if kind.__module__.startswith("privacy_saas") or isinstance(error, _MESSAGE_SAFE):
        return f"{name}: {error}"
    return name


def perform(job_id: str, *, raise_errors: bool = False):
    """Run job row `job_id` once, if it is still owed; return the job function's result."""
    app = current_app._get_current_object()
    row_id = uuid.UUID(str(job_id))
    db.session.remove()
    claimed = _claim(row_id)
    if claimed is None:
        return None
    name, args, running = claimed
    token = running_job.set(running)
    beat = None if app.config.get("JOBS_EAGER") else _Heartbeat(app, row_id, running)
    try:
        if beat is not None:
            beat.start()
        try:
            result = resolve(name)(*args)
        finally:
            if beat is not None:
                beat.stop()
    except RetryLater as wait:
        db.session.rollback()
        log.info("job %s (%s) waits until %s: %s", job_id, name, wait.at.isoformat(), wait.reason)
        _record(row_id, running.attempt, lambda job: job.snooze(wait.at, wait.reason))
        return None
    except Exception as error:
        db.session.rollback()
        log.exception("job %s (%s) failed, attempt %d", job_id, name, running.attempt)
        delay = retry_delay(app, running.attempt)
        _record(row_id, running.attempt, lambda job: job.fail(describe(error), delay))
        if raise_errors:
            raise
        return None
    except BaseException as error:
        # The worker is being stopped mid-run: owe the job again at once, then let the stop go on.
        db.session.rollback()
        _record(row_id, running.attempt, lambda job: job.fail(f"interrupted: {describe(error)}", timedelta(0)))
        raise
    finally:
        running_job.reset(token)
        db.session.remove()
    _record(row_id, running.attempt, lambda job: job.succeed(None if result is None else str(result)[:300]))
    return result


def _claim(row_id: uuid.UUID):
    """Start the row's next attempt (its own transaction); None if it is gone, running elsewhere or finished."""
    job = db.session.scalar(sa.select(Job).where(Job.id == row_id).with_for_update())
    if job is None:
        db.session.rollback()
        log.info("job %s: no such row (rolled back, or pruned)", row_id)
        return None
    try:
        job.start(worker_name())
    except InvalidTransition as why:
        db.session.rollback()
        log.info("job %s not started: %s", row_id, why)
        return None
    claimed = job.name, list(job.args), RunState(job.attempts, job.max_attempts)
    db.session.commit()
    return claimed


def _record(row_id: uuid.UUID, attempt: int, change: Callable[[Job], None]) -> None:
    """Apply `change` to the row if this run still owns it; a run taken back meanwhile changes nothing."""
    try:
        job = db.session.scalar(sa.select(Job).where(Job.id == row_id).with_for_update())
        if job is None or job.status != "running" or job.attempts != attempt:
            log.warning("job %s: run %d was taken back while it ran; its outcome is not recorded", row_id, attempt)
            db.session.rollback()
            return
        change(job)
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:
        log.error("job %s: outcome of run %d not recorded (%s); it is taken back once its heartbeat is old",
                  row_id, attempt, type(error).__name__)
    finally:
        db.session.remove()


class _Heartbeat:
    """Renew the running row's heartbeat (and save its progress) from a thread, on a connection of its own."""

    def __init__(self, app: Flask, row_id: uuid.UUID, running: RunState):
        self.row_id, self.running = row_id, running
        self.interval = float(app.config["JOB_HEARTBEAT_SECONDS"])
        with app.app_context():
            self.engine = db.engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"privacy-saas-heartbeat-{row_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.engine.begin() as conn:
                    beat = conn.execute(
                        sa.update(Job).where(Job.id == self.row_id, Job.status == "running",
                                             Job.attempts == self.running.attempt)
                        .values(heartbeat_at=clock.now(), progress=self.running.progress))
                if beat.rowcount == 0:
                    log.warning("job %s: taken back by a dispatcher while this run goes on", self.row_id)
            except sa.exc.SQLAlchemyError as error:
                log.warning("job %s: heartbeat not saved (%s)", self.row_id, type(error).__name__)
