"""What staff and monitoring see of background work: owed, failing and dead jobs, workers' liveness."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from privacy_saas import audit, clock
from privacy_saas.errors import Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.jobs.models import UNFINISHED, Job, WorkerHeartbeat

#: A worker is alive while its last beat is younger than this many heartbeat intervals.
ALIVE_BEATS = 3


@dataclass
class Overview:
    """Counts for the dashboard and /healthz."""

    owed: int
    running: int
    failing: int
    dead: int
    oldest_owed_at: datetime | None


def overview() -> Overview:
    """Count unfinished jobs (owed, running, retrying after a failure) and dead ones."""
    unfinished = Job.status.in_(UNFINISHED)
    row = db.session.execute(sa.select(
        sa.func.count().filter(Job.status.in_(("pending", "dispatched"))),
        sa.func.count().filter(Job.status == "running"),
        sa.func.count().filter(unfinished, Job.last_error.is_not(None)),
        sa.func.min(Job.created_at).filter(Job.status.in_(("pending", "dispatched"))),
    ).where(Job.finished_at.is_(None))).one()
    dead = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.status == "dead"))
    return Overview(owed=row[0], running=row[1], failing=row[2], dead=dead, oldest_owed_at=row[3])


def unfinished(limit: int = 100) -> list[Job]:
    """Return owed and running jobs, failing ones first, then the oldest."""
    return list(db.session.scalars(
        sa.select(Job).where(Job.finished_at.is_(None))
        .order_by(Job.last_error.is_(None), Job.created_at).limit(limit)))


def dead(limit: int = 100) -> list[Job]:
    """Return dead jobs, newest first."""
    return list(db.session.scalars(
        sa.select(Job).where(Job.status == "dead").order_by(Job.finished_at.desc()).limit(limit)))


def for_tenant(tenant_id, name: str | None = None, limit: int = 20) -> list[Job]:
    """Return a tenant's jobs (of one function, if `name`), newest first."""
    query = sa.select(Job).where(Job.tenant_id == tenant_id)
    if name is not None:
        query = query.where(Job.name == name)
    return list(db.session.scalars(query.order_by(Job.created_at.desc()).limit(limit)))


def workers() -> list[WorkerHeartbeat]:
    """Return every worker that beat recently enough to be kept, the most recent first."""
    return list(db.session.scalars(sa.select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc())))


def is_alive(worker: WorkerHeartbeat) -> bool:
    """Return whether `worker` beat within the last few heartbeat intervals and did not stop."""
    window = timedelta(seconds=ALIVE_BEATS * current_app.config["JOB_HEARTBEAT_SECONDS"])
    return worker.stopped_at is None and worker.beat_at > clock.now() - window


def scheduler_state() -> dict:
    """Return the scheduler's liveness for /healthz: live workers, the last sweep, job counts."""
    rows = workers()
    alive = [w for w in rows if is_alive(w)]
    sweeps = [w.sweep_finished_at for w in rows if w.sweep_finished_at is not None]
    intervals = [w.sweep_interval for w in alive if w.sweep_interval]
    last_sweep = max(sweeps, default=None)
    if not alive:
        state = "no live worker"
    elif intervals and (last_sweep is None or last_sweep < clock.now() - timedelta(seconds=2 * min(intervals) + 60)):
        state = "sweep overdue"
    else:
        state = "ok"
    counts = overview()
    last_beat = max((w.beat_at for w in rows), default=None)
    return {"state": state, "workers_alive": len(alive),
            "last_beat_at": last_beat.isoformat() if last_beat else None,
            "last_sweep_at": last_sweep.isoformat() if last_sweep else None,
            "jobs": {"owed": counts.owed, "running": counts.running, "failing": counts.failing,
                     "dead": counts.dead}}


def retry(job_id) -> Job:
    """Staff retry a dead job now (one more attempt); audited."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("no such job")
    if job.dedupe_key is not None and db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
            Job.dedupe_key == job.dedupe_key, Job.finished_at.is_(None))):
        raise Conflict(f"a job for {job.dedupe_key} is already owed; it replaces this one", code="job_owed")
    job.revive()
    db.session.flush()
    audit.record("job.retry", tenant_id=job.tenant_id, targets=[job.id], detail={"name": job.name})
    return job
