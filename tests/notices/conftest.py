"""Fixtures of the notices tests: tenants with admins and privacy contacts, staff tokens, the outbox."""
from __future__ import annotations

import email
import email.policy
from datetime import date, datetime, timezone

import pytest

from privacy_saas import clock
from privacy_saas.processor.privacy_contacts import service as privacy_contacts

TODAY = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
#: A new sub-processor, as the API takes it.
CHANGE = {"action": "add", "name": "MailCo", "purpose": "transactional e-mail delivery", "country": "IE",
          "location": "Ireland (Dublin)", "transfer_mechanism": "none needed (EEA)",
          "data_categories": ["contact_details", "identity"]}


@pytest.fixture(autouse=True)
def _eager(app, monkeypatch):
    # Notices are mailed by a job after commit: run it in this thread, in this test's transaction.
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture(autouse=True)
def _today():
    clock.travel_to(TODAY)


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    """The mail written during the test: a list of parsed messages, oldest first (call it)."""
    directory = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(directory))

    def read():
        if not directory.exists():
            return []
        # Mail about a tenant's people is in its own folder (mail.outbox_dir): every folder, by time.
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(directory.rglob("*.eml"), key=lambda p: p.name)]

    return read


@pytest.fixture
def staff_headers(role_headers):
    """Bearer headers of a new staff member of `role` (dpo unless named)."""
    return lambda role="dpo": role_headers(role)


@pytest.fixture
def dpo(staff_headers):
    return staff_headers("dpo")


@pytest.fixture
def client_org(make_keyed_tenant, make_user, make_token, session):
    """A tenant with an admin, a privacy contact and a token: client_org(slug, **tenant fields)."""

    def make(slug: str, *, contact: str | None = None, **fields):
        fields.setdefault("name", f"{slug.title()} Ltd")
        fields.setdefault("contract_start", date(2025, 1, 1))
        tenant = make_keyed_tenant(slug, **fields)
        make_user(tenant, f"admin@{slug}.example", role="admin")
        privacy_contacts.add(tenant, contact or f"dpo@{slug}.example", actor=("test", None))
        session.commit()
        tenant.token = make_token(tenant)
        return tenant

    return make


def mails_to(messages, address: str) -> list:
    return [m for m in messages if m["To"] == address]
