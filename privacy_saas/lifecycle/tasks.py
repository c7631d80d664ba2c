"""Lifecycle jobs: purge and return export. They take ids only (the sweep that owes them: jobs/scheduler.py)."""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from privacy_saas import audit, rls
from privacy_saas.extensions import db
from privacy_saas.jobs import service as jobs
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.context import RetryLater, last_attempt, report_progress
from privacy_saas.lifecycle import export as exports
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.models import PurgeRun, TenantExport
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)

#: The purge job, as job rows name it.
PURGE_JOB = "privacy_saas.lifecycle.tasks.purge_tenant"


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
    """Where a tenant's purge stands: its checkpointed run, its latest job, whether it is stuck."""

    tenant: Tenant
    run: PurgeRun | None
    job: Job | None
    stuck: bool


def purge_status(tenant: Tenant) -> PurgeStatus:
    """Return the tenant's purge run (if started), its latest purge job (if any), and whether it is stuck."""
    run = db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    latest = jobs.for_tenant(tenant.id, name=PURGE_JOB, limit=1)
    stuck = any(t.id == tenant.id for t, _ in purge.stuck_purges())
    return PurgeStatus(tenant=tenant, run=run, job=latest[0] if latest else None, stuck=stuck)
