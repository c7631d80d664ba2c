"""The scheduler: a loop in every worker that beats, dispatches owed jobs and runs the periodic sweep.

This is the one module that knows the periodic work of both scopes: contract ends, purges and
usage retention (processor), and the controller's retention sweep. The loop survives any
database or Redis error: each step is tried on its own, a failure is logged, kept for the
next heartbeat and backed off, and the loop carries on. Its liveness is the worker's row in
`worker_heartbeats` (last beat, dispatch and sweep), shown on /healthz and to staff.

The fleet sweeps once per interval, whichever worker comes first (a claim on PostgreSQL under
an advisory lock); the sweep needs only the database, so Redis being down does not stop it.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import isodate
import sqlalchemy as sa
from flask import Flask

from privacy_saas import audit, clock
from privacy_saas.audit import checkpoints
from privacy_saas.controller import tasks as controller_tasks
from privacy_saas.datamap import retention
from privacy_saas.extensions import db
from privacy_saas.jobs import dispatcher
from privacy_saas.jobs.models import Job, WorkerHeartbeat
from privacy_saas.jobs.queue import enqueue, in_process
from privacy_saas.jobs.runner import describe, worker_name
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle import service as lifecycle
from privacy_saas.lifecycle.tasks import owe_purge, purge_dedupe
from privacy_saas.notices import tasks as notices
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.rights import service as rights

log = logging.getLogger(__name__)

USAGE_RETENTION_JOB = "privacy_saas.processor.usage.tasks.enforce_usage_retention"
CONTROLLER_RETENTION_JOB = "privacy_saas.controller.tasks.retention_sweep"
#: Usage retention is measured in months: once a day per tenant is plenty.
USAGE_RETENTION_EVERY = timedelta(days=1)
#: Finished job rows and silent workers' heartbeats are kept this long for staff, then pruned (the data
#: map's job_record rule).
KEEP_DONE = isodate.parse_duration(retention.JOB_RECORD.default_period)
KEEP_DEAD = timedelta(days=90)
KEEP_SILENT_WORKERS = timedelta(days=7)
#: Rows pruned per sweep at most (the next sweep takes the rest).
PRUNE_BATCH = 10_000
#: PostgreSQL advisory lock that serialises sweep claims ("psaas" in ASCII).
SWEEP_LOCK = 0x7073616173
#: Longest pause of the loop after repeated errors.
MAX_BACKOFF = 30.0


def sweep(dry_run: bool = False) -> dict:
    """End contracts that are over; owe due purges, daily usage retention and the quarterly controller sweep;
    the notices step (changes due, late notices, breach deadlines, certificate mail)."""
    report = {"ended": [], "purge": [], "purge_owed": [], "held_or_waiting": [], "stuck": [],
              "usage_retention": 0, "controller_retention": False, "pruned": 0}
    for tenant in lifecycle.contracts_to_end():
        report["ended"].append(tenant.slug)
        if not dry_run:
            lifecycle.end_contract(tenant, tenant.contract_end)
    if not dry_run:
        db.session.commit()
    for decision in lifecycle.purge_candidates():
        tenant = decision.tenant
        if not decision.allowed:
            report["held_or_waiting"].append(f"{tenant.slug}: {decision.reason}")
        elif _owed(purge_dedupe(tenant.id)):
            report["purge_owed"].append(tenant.slug)
        else:
            report["purge"].append(tenant.slug)
            if not dry_run:
                # Never dead: a purge owed at contract end is retried until it finishes.
                owe_purge(tenant)
    for tenant, run in purge.stuck_purges():
        report["stuck"].append(tenant.slug)
        log.warning("purge of tenant %s stuck: purging since %s, no worker holds its lease; its purge is owed "
                    "(see the staff jobs page for its last error)", tenant.slug, run.started_at.isoformat())
    if dry_run:
        report["notices"] = notices.sweep(dry_run=True)
        return report
    for tenant_id in _usage_retention_due():
        enqueue(USAGE_RETENTION_JOB, str(tenant_id), tenant_id=tenant_id, dedupe=f"usage-retention:{tenant_id}")
        report["usage_retention"] += 1
    report["controller_retention"] = controller_tasks.sweep_is_due()
    if report["controller_retention"]:
        enqueue(CONTROLLER_RETENTION_JOB, dedupe="controller-retention")
    if checkpoints.any_due():  # chain heads that moved, unsigned for a day: anchor them outside the database
        enqueue("privacy_saas.oversight.tasks.checkpoint_chains", dedupe="audit-checkpoints")
    report["pruned"] = _prune()
    # A request whose instructions a purge took is answered by it, naming the deletion certificate.
    answered = rights.answered_by_purges()
    for request, tenants in answered:
        rights.close_by_purge(request, [(tenant, lifecycle.certificate(tenant).id) for tenant in tenants])
    report["dsr_closed_by_purge"] = len(answered)
    # A sweep that changed nothing is not worth an entry every five minutes.
    if report["ended"] or report["purge"] or report["controller_retention"] or report["stuck"]:
        audit.record("scheduler.sweep", actor=("system", None),
                     detail={"ended": len(report["ended"]), "purges_queued": len(report["purge"]),
                             "stuck_purges": len(report["stuck"]),
                             "controller_retention": report["controller_retention"]})
    db.session.commit()
    # Sub-processor changes due, late notices, breach deadline warnings, certificate mail (commits itself).
    report["notices"] = notices.sweep()
    return report


def _owed(dedupe: str) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Job)
                             .where(Job.dedupe_key == dedupe, Job.finished_at.is_(None))) > 0


def _usage_retention_due() -> list:
    """Active tenants whose usage retention has not been owed in the last day."""
    recent = (sa.select(Job.id).where(Job.tenant_id == Tenant.id, Job.name == USAGE_RETENTION_JOB,
                                      Job.created_at > clock.now() - USAGE_RETENTION_EVERY).exists())
    return list(db.session.scalars(sa.select(Tenant.id).where(Tenant.status == "active", ~recent)
                                   .order_by(Tenant.id)))


def _prune() -> int:
    """Delete finished job rows and silent workers' heartbeats past their keeping time; return how many."""
    now = clock.now()
    old = sa.select(Job.id).where(sa.or_(sa.and_(Job.status == "done", Job.finished_at < now - KEEP_DONE),
                                         sa.and_(Job.status == "dead", Job.finished_at < now - KEEP_DEAD)))
    pruned = db.session.execute(sa.delete(Job).where(Job.id.in_(old.limit(PRUNE_BATCH)))
                                .execution_options(synchronize_session=False)).rowcount
    pruned += db.session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - KEEP_SILENT_WORKERS)
                                 .execution_options(synchronize_session=False)).rowcount
    return pruned


