"""Seeding for lifecycle tests: tenants with keys, users, usage, support requests."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.extensions import db
from privacy_saas.lifecycle.purge import purge_tables
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.usage.models import EVENT_KINDS, SupportRequest, UsageEvent
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import new_tenant


def seed(slug: str, *, users: int = 3, events_per_user: int = 4, support: int = 1, status: str = "active",
         contract_end: date | None = None, end_action: str = "delete", **fields) -> Tenant:
    """Create a tenant with keys and personal data; returns it (flushed, not committed)."""
    tenant = new_tenant(slug, contract_start=date(2020, 1, 1), contract_end=contract_end, end_action=end_action,
                        **fields)
    scope = tenant_scope(tenant.id)
    now = clock.now()
    for n in range(users):
        email = f"user{n}@{slug}.example"
        user = RegisteredUser(tenant_id=tenant.id, email=email, display_name=f"User {n} of {slug}",
                              email_bidx=keyring().email_index(scope, email), user_name=email,
                              user_name_bidx=keyring().email_index(scope, email), role="admin" if n == 0 else "member")
        db.session.add(user)
        db.session.flush()
        for e in range(events_per_user):
            db.session.add(UsageEvent(tenant_id=tenant.id, user_id=user.id, kind=EVENT_KINDS[e % len(EVENT_KINDS)],
                                      occurred_at=now - timedelta(days=40 * e), detail={"path": f"/reports/{e}"}))
        for _ in range(support if n == 0 else 0):
            db.session.add(SupportRequest(tenant_id=tenant.id, user_id=user.id, subject="Cannot log in",
                                          body=f"Please help, {email}"))
    db.session.flush()
    if status != "active":
        tenant.end_contract(contract_end)
    db.session.flush()
    return tenant


def rows_of(tenant_id) -> dict:
    """Count the tenant's rows in every purgeable table."""
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id))
            for t in purge_tables()}


@pytest.fixture
def seeded(session):
    return seed
