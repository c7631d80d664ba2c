"""The dispatcher: hands due job rows to the queue and takes back the ones a queue or worker lost.

It runs in every worker's scheduler loop (and in the embedded runner). Rows are claimed with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several dispatchers never hand one row over twice;
a row handed over twice anyway (a race with the after-commit hand-over) runs once, because
only one run can start it (runner._claim).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.runner import retry_delay

log = logging.getLogger(__name__)

#: Rows handed over per pass; the next pass follows at once while there are more.
BATCH = 200


@dataclass
class Pass:
    """What one dispatcher pass did."""

    dispatched: int = 0
    requeued: int = 0
    lost: int = 0


def _locked(query):
    # SQLite has one writer at a time (BEGIN IMMEDIATE): nothing to skip there.
    if db.session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def take_back_lost() -> int:
    """Running rows whose worker stopped beating: count a failed attempt and owe them again (own transaction)."""
    app = current_app._get_current_object()
    cutoff = clock.now() - timedelta(seconds=app.config["JOB_LOST_AFTER_SECONDS"])
    lost = list(db.session.scalars(_locked(
        sa.select(Job).where(Job.status == "running", Job.finished_at.is_(None), Job.heartbeat_at < cutoff)
        .order_by(Job.heartbeat_at).limit(BATCH))))
    for job in lost:
        log.warning("job %s (%s): worker %s stopped beating at %s; owed again", job.id, job.name, job.worker,
                    job.heartbeat_at.isoformat())
        job.fail(f"worker lost: {job.worker} stopped beating at {job.heartbeat_at.isoformat()}",
                 retry_delay(app, job.attempts))
    db.session.commit()
    return len(lost)


def requeue_lost_dispatches(backend) -> int:
    """Dispatched rows their queue no longer holds (Redis restarted empty): owed again (own transaction)."""
    app = current_app._get_current_object()
    cutoff = clock.now() - timedelta(seconds=app.config["JOB_DISPATCH_TIMEOUT_SECONDS"])
    stale = list(db.session.scalars(_locked(
        sa.select(Job).where(Job.status == "dispatched", Job.finished_at.is_(None), Job.dispatched_at < cutoff)
        .order_by(Job.dispatched_at).limit(BATCH))))
    if not stale:
        db.session.commit()
        return 0
    # Still queued behind other work: not lost. Started but the row never said so: the run could
    # not reach the database and failed, so it is owed again (a second run would start it once).
    waiting = backend.waiting([job.id for job in stale])
    requeued = 0
    for job in stale:
        if job.id not in waiting:
            log.warning("job %s (%s): not started %s s after dispatch and unknown to the queue; owed again",
                        job.id, job.name, app.config["JOB_DISPATCH_TIMEOUT_SECONDS"])
            job.requeue("dispatch lost: the queue no longer held it")
            requeued += 1
    db.session.commit()
    return requeued


def dispatch_due(backend) -> int:
    """Hand due pending rows to `backend` and mark them dispatched (own transaction); return how many."""
    due = list(db.session.scalars(_locked(
        sa.select(Job).where(Job.status == "pending", Job.finished_at.is_(None), Job.not_before <= clock.now())
        .order_by(Job.not_before).limit(BATCH))))
    if not due:
        db.session.commit()
        return 0
    # The after-commit hand-over may have queued some already: do not queue them twice.
    waiting = backend.waiting([job.id for job in due])
    try:
        # Pushed while the rows are locked: a worker that takes one at once waits for this commit.
        # If the push fails, the rows stay pending and the next pass tries again.
        backend.push([job.id for job in due if job.id not in waiting])
    except Exception:
        db.session.rollback()
        raise
    for job in due:
        job.dispatch()
    db.session.commit()
    return len(due)


def dispatch(backend) -> Pass:
    """One full pass: take back what was lost, then hand over everything due."""
    done = Pass(lost=take_back_lost(), requeued=requeue_lost_dispatches(backend))
    for _ in range(1000):  # bounded: at most 200,000 rows in one pass
        handed = dispatch_due(backend)
        done.dispatched += handed
        if handed < BATCH:
            break
    return done