def claim_sweep(name: str, kind: str, interval: float):
    """Take the fleet's next sweep if none started within `interval`; return the previous start, or False."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(SWEEP_LOCK)))
    last = db.session.scalar(sa.select(sa.func.max(WorkerHeartbeat.sweep_started_at)))
    now = clock.now()
    if last is not None and last > now - timedelta(seconds=interval):
        db.session.commit()
        return False
    row = _heartbeat_row(name, kind)
    previous, row.sweep_started_at = row.sweep_started_at, now
    db.session.commit()
    return previous or True


def _heartbeat_row(name: str, kind: str) -> WorkerHeartbeat:
    row = db.session.get(WorkerHeartbeat, name)
    if row is None:
        row = WorkerHeartbeat(name=name, kind=kind, started_at=clock.now(), beat_at=clock.now(), jobs_dispatched=0)
        db.session.add(row)
    return row


class Scheduler:
    """One worker's loop: beat, dispatch, sweep when due; every error is survived."""

    def __init__(self, app: Flask, backend, *, kind: str, sweep_interval: float | None):
        self.app, self.backend, self.kind = app, backend, kind
        self.sweep_interval = sweep_interval or None
        self.name = worker_name()
        self.poll = float(app.config["JOB_POLL_SECONDS"])
        self.beat_every = float(app.config["JOB_HEARTBEAT_SECONDS"])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = 0
        self._unsaved_error: tuple[str, object] | None = None
        self._next_beat = self._next_sweep_check = 0.0
        self._dispatched, self._dispatched_at = 0, None
        #: What the last tick's dispatcher pass did (empty if it failed).
        self.last_pass = dispatcher.Pass()

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="privacy-saas-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop the loop and record the stop (best effort: the database may be the reason)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        with self.app.app_context():
            try:
                row = db.session.get(WorkerHeartbeat, self.name)
                if row is not None:
                    row.stopped_at = clock.now()
                    db.session.commit()
            except sa.exc.SQLAlchemyError as error:
                log.warning("scheduler %s: stop not recorded (%s)", self.name, type(error).__name__)
            finally:
                db.session.remove()

    def run(self) -> None:
        """Tick until stopped, pausing longer after each failing tick (up to MAX_BACKOFF seconds)."""
        while not self._stop.is_set():
            pause = self.poll if self.tick() else min(self.poll * 2 ** self._errors, MAX_BACKOFF)
            self._stop.wait(pause)

    def tick(self) -> bool:
        """One pass: dispatch, sweep if due, heartbeat; return whether every step succeeded."""
        ok = True
        self.last_pass = dispatcher.Pass()
        with self.app.app_context():
            # The beat comes last, so that it records what failed in this very pass.
            for step in (self._dispatch, self._sweep_if_due, self._beat):
                try:
                    step()
                except Exception as error:  # noqa: BLE001  (the loop must outlive every error)
                    ok = False
                    self._failed(step.__name__.strip("_"), error)
                finally:
                    db.session.remove()
        self._errors = 0 if ok else self._errors + 1
        return ok

    def _failed(self, step: str, error: Exception) -> None:
        try:
            db.session.rollback()
        except sa.exc.SQLAlchemyError:
            pass
        what = f"{step}: {describe(error)}"
        # An unreachable server is expected now and then: one line. Anything else: the traceback.
        expected = isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError)) or \
            type(error).__module__.startswith("redis")
        log.log(logging.WARNING if expected else logging.ERROR, "scheduler %s: %s; retrying in %.0f s",
                self.name, what, min(self.poll * 2 ** (self._errors + 1), MAX_BACKOFF), exc_info=not expected)
        self._unsaved_error = (what, clock.now())

    def _beat(self) -> None:
        if time.monotonic() < self._next_beat and self._unsaved_error is None:
            return
        row = _heartbeat_row(self.name, self.kind)
        row.kind, row.beat_at, row.stopped_at, row.sweep_interval = self.kind, clock.now(), None, self.sweep_interval
        row.jobs_dispatched, row.dispatched_at = self._dispatched, self._dispatched_at
        if self._unsaved_error is not None:
            row.last_error, row.last_error_at = self._unsaved_error[0][:500], self._unsaved_error[1]
        db.session.commit()
        self._unsaved_error = None
        self._next_beat = time.monotonic() + self.beat_every

    def _dispatch(self) -> None:
        done = self.last_pass = dispatcher.dispatch(self.backend)
        self._dispatched += done.dispatched
        self._dispatched_at = clock.now()

    def _sweep_if_due(self) -> None:
        if not self.sweep_interval or time.monotonic() < self._next_sweep_check:
            return
        self._next_sweep_check = time.monotonic() + min(self.sweep_interval, 30.0)
        previous = claim_sweep(self.name, self.kind, self.sweep_interval)
        if previous is False:
            return
        try:
            report = sweep()
        except Exception:
            db.session.rollback()
            self._unclaim(previous)
            raise
        row = _heartbeat_row(self.name, self.kind)
        row.sweep_finished_at = clock.now()
        row.last_sweep = {k: len(v) if isinstance(v, list) else v for k, v in report.items()}
        db.session.commit()
        log.info("sweep: %d contract(s) ended, %d purge(s) owed, %d stuck, %d usage retention(s), "
                 "controller retention %s", len(report["ended"]), len(report["purge"]), len(report["stuck"]),
                 report["usage_retention"], "owed" if report["controller_retention"] else "not due")

    def _unclaim(self, previous) -> None:
        """Give a failed sweep's claim back, so the fleet sweeps again soon (best effort)."""
        try:
            row = db.session.get(WorkerHeartbeat, self.name)
            row.sweep_started_at = None if previous is True else previous
            db.session.commit()
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
        self._next_sweep_check = 0.0


def start_scheduler(app: Flask, interval: float) -> Scheduler:
    """Without Redis: run the scheduler, with the in-process job thread, inside this (web) process."""
    scheduler = Scheduler(app, in_process(app), kind="in-process", sweep_interval=interval)
    scheduler.start()
    return scheduler
