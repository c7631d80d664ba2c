"""Contract end, legal holds and what is due: the decisions, not the heavy lifting."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.errors import Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.lifecycle.models import DeletionCertificate, LegalHold
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)


def end_contract(tenant: Tenant, on: date | None = None) -> Tenant:
    """End a tenant's contract (staff offboarding): users and SCIM stop writing from now on."""
    tenant.end_contract(on)
    audit.record("tenant.end_contract", tenant_id=tenant.id, targets=[tenant.id],
                 detail={"contract_end": tenant.contract_end.isoformat(),
                         "purge_due_on": tenant.purge_due_on.isoformat()})
    db.session.flush()
    log.info("contract of tenant %s ended on %s", tenant.slug, tenant.contract_end)
    return tenant


def active_holds(tenant: Tenant) -> list[LegalHold]:
    """Return the tenant's unreleased legal holds."""
    return list(db.session.scalars(
        sa.select(LegalHold).where(LegalHold.tenant_id == tenant.id, LegalHold.released_at.is_(None))
        .order_by(LegalHold.set_at)))


def list_holds(tenant: Tenant) -> list[LegalHold]:
    """Return all of the tenant's legal holds, newest first."""
    return list(db.session.scalars(
        sa.select(LegalHold).where(LegalHold.tenant_id == tenant.id).order_by(LegalHold.set_at.desc())))


def place_hold(tenant: Tenant, reason: str, set_by, until: date | None = None) -> LegalHold:
    """Block the tenant's purge for `reason`."""
    if tenant.status in ("purging", "purged"):
        raise Conflict(f"tenant is {tenant.status}; a legal hold can no longer stop its purge",
                       code="purge_started")
    hold = LegalHold(tenant_id=tenant.id, reason=reason, set_by=set_by, until=until)
    db.session.add(hold)
    db.session.flush()
    audit.record("legal_hold.place", tenant_id=tenant.id, targets=[hold.id],
                 detail={"until": until.isoformat() if until else None})
    return hold


def release_hold(tenant: Tenant, hold_id, released_by) -> LegalHold:
    """Release one of the tenant's legal holds."""
    hold = db.session.get(LegalHold, hold_id)
    if hold is None or hold.tenant_id != tenant.id:
        raise NotFound("no such legal hold")
    hold.release(released_by)
    audit.record("legal_hold.release", tenant_id=tenant.id, targets=[hold.id])
    db.session.flush()
    return hold


@dataclass
class PurgeDecision:
    """Whether a tenant may be purged now, and if not why."""

    tenant: Tenant
    allowed: bool
    reason: str


def purge_decision(tenant: Tenant, today: date | None = None) -> PurgeDecision:
    """Decide whether `tenant` may be purged now."""
    today = today or clock.today()
    if tenant.status == "purged":
        return PurgeDecision(tenant, False, "already purged")
    if tenant.status == "purging":
        return PurgeDecision(tenant, True, "purge in progress; resuming")
    if tenant.status == "active":
        return PurgeDecision(tenant, False, "contract has not ended")
    holds = active_holds(tenant)
    if holds:
        return PurgeDecision(tenant, False, f"on legal hold ({len(holds)}): {holds[0].reason}")
    if not tenant.is_purge_due(today):
        return PurgeDecision(tenant, False, f"retention runs; purge due on {tenant.purge_due_on}")
    return PurgeDecision(tenant, True, "due")


def contracts_to_end(today: date | None = None) -> list[Tenant]:
    """Return active tenants whose last contract day is past."""
    today = today or clock.today()
    return list(db.session.scalars(
        sa.select(Tenant).where(Tenant.status == "active", Tenant.contract_end < today).order_by(Tenant.slug)))


def purge_candidates() -> list[PurgeDecision]:
    """Return the decision for every ended or purging tenant."""
    tenants = db.session.scalars(
        sa.select(Tenant).where(Tenant.status.in_(("ended", "purging"))).order_by(Tenant.slug))
    return [purge_decision(t) for t in tenants]


def certificate(tenant: Tenant) -> DeletionCertificate:
    """Return the tenant's deletion certificate, or raise NotFound."""
    cert = db.session.scalar(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant.id))
    if cert is None:
        raise NotFound("this tenant has no deletion certificate (it has not been purged)",
                       code="no_certificate")
    return cert
