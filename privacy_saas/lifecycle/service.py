"""Contract end, legal holds and what is due: the decisions, not the heavy lifting."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.errors import Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.lifecycle.models import DeletionCertificate, LegalHold
from privacy_saas.processor.tenants.models import Tenant, parse_period

log = logging.getLogger(__name__)


def end_contract(tenant: Tenant, on: date | None = None) -> Tenant:
    """End a tenant's contract (staff offboarding): on a day that has come, users and SCIM stop writing now;
    on a later day, the end is scheduled and the tenant stays active through it."""
    now = tenant.end_contract(on)
    audit.record("tenant.end_contract", tenant_id=tenant.id, targets=[tenant.id],
                 detail={"contract_end": tenant.contract_end.isoformat(),
                         "purge_due_on": tenant.purge_due_on.isoformat(), "scheduled": not now})
    db.session.flush()
    log.info("contract of tenant %s %s on %s", tenant.slug, "ended" if now else "will end", tenant.contract_end)
    return tenant


def reinstate(tenant: Tenant, until: date | None = None) -> Tenant:
    """Renew a tenant's contract before its purge starts (or cancel a scheduled end); it runs until `until`."""
    was, ended_on = tenant.status, tenant.contract_end
    tenant.reinstate(until)
    audit.record("tenant.reinstate", tenant_id=tenant.id, targets=[tenant.id],
                 detail={"was": was, "previous_end": ended_on.isoformat() if ended_on else None,
                         "contract_end": until.isoformat() if until else None})
    db.session.flush()
    log.info("contract of tenant %s reinstated (was %s)", tenant.slug, was)
    return tenant


@dataclass
class Offboarding:
    """What ending a contract on a given day does, and when: the confirmation page states it."""

    tenant: Tenant
    #: The last contract day it would have, and whether users are locked out now (else on the day after).
    last_day: date
    now: bool
    #: Users and SCIM lose access on this day (today when `now`).
    locked_out_on: date
    #: The retention that follows: the return export window (return_then_delete) runs until the day before the purge.
    purge_due_on: date
    export_window: tuple[date, date] | None
    holds: list


def offboarding(tenant: Tenant, on: date | None = None) -> Offboarding:
    """Return what `end_contract(tenant, on)` would do, changing nothing (raises as it would)."""
    today = clock.today()
    last_day = tenant.last_day_if_ended(on)
    now = last_day <= today
    due = last_day + parse_period(tenant.retain_after_end) + timedelta(days=1)
    locked_out_on = today if now else last_day + timedelta(days=1)
    window = (locked_out_on, due - timedelta(days=1)) if tenant.end_action == "return_then_delete" else None
    return Offboarding(tenant=tenant, last_day=last_day, now=now, locked_out_on=locked_out_on,
                       purge_due_on=due, export_window=window, holds=active_holds(tenant))


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


def get_hold(tenant: Tenant, hold_id) -> LegalHold:
    """Return one of the tenant's legal holds, or raise NotFound."""
    hold = db.session.get(LegalHold, hold_id)
    if hold is None or hold.tenant_id != tenant.id:
        raise NotFound("no such legal hold")
    return hold


def release_hold(tenant: Tenant, hold_id, released_by) -> LegalHold:
    """Release one of the tenant's legal holds."""
    hold = get_hold(tenant, hold_id)
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
    #: Active legal holds, when they are what stops it.
    holds: int = 0


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
        return PurgeDecision(tenant, False, f"on legal hold ({len(holds)}): {holds[0].reason}", holds=len(holds))
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
