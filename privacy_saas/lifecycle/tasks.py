"""Lifecycle jobs: purge and return export. They take ids only (the sweep that owes them: jobs/scheduler.py)."""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from privacy_saas import audit, clock, rls
from privacy_saas.errors import Conflict
from privacy_saas.extensions import db
from privacy_saas.jobs import queue as jobs_queue
from privacy_saas.jobs import service as jobs
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.context import RetryLater, last_attempt, report_progress
from privacy_saas.lifecycle import export as exports
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.models import PurgeRun, TenantExport
from privacy_saas.lifecycle.service import PurgeDecision, purge_decision
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)

#: The purge job, as job rows name it.
PURGE_JOB = "privacy_saas.lifecycle.tasks.purge_tenant"


def purge_dedupe(tenant_id) -> str:
    """Return the dedupe key of a tenant's purge job: one owed purge per tenant."""
    return f"purge:{tenant_id}"


def owe_purge(tenant: Tenant) -> Job:
    """Owe the tenant's purge job (once: an owed one is returned); never dead, retried until it finishes."""
    return jobs_queue.enqueue(PURGE_JOB, str(tenant.id), tenant_id=tenant.id, dedupe=purge_dedupe(tenant.id),
                              max_attempts=None)


def purge_now(tenant: Tenant) -> Job:
    """Start a due tenant's purge now instead of at the next sweep (staff); refused when it may not run."""
    decision = purge_decision(tenant)
    if not decision.allowed:
        raise Conflict(f"{tenant.slug} cannot be purged now: {decision.reason}", code="purge_not_allowed")
    job = owe_purge(tenant)
    audit.record("purge.requested", tenant_id=tenant.id, targets=[tenant.id, job.id])
    return job


def purge_tenant(tenant_id: str) -> str:
    """Job: purge one tenant (resuming if a previous run died); return what happened.

    Another worker's live lease is not a success: the job comes back when that lease can have
    run out (the other worker may be dead), and again until the purge is done.
    """
    try:
        return purge.purge_tenant(tenant_id, progress=report_progress)
    except purge.PurgeBusy as busy:
        # A little after the lease ends, spread so that waiting retries do not meet again.
        raise RetryLater(busy.lease_until + timedelta(seconds=random.uniform(1, 5)), str(busy)) from busy


def build_export(tenant_id: str, export_id: str) -> None:
    """Job: build a return export (marked failed only once its retries are used up)."""
    rls.scope_to_tenant(uuid.UUID(tenant_id))
    tenant = db.session.get(Tenant, uuid.UUID(tenant_id))
    export = db.session.get(TenantExport, (uuid.UUID(tenant_id), uuid.UUID(export_id)))
    if tenant is None or export is None or export.status != "pending":
        return
    try:
        exports.build(tenant, export)
        audit.record("export.ready", tenant_id=tenant.id, targets=[export.id], actor=("system", None),
                     detail={"bytes": export.size_bytes})
    except Exception:
        db.session.rollback()
        if last_attempt():
            export = db.session.get(TenantExport, (uuid.UUID(tenant_id), uuid.UUID(export_id)))
            export.status = "failed"
            audit.record("export.failed", tenant_id=tenant.id, targets=[export.id], outcome="failed",
                         actor=("system", None))
            db.session.commit()
        raise
    db.session.commit()


@dataclass
class PurgeStatus:
    """Where a tenant's purge stands: its checkpointed run, its latest job, whether it is stuck, and in a word."""

    tenant: Tenant
    run: PurgeRun | None
    job: Job | None
    stuck: bool
    decision: PurgeDecision
    #: scheduled, not_ended, waiting, held, due, queued, retrying, running, stuck, done.
    phase: str
    #: When the row deletion should be done at its pace so far (running only).
    eta: datetime | None = None


def _phase(tenant: Tenant, run: PurgeRun | None, job: Job | None, stuck: bool, decision: PurgeDecision) -> str:
    if tenant.status == "purged":
        return "done"
    if stuck:
        return "stuck"
    if job is not None and not job.finished and job.attempts and job.last_error and job.status == "pending":
        return "retrying"
    if run is not None and run.finished_at is None:
        return "running"
    if job is not None and not job.finished:
        return "queued"
    if tenant.status == "active":
        return "scheduled" if tenant.contract_end is not None and tenant.contract_end >= clock.today() else "not_ended"
    if decision.allowed:
        return "due"
    return "held" if decision.holds else "waiting"


def purge_status(tenant: Tenant) -> PurgeStatus:
    """Return the tenant's purge run (if started), its latest purge job (if any), whether it is stuck, its phase."""
    run = db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    latest = jobs.for_tenant(tenant.id, name=PURGE_JOB, limit=1)
    job = latest[0] if latest else None
    stuck = any(t.id == tenant.id for t, _ in purge.stuck_purges())
    decision = purge_decision(tenant)
    phase = _phase(tenant, run, job, stuck, decision)
    return PurgeStatus(tenant=tenant, run=run, job=job, stuck=stuck, decision=decision, phase=phase,
                       eta=run.eta(clock.now()) if run is not None and phase == "running" else None)
