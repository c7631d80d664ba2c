"""Lifecycle jobs: the scheduler sweep, purge, return export. They take ids only."""
from __future__ import annotations

import logging
import uuid

from privacy_saas import audit, rls
from privacy_saas.extensions import db
from privacy_saas.jobs.queue import enqueue, report_progress
from privacy_saas.lifecycle import export as exports
from privacy_saas.lifecycle import purge, service
from privacy_saas.lifecycle.models import TenantExport
from privacy_saas.notices import tasks as notices
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)


def purge_tenant(tenant_id: str) -> str:
    """Job: purge one tenant (resuming if a previous run died)."""
    try:
        return purge.purge_tenant(tenant_id, progress=report_progress)
    except purge.PurgeBusy as exc:
        log.info("%s", exc)
        return "busy"


def build_export(tenant_id: str, export_id: str) -> None:
    """Job: build a return export."""
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
        export = db.session.get(TenantExport, (uuid.UUID(tenant_id), uuid.UUID(export_id)))
        export.status = "failed"
        audit.record("export.failed", tenant_id=tenant.id, targets=[export.id], outcome="failed",
                     actor=("system", None))
        db.session.commit()
        raise
    db.session.commit()


def sweep(dry_run: bool = False) -> dict:
    """End contracts that are over; queue due purges, usage retention and the quarterly controller sweep."""
    report = {"ended": [], "purge": [], "held_or_waiting": [], "usage_retention": 0, "controller_retention": False}
    for tenant in service.contracts_to_end():
        report["ended"].append(tenant.slug)
        if not dry_run:
            service.end_contract(tenant, tenant.contract_end)
    if not dry_run:
        db.session.commit()
    for decision in service.purge_candidates():
        if decision.allowed:
            report["purge"].append(decision.tenant.slug)
            if not dry_run:
                enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(decision.tenant.id))
        else:
            report["held_or_waiting"].append(f"{decision.tenant.slug}: {decision.reason}")
    if not dry_run:
        from privacy_saas.processor.tenants import service as tenants

        for tenant in tenants.list_all(status="active"):
            enqueue("privacy_saas.processor.usage.tasks.enforce_usage_retention", str(tenant.id))
            report["usage_retention"] += 1
        from privacy_saas.controller.tasks import sweep_is_due

        report["controller_retention"] = sweep_is_due()
        if report["controller_retention"]:
            enqueue("privacy_saas.controller.tasks.retention_sweep")
        # A sweep that changed nothing is not worth an entry every five minutes.
        if report["ended"] or report["purge"] or report["controller_retention"]:
            audit.record("scheduler.sweep", actor=("system", None),
                         detail={"ended": len(report["ended"]), "purges_queued": len(report["purge"]),
                                 "controller_retention": report["controller_retention"]})
        db.session.commit()
    # Sub-processor changes due, late notices, breach deadline warnings, certificate mail (commits itself).
    report["notices"] = notices.sweep(dry_run=dry_run)
    return report
