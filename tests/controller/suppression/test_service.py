"""Suppression list: unsubscribe links, refusal of suppressed addresses, the key check."""
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller.contacts import importer, service
from privacy_saas.controller.contacts.models import ConsentEvent, Contact
from privacy_saas.controller.records import service as records
from privacy_saas.controller.records.models import WebsiteActivity
from privacy_saas.controller.suppression import service as suppression
from privacy_saas.controller.suppression.models import Suppression
from tests.helpers import bearer


def _count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_get_shows_a_confirmation_and_changes_nothing(client, make_contact, ready):
    contact = make_contact(email="ada@example.com")
    token = service.unsubscribe_token(contact)
    response = client.get(f"/unsubscribe/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'method="post"' in page and "ada@example.com" not in page
    assert _count(ready, Suppression) == 0 and _count(ready, Contact) == 1


def test_post_suppresses_and_deletes_without_csrf_token(client, make_contact, ready):
    contact = make_contact(email="ada@example.com")
    service.record_consent(contact, "newsletter", "granted", "web form")
    records.record_activity("page_view", "/pricing?email=ada@example.com", visitor_id="cookie-1",
                            contact_id=contact.id)
    ready.commit()
    token = service.unsubscribe_token(contact)
    response = client.post(f"/unsubscribe/{token}")
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert _count(ready, Contact) == 0 and _count(ready, ConsentEvent) == 0
    assert _count(ready, WebsiteActivity) == 0
    entry = ready.scalars(sa.select(Suppression)).one()
    assert entry.reason == "unsubscribe" and entry.email_hash == suppression.email_hash("ADA@example.com ")
    audit = ready.scalars(sa.select(AuditEntry).where(AuditEntry.action == "contact.unsubscribe")).one()
    assert audit.actor_kind == "subject" and audit.targets == [str(contact.id)]
    # A second click (or a mail client's retry) is harmless.
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert _count(ready, Suppression) == 1
    assert "You are unsubscribed" in client.get(f"/unsubscribe/{token}").get_data(as_text=True)


def test_rfc8058_one_click_post(client, make_contact, ready):
    token = service.unsubscribe_token(make_contact())
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and _count(ready, Suppression) == 1


def test_tampered_or_foreign_tokens_are_refused(client, make_contact, ready, app):
    from itsdangerous import URLSafeSerializer

    contact = make_contact()
    token = service.unsubscribe_token(contact)
    forged = URLSafeSerializer("another secret", salt="privacy_saas.controller.unsubscribe").dumps(
        [str(contact.id), "AAAA"])
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nonsense"):
        assert client.get(f"/unsubscribe/{bad}").status_code == 400
        assert client.post(f"/unsubscribe/{bad}").status_code == 400
    assert _count(ready, Suppression) == 0 and _count(ready, Contact) == 1


def test_token_binds_the_address_it_was_sent_to(client, make_contact, ready):
    contact = make_contact(email="old@example.com")
    token = service.unsubscribe_token(contact)
    service.update(contact, {"email": "new@example.com"})
    ready.commit()
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert _count(ready, Contact) == 1
    assert suppression.is_suppressed("old@example.com") and not suppression.is_suppressed("new@example.com")


def test_unsubscribe_then_reimport_is_refused_and_counted(client, make_contact, ready):
    contact = make_contact(email="ada@example.com")
    client.post(f"/unsubscribe/{service.unsubscribe_token(contact)}")
    data = b"email,name\nbob@example.com,Bob\n Ada@Example.com ,Ada Again\ncarol@example.com,Carol\n"
    report = importer.import_file(data, source="email_database", basis="legitimate_interest")
    assert (report.created, report.suppressed, report.suppressed_lines) == (2, 1, [3])
    assert service.find_by_email("ada@example.com") is None
    assert _count(ready, Contact) == 2


def test_create_of_a_suppressed_address_is_refused_with_a_reason(make_contact, ready):
    import pytest

    service.erase(make_contact(email="gone@example.com"))
    with pytest.raises(service.Suppressed) as raised:
        make_contact(email="GONE@example.com")
    assert "suppression list" in raised.value.message and "erasure" in raised.value.message
    assert raised.value.status == 409


def test_suppression_stores_no_plaintext(make_contact, ready):
    service.erase(make_contact(email="private@example.com"))
    for row in ready.execute(sa.text("SELECT * FROM suppressions")).all():
        assert not any(isinstance(v, str) and "private" in v for v in row)
        assert not any(isinstance(v, (bytes, memoryview)) and b"private" in bytes(v) for v in row)


def test_suppression_hash_is_not_the_contact_blind_index(ready):
    # Same key, separate domains: the suppression list cannot be joined to contacts.
    assert suppression.email_hash("a@example.com")[:16] != service.email_index("a@example.com")


def test_a_changed_index_key_fails_closed(make_contact, ready, app):
    """If the controller index key were rotated, suppressed people would silently come back: refuse instead."""
    import pytest

    from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, keyring

    service.erase(make_contact(email="gone@example.com"))
    ring = keyring()
    ring.destroy_versions(CONTROLLER_SCOPE, versions=[1], purposes=("index",))
    ring._add(CONTROLLER_SCOPE, "index", 2, ring.custody(CONTROLLER_SCOPE))
    ready.flush()
    ring._cache.pop(CONTROLLER_SCOPE)
    with pytest.raises(suppression.SuppressionKeyChanged):
        make_contact(email="gone@example.com")
    with pytest.raises(suppression.SuppressionKeyChanged):
        importer.import_file(b"email\ngone@example.com\n", source="event", basis="legitimate_interest")


def test_suppression_summary_via_api_for_a_fresh_install(client, session, make_staff):
    from privacy_saas.auth import tokens

    staff, _ = make_staff("dpo")
    token = tokens.issue(kind="staff", name="t", staff_id=staff.id)[1]
    body = client.get("/api/v1/suppressions", headers=bearer(token)).json
    assert body["total"] == 0 and body["first_at"] is None
