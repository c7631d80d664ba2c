"""Fixtures for the records: two tenants in two regions with users, usage and support, and a register."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from privacy_saas import clock
from tests.helpers import PASSWORD

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
REGISTER = {
    "HostEU": {"scopes": ["processor", "controller"], "data_categories": [], "country": "DE", "tenant_regions": [],
               "safeguards": "processing in the EEA"},
    "MailUS": {"scopes": ["processor", "controller"], "data_categories": ["contact_details", "usage"],
               "country": "US", "tenant_regions": [], "safeguards": "SCCs (2021/914, module 3)"},
    "HostUS": {"scopes": ["processor"], "data_categories": [], "country": "US", "tenant_regions": ["us"],
               "safeguards": "processing in the US"},
    "CrmUS": {"scopes": ["controller"], "data_categories": ["identity", "contact_details"], "country": "US",
              "tenant_regions": [], "safeguards": "EU-US Data Privacy Framework"},
    "Legacy": {"scopes": [], "data_categories": [], "country": None, "tenant_regions": [],
               "safeguards": "DPA"},
}


@dataclass
class Estate:
    acme: object
    globex: object
    acme_users: list
    events: list
    acme_token: str


@pytest.fixture
def estate(session, make_keyed_tenant, make_user, make_token):
    """acme (eu): 3 users, a group of 2, 5 usage events, 2 support requests, 1 invitation, 1 token; globex (us):
    1 user and 2 events; five sub-processors."""
    from privacy_saas.processor.usage import service as usage
    from privacy_saas.processor.users.models import UserGroup, UserGroupMember
    from privacy_saas.subprocessors import service as subprocessors

    clock.travel_to(NOW)
    acme = make_keyed_tenant("acme", name="Acme Ltd", region="eu")
    globex = make_keyed_tenant("globex", name="Globex Corp", region="us", usage_retention="P6M")
    admin = make_user(acme, "admin@acme.example", role="admin", password=PASSWORD, display_name="Ada Admin")
    bob = make_user(acme, "bob@acme.example", display_name="Bob")
    cleo = make_user(acme, "cleo@acme.example", display_name="Cleo", invite=True)
    other = make_user(globex, "zed@globex.example")
    group = UserGroup(tenant_id=acme.id, display_name="Engineering")
    session.add(group)
    session.flush()
    session.add_all(UserGroupMember(tenant_id=acme.id, group_id=group.id, user_id=u.id) for u in (bob, cleo))
    events = [NOW - timedelta(days=d) for d in (120, 60, 30, 2, 1)]
    usage.ingest(acme, [{"user_id": bob.id, "kind": "page_view", "occurred_at": at,
                         "detail": {"path": "/reports", "ip": "192.0.2.7"}} for at in events])
    usage.ingest(globex, [{"user_id": other.id, "kind": "session", "occurred_at": NOW - timedelta(days=d)}
                          for d in (10, 5)])
    usage.record_support_request(acme, bob.id, "Export fails", "The report export stops at 99%.")
    usage.record_support_request(acme, cleo.id, "Access", "Please give me access to reports.")
    for name, entry in REGISTER.items():
        subprocessors.add({"name": name, "purpose": f"{name} service", "location": entry["country"] or "unknown",
                           "dpa_signed_on": None, "last_reviewed_on": None, **entry})
    session.commit()
    return Estate(acme, globex, [admin, bob, cleo], events, make_token(acme))
