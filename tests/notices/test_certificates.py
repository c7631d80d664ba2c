"""After the purge, the deletion certificate reaches the tenant's admins and privacy contacts."""
import json
from datetime import date

import pytest
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.crypto.models import DataKey
from privacy_saas.crypto.signing import verify_document
from privacy_saas.lifecycle import certificates as signing
from privacy_saas.lifecycle import purge
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.notices import certificates
from privacy_saas.notices.models import CertificateDelivery, Notice, delivery_scope
from privacy_saas.processor.privacy_contacts.models import PrivacyContact
from tests.helpers import bearer
from tests.notices.conftest import mails_to


@pytest.fixture
def ended(client_org, session, client, dpo):
    """A tenant whose retention is over, told of one breach before it ended."""
    tenant = client_org("acme", contract_end=date(2025, 1, 31))
    client.post("/api/v1/breaches", headers=dpo, json={
        "scope": "processor", "tenants": ["acme"], "occurred_at": "2025-01-10T00:00:00Z",
        "aware_at": "2025-01-11T00:00:00Z", "nature": "lost laptop", "notify": True})
    tenant.end_contract(date(2025, 1, 31))
    session.commit()
    return tenant


def certificate_mails(messages):
    return [m for m in messages if "Deletion certificate" in m["Subject"]]


def test_the_certificate_is_mailed_after_the_purge_and_the_addresses_then_shredded(session, app, ended, outbox):
    assert purge.purge_tenant(ended.id) == "purged"
    mails = certificate_mails(outbox())
    assert sorted(m["To"] for m in mails) == ["admin@acme.example", "dpo@acme.example"]
    body = mails_to(mails, "dpo@acme.example")[0].get_content()
    signed = json.loads(body[body.index("{"):])
    assert verify_document(signing.public_pem(), signed)
    assert signed["certificate"]["tenant"]["slug"] == "acme"
    # The recipients were sealed under a key of their own, destroyed once mailed.
    session.expire_all()
    held = session.get(CertificateDelivery, ended.id)
    assert held.recipients_ct is None and held.recipients_count == 2 and held.sent_at is not None
    keys = session.scalars(sa.select(DataKey).where(DataKey.scope == delivery_scope(ended.id))).all()
    assert keys and all(k.destroyed_at is not None and k.wrapped is None for k in keys)
    # The contacts themselves went with the purge; the record of what the tenant was told stays.
    assert session.scalar(sa.select(sa.func.count()).select_from(PrivacyContact)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Notice).where(Notice.tenant_id == ended.id)) == 1
    assert session.scalar(sa.select(AuditEntry.detail).where(AuditEntry.action == "certificate.mailed")) == {
        "recipients": 2}


def test_a_mail_server_down_at_the_end_of_the_purge_is_retried_by_the_scheduler(session, app, ended, outbox,
                                                                                 monkeypatch):
    real = certificates.deliver

    def smtp_down(tenant_id):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(certificates, "deliver", smtp_down)
    assert purge.purge_tenant(ended.id) == "purged"
    assert certificate_mails(outbox()) == []
    monkeypatch.setattr(certificates, "deliver", real)
    assert sweep()["notices"]["certificates_mailed"] == 1
    assert len(certificate_mails(outbox())) == 2
    assert sweep()["notices"]["certificates_mailed"] == 0
    assert len(certificate_mails(outbox())) == 2


def test_a_purged_tenants_token_no_longer_reads_its_notices(client, session, ended):
    assert purge.purge_tenant(ended.id) == "purged"
    # Its tokens went with the purge (and the notices of a tenant being purged are not served either).
    assert client.get("/api/v1/notices", headers=bearer(ended.token)).status_code == 401
