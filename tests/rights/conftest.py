"""Fixtures of the rights tests: one person known to the vendor and to two tenants."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from privacy_saas import clock
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import bearer

EMAIL = "Grace.Hopper@Example.com"


@pytest.fixture(autouse=True)
def _eager(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture
def make_subject(session):
    """Create a data subject: a registered user with `events` usage events and `support` support requests."""

    def make(tenant, email: str | None = None, events: int = 3, support: int = 1, **fields):
        email = email or f"u-{uuid.uuid4().hex[:8]}@example.org"
        user = RegisteredUser(tenant_id=tenant.id, email=email, display_name=fields.pop("display_name", "Grace"),
                              email_bidx=keyring().email_index(tenant_scope(tenant.id), email), user_name=email,
                              user_name_bidx=keyring().email_index(tenant_scope(tenant.id), email), **fields)
        session.add(user)
        session.flush()
        now = clock.now()
        for n in range(events):
            session.add(UsageEvent(tenant_id=tenant.id, user_id=user.id, kind="page_view",
                                   occurred_at=now - timedelta(days=n), detail={"path": f"/p/{n}"}))
        for _ in range(support):
            session.add(SupportRequest(tenant_id=tenant.id, user_id=user.id, subject="Help", body="Cannot log in"))
        session.flush()
        return user

    return make


@pytest.fixture
def tenant_headers(make_token):
    """Return bearer headers of a new token of `tenant`."""
    return lambda tenant: bearer(make_token(tenant))


@pytest.fixture
def world(session, make_keyed_tenant, make_subject):
    """Grace is a vendor contact and a user of tenants A and B (plus bystanders everywhere)."""
    ensure_ready()
    contact = contacts.create({"email": EMAIL.lower(), "name": "Grace Hopper", "source": "event",
                               "lawful_basis": "legitimate_interest"})
    other_contact = contacts.create({"email": "someone@else.org", "name": "Someone", "source": "event",
                                     "lawful_basis": "consent"})
    a, b, c = make_keyed_tenant("alpha"), make_keyed_tenant("beta"), make_keyed_tenant("gamma")
    users = {"user_a": make_subject(a, EMAIL.lower(), events=4, support=2),
             "user_b": make_subject(b, EMAIL.lower(), events=3),
             "a_other": make_subject(a, "bystander@alpha.example"), "c_other": make_subject(c, "x@gamma.example")}
    session.commit()
    return {"contact": contact, "other_contact": other_contact, "a": a, "b": b, "c": c, **users}
