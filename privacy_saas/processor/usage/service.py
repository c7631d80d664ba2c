"""Ingest usage events and support requests; enforce usage retention."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.datamap.retention import TENANT_USAGE
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant, parse_period
from privacy_saas.processor.tenants.gates import ensure_writable
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
from privacy_saas.processor.users.models import RegisteredUser

#: Events stamped further than this in the future are refused (clock skew allowance).
MAX_FUTURE_SKEW = timedelta(minutes=5)
RETENTION_BATCH = 5000


def _known_users(tenant: Tenant, user_ids) -> dict:
    rows = db.session.execute(
        sa.select(RegisteredUser.id, RegisteredUser.status, RegisteredUser.processing_restricted)
        .where(RegisteredUser.tenant_id == tenant.id, RegisteredUser.id.in_(set(user_ids)))).all()
    return {row.id: row for row in rows}


def ingest(tenant: Tenant, events: list[dict]) -> int:
    """Store a validated batch of events atomically; any bad event refuses the whole batch."""
    ensure_writable(tenant)
    users = _known_users(tenant, [e["user_id"] for e in events])
    horizon = clock.now() + MAX_FUTURE_SKEW
    errors: dict[str, dict] = {}
    for index, event in enumerate(events):
        user = users.get(event["user_id"])
        if user is None:
            errors[str(index)] = {"user_id": ["no such user in this tenant"]}
        elif user.processing_restricted:
            errors[str(index)] = {"user_id": ["processing of this user's data is restricted"]}
        elif event["occurred_at"] > horizon:
            errors[str(index)] = {"occurred_at": ["is in the future"]}
    if errors:
        raise AppError("some events were refused; none were stored", code="invalid_events",
                       errors={"events": errors})
    db.session.add_all(
        UsageEvent(tenant_id=tenant.id, user_id=e["user_id"], kind=e["kind"], occurred_at=e["occurred_at"],
                   detail=e.get("detail"))
        for e in events)
    db.session.flush()
    audit.record("usage.ingest", tenant_id=tenant.id, detail={"events": len(events)})
    return len(events)


def record_support_request(tenant: Tenant, user_id, subject: str, body: str) -> SupportRequest:
    """Store a support request of one of the tenant's users."""
    ensure_writable(tenant)
    if user_id not in _known_users(tenant, [user_id]):
        raise AppError("no such user in this tenant", code="invalid_input",
                       errors={"user_id": ["no such user in this tenant"]})
    request = SupportRequest(tenant_id=tenant.id, user_id=user_id, subject=subject, body=body)
    db.session.add(request)
    db.session.flush()
    audit.record("support_request.create", tenant_id=tenant.id, targets=[request.id])
    return request


def held_about(tenant: Tenant, user_id) -> dict[str, int]:
    """Return how many usage events and support requests the tenant holds about one of its users."""
    return {name: db.session.scalar(sa.select(sa.func.count()).select_from(model)
                                    .where(model.tenant_id == tenant.id, model.user_id == user_id))
            for model, name in ((UsageEvent, "usage_events"), (SupportRequest, "support_requests"))}


def delete_expired_usage(tenant: Tenant, batch: int = RETENTION_BATCH) -> int:
    """Delete one batch of the tenant's events older than its usage retention; return how many."""
    cutoff = clock.now() - parse_period(TENANT_USAGE.tenant_period(tenant))
    ids = db.session.scalars(
        sa.select(UsageEvent.id).where(UsageEvent.tenant_id == tenant.id, UsageEvent.occurred_at < cutoff)
        .limit(batch)).all()
    if not ids:
        return 0
    return db.session.execute(
        sa.delete(UsageEvent).where(UsageEvent.tenant_id == tenant.id, UsageEvent.id.in_(ids))).rowcount
