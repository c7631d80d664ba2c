"""The durable record of background work (a transactional outbox) and of the workers that do it.

A job row is written in the same transaction as the change that owes the work, so the work
is owed exactly when the change is committed; Redis only carries the row's id to a worker.
None of these rows hold personal data: job arguments are ids, errors are class names and
messages of our own.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, table
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db

#: pending: owed, runs once due (not_before); dispatched: handed to a queue; running: a worker
#: started it and beats; done: finished; dead: failed max_attempts times, waits for staff.
JOB_STATUSES = ("pending", "dispatched", "running", "done", "dead")
UNFINISHED = ("pending", "dispatched", "running")
_UNFINISHED_ROWS = "finished_at IS NULL"


class Job(db.Model):
    """Work owed by a committed change; the table, not the queue, owns its state and its retries."""

    __tablename__ = "jobs"
    __table_args__ = (
        choice("status", "status", JOB_STATUSES),
        # What the dispatcher scans: unfinished rows by status and due time.
        sa.Index("ix_jobs_due", "status", "not_before",
                 postgresql_where=sa.text(_UNFINISHED_ROWS), sqlite_where=sa.text(_UNFINISHED_ROWS)),
        # One owed job per key (e.g. one purge per tenant); finished rows no longer count.
        sa.Index("uq_jobs_dedupe_key", "dedupe_key", unique=True,
                 postgresql_where=sa.text(_UNFINISHED_ROWS), sqlite_where=sa.text(_UNFINISHED_ROWS)),
        sa.Index("ix_jobs_tenant_id", "tenant_id", "created_at"),
        sa.Index("ix_jobs_finished", "status", "finished_at"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="background_work", retention="job_record")

    #: Also the RQ job id, so a worker and the dispatcher can ask Redis about this row.
    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: Dotted path of the job function.
    name: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: Positional arguments: ids and plain values only, never personal data.
    args: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: The tenant the work is for (None: vendor or controller work). No foreign key: a job
    #: record outlives nothing, and a local table may not reference a distributed one (Citus).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid(), info=not_personal())
    #: At most one unfinished job per key: a second enqueue returns the owed one.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), info=not_personal())
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", info=not_personal())
    #: Runs started (a run that asked to wait for something does not use up an attempt).
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())
    #: Runs allowed before the job is dead; None: retried until it succeeds (purges).
    max_attempts: Mapped[int | None] = mapped_column(sa.Integer, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: Not run before this instant: the retry backoff, or the end of a lease the job waits for.
    not_before: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    dispatched_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    started_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: Renewed by the running worker; a row that stops beating is taken back after a timeout.
    heartbeat_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    finished_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: Worker (host:pid) that runs or last ran the job.
    worker: Mapped[str | None] = mapped_column(sa.String(128), info=not_personal())
    #: Progress reported by the running job (counts), saved with each heartbeat.
    progress: Mapped[dict | None] = mapped_column(sa.JSON, info=not_personal())
    #: What the last run reported: its result, or why it waits.
    outcome: Mapped[str | None] = mapped_column(sa.String(300), info=not_personal())
    #: The last failure: exception class and our own message, never personal data.
    last_error: Mapped[str | None] = mapped_column(sa.String(500), info=not_personal())

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name} {self.status} attempt {self.attempts}>"

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    def _require(self, *statuses: str) -> None:
        if self.status not in statuses:
            raise InvalidTransition(f"job {self.id} is {self.status}, not {' or '.join(statuses)}")

    def dispatch(self) -> None:
        """Record that the job was handed to a queue."""
        self._require("pending")
        self.status, self.dispatched_at = "dispatched", clock.now()

    def requeue(self, reason: str) -> None:
        """Take back a dispatched job its queue lost (Redis restarted empty): owed again, no attempt used."""
        self._require("dispatched")
        self.status, self.dispatched_at, self.outcome = "pending", None, reason

    def start(self, worker: str) -> None:
        """A worker starts a run: one more attempt, and it beats from now on."""
        self._require("pending", "dispatched")
        now = clock.now()
        if self.not_before > now:
            raise InvalidTransition(f"job {self.id} is not due before {self.not_before.isoformat()}")
        self.status, self.worker = "running", worker
        self.attempts += 1
        self.started_at = self.heartbeat_at = now
        self.progress = None

    def succeed(self, outcome: str | None) -> None:
        """The run returned: the job is done."""
        self._require("running")
        self.status, self.finished_at, self.outcome = "done", clock.now(), outcome

    def fail(self, error: str, retry_in: timedelta) -> None:
        """The run failed: retried after `retry_in`, or dead when out of attempts."""
        self._require("running")
        self.last_error = error[:500]
        if self.max_attempts is not None and self.attempts >= self.max_attempts:
            self.status, self.finished_at = "dead", clock.now()
        else:
            self.status, self.not_before, self.dispatched_at = "pending", clock.now() + retry_in, None

    def snooze(self, until: datetime, reason: str) -> None:
        """The run found it must wait (a live lease): owed again at `until`, the attempt given back."""
        self._require("running")
        if self.max_attempts is not None:
            self.max_attempts += 1
        self.status, self.not_before, self.dispatched_at, self.outcome = "pending", until, None, reason[:300]

    def revive(self) -> None:
        """Staff retry a dead job now, with one more attempt."""
        self._require("dead")
        self.max_attempts = self.attempts + 1
        self.status, self.finished_at, self.not_before, self.dispatched_at = "pending", None, clock.now(), None


#: kind of worker: an RQ worker process, or the in-process runner of the embedded default.
WORKER_KINDS = ("rq", "in-process")


class WorkerHeartbeat(db.Model):
    """One worker's liveness: when its scheduler last beat, swept and dispatched, and its last error."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (choice("kind", "kind", WORKER_KINDS), distribution(VENDOR_LOCAL))
    __datamap__ = table(scope="operational", purpose="background_work", retention="job_record")

    #: host:pid of the worker process.
    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True, info=not_personal())
    kind: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    started_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: Last pass of the scheduler loop that reached the database.
    beat_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: Set on a clean shutdown; a worker that died keeps its last beat only.
    stopped_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: Seconds between lifecycle sweeps this worker takes part in (None: it does not sweep).
    sweep_interval: Mapped[float | None] = mapped_column(sa.Float, info=not_personal())
    #: The last sweep this worker ran: started, finished, and its counts.
    sweep_started_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    sweep_finished_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    last_sweep: Mapped[dict | None] = mapped_column(sa.JSON, info=not_personal())
    #: Last dispatcher pass, and how many jobs this worker has handed to the queue.
    dispatched_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    jobs_dispatched: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())
    #: The last error the scheduler loop met and survived (class and our own message).
    last_error: Mapped[str | None] = mapped_column(sa.String(500), info=not_personal())
    last_error_at: Mapped[datetime | None] = mapped_column(info=not_personal())
