"""Staff API over contacts: role matrix, create/read/update/erase, consents, suppressions."""
import json
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller.contacts.models import Contact
from privacy_saas.controller.suppression.models import Suppression

NEW = {"email": "Grace.Hopper@Example.com", "name": "Grace Hopper", "phone": "+44 20 7946 0000",
       "company": "Navy Ltd", "job_title": "Rear Admiral", "source": "event", "lawful_basis": "consent"}


def _endpoints(contact_id):
    return [
        ("get", "/api/v1/contacts", None),
        ("post", "/api/v1/contacts", {**NEW, "email": f"{uuid.uuid4().hex[:8]}@example.com"}),
        ("get", f"/api/v1/contacts/{contact_id}", None),
        ("patch", f"/api/v1/contacts/{contact_id}", {"company": "Other Ltd"}),
        ("post", f"/api/v1/contacts/{contact_id}/consents",
         {"purpose": "newsletter", "action": "granted", "evidence": "web form"}),
        ("get", "/api/v1/suppressions", None),
        ("delete", f"/api/v1/contacts/{contact_id}", None),
    ]


def test_anonymous_gets_401_everywhere(client, make_contact):
    contact = make_contact()
    for method, path, body in _endpoints(contact.id) + [("post", "/api/v1/contacts/import", None)]:
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.json["code"] == "unauthorized"


@pytest.mark.parametrize("role,expected", [("support", 403), ("account_manager", None), ("dpo", None),
                                           ("admin", None)])
def test_role_matrix(client, make_contact, role_headers, role, expected):
    headers = role_headers(role)
    for method, path, body in _endpoints(make_contact().id):
        response = getattr(client, method)(path, json=body, headers=headers)
        if expected:
            assert response.status_code == expected, (role, method, path)
            assert response.json["code"] == "forbidden_role"
        else:
            assert response.status_code < 300, (role, method, path, response.json)


def test_support_sees_no_contact_data(client, make_contact, role_headers):
    make_contact(email="secret@example.com")
    response = client.get("/api/v1/contacts", headers=role_headers("support"))
    assert response.status_code == 403
    assert b"secret@example.com" not in response.data


def test_create_read_and_list(client, ready, admin_headers):
    response = client.post("/api/v1/contacts", json=NEW, headers=admin_headers)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["email"] == "Grace.Hopper@Example.com"
    assert created["marketing_email"] == {"allowed": False, "reason": "no_consent"}
    row = ready.get(Contact, uuid.UUID(created["id"]))
    assert b"Hopper" not in row.name_ct and b"Example" not in row.email_ct
    detail = client.get(f"/api/v1/contacts/{created['id']}", headers=admin_headers).json
    assert detail["name"] == "Grace Hopper" and detail["consents"] == []
    listing = client.get("/api/v1/contacts?email=grace.hopper@example.com", headers=admin_headers)
    assert [c["id"] for c in listing.json] == [created["id"]]
    assert json.loads(listing.headers["X-Pagination"])["total"] == 1
    assert client.get("/api/v1/contacts?email=nobody@example.com", headers=admin_headers).json == []


def test_duplicate_email_is_a_conflict(client, make_contact, admin_headers):
    make_contact(email="dup@example.com")
    response = client.post("/api/v1/contacts", json={**NEW, "email": " DUP@example.com "}, headers=admin_headers)
    assert response.status_code == 409
    assert response.json["code"] == "contact_exists"


@pytest.mark.parametrize("field,value", [("email", "not-an-address"), ("source", "phonebook"),
                                         ("lawful_basis", "vibes"), ("phone", "call me maybe"),
                                         ("name", "x" * 201)])
def test_bad_input_gives_field_errors(client, ready, admin_headers, field, value):
    response = client.post("/api/v1/contacts", json={**NEW, field: value}, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["code"] == "invalid_input"
    assert field in response.json["errors"]
    assert ready.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_patch_reviewed_restarts_the_clock_and_email_change_moves_the_index(client, make_contact, admin_headers):
    from privacy_saas import clock
    from privacy_saas.controller.contacts import service

    clock.travel_to(datetime(2026, 5, 4, 10, 30, tzinfo=timezone.utc))
    contact = make_contact(email="old@example.com")
    response = client.patch(f"/api/v1/contacts/{contact.id}", json={"reviewed": True, "email": "new@example.com",
                                                                     "do_not_contact": True},
                            headers=admin_headers)
    assert response.status_code == 200, response.json
    assert response.json["last_reviewed_at"] == "2026-05-04T10:30:00+00:00"
    assert response.json["marketing_email"]["reason"] == "do_not_contact"
    assert service.find_by_email("new@example.com").id == contact.id
    assert service.find_by_email("old@example.com") is None


def test_patch_to_a_suppressed_address_is_refused(client, make_contact, admin_headers):
    from privacy_saas.controller.contacts import service

    service.erase(make_contact(email="gone@example.com"))
    contact = make_contact(email="here@example.com")
    response = client.patch(f"/api/v1/contacts/{contact.id}", json={"email": "gone@example.com"},
                            headers=admin_headers)
    assert response.status_code == 409 and response.json["code"] == "suppressed"


def test_delete_erases_and_suppresses(client, ready, make_contact, admin_headers):
    from privacy_saas.controller.contacts import service

    contact = make_contact(email="erase.me@example.com")
    service.record_consent(contact, "newsletter", "granted", "web form")
    assert client.delete(f"/api/v1/contacts/{contact.id}", headers=admin_headers).status_code == 204
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=admin_headers).status_code == 404
    assert ready.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    entry = ready.scalars(sa.select(Suppression)).one()
    assert entry.reason == "erasure" and len(entry.email_hash) == 32
    again = client.post("/api/v1/contacts", json={**NEW, "email": "Erase.Me@example.com"}, headers=admin_headers)
    assert again.status_code == 409
    assert again.json["code"] == "suppressed"
    assert "suppression list" in again.json["message"] and "erasure" in again.json["message"]


def test_consent_endpoint_validates_purpose_and_logs(client, make_contact, admin_headers):
    contact = make_contact(lawful_basis="consent")
    path = f"/api/v1/contacts/{contact.id}/consents"
    bad = client.post(path, json={"purpose": "telepathy", "action": "granted", "evidence": "x y z"},
                      headers=admin_headers)
    assert bad.status_code == 400 and "purpose" in bad.json["errors"]
    future = client.post(path, json={"purpose": "newsletter", "action": "granted", "evidence": "form",
                                     "at": "2999-01-01T00:00:00Z"}, headers=admin_headers)
    assert future.status_code == 400 and "at" in future.json["errors"]
    ok = client.post(path, json={"purpose": "marketing_email", "action": "granted", "evidence": "signed up at stand"},
                     headers=admin_headers)
    assert ok.status_code == 201 and ok.json["evidence"] == "signed up at stand"
    detail = client.get(f"/api/v1/contacts/{contact.id}", headers=admin_headers).json
    assert detail["live_consents"] == ["marketing_email"]
    assert detail["marketing_email"] == {"allowed": True, "reason": "consent"}


def test_suppressions_endpoint_gives_counts_and_dates_only(client, make_contact, admin_headers):
    from privacy_saas.controller.contacts import service

    for n in range(3):
        service.erase(make_contact(email=f"s{n}@example.com"))
    body = client.get("/api/v1/suppressions", headers=admin_headers).json
    assert body["total"] == 3 and body["by_reason"]["erasure"] == 3
    assert sum(m["count"] for m in body["by_month"]) == 3
    assert set(body) == {"total", "by_reason", "by_month", "first_at", "last_at"}


def test_audit_records_ids_and_counts_only(client, make_contact, admin_headers, ready):
    contact = make_contact(email="audited@example.com")
    client.get(f"/api/v1/contacts/{contact.id}", headers=admin_headers)
    client.delete(f"/api/v1/contacts/{contact.id}", headers=admin_headers)
    entries = ready.scalars(sa.select(AuditEntry).where(AuditEntry.scope == "controller")
                            .order_by(AuditEntry.seq)).all()
    assert [e.action for e in entries] == ["contact.create", "contact.read", "contact.erasure"]
    assert all(str(contact.id) in e.targets for e in entries)
    assert "audited" not in json.dumps([e.detail for e in entries] + [e.targets for e in entries])
    assert entries[1].actor_kind == "staff"


def test_unreadable_contact_is_marked_not_a_500(client, make_contact, admin_headers, ready):
    good = make_contact(email="good@example.com")
    bad = make_contact(email="bad@example.com")
    # Move a ciphertext to another row: its AAD no longer matches, so it fails to decrypt.
    bad.name_ct = good.name_ct
    ready.flush()
    ready.expire_all()
    listing = client.get("/api/v1/contacts", headers=admin_headers)
    assert listing.status_code == 200
    by_id = {c["id"]: c for c in listing.json}
    assert by_id[str(bad.id)]["unreadable"] is True and by_id[str(bad.id)]["email"] is None
    assert by_id[str(good.id)]["unreadable"] is False and by_id[str(good.id)]["name"] == "Ada Lovelace"
    assert client.get(f"/api/v1/contacts/{bad.id}", headers=admin_headers).json["unreadable"] is True


def test_unknown_contact_is_404(client, ready, admin_headers):
    response = client.get(f"/api/v1/contacts/{uuid.uuid4()}", headers=admin_headers)
    assert response.status_code == 404 and response.json["code"] == "not_found"


def test_openapi_lists_controller_endpoints(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/v1/contacts", "/api/v1/contacts/{contact_id}", "/api/v1/contacts/{contact_id}/consents",
                 "/api/v1/contacts/import", "/api/v1/suppressions", "/api/v1/subprocessors"):
        assert path in paths


def test_export_subject_holds_everything_and_is_audited(make_contact, ready):
    from privacy_saas.controller.contacts import service
    from privacy_saas.controller.records import service as records

    contact = make_contact(email="me@example.com", phone="+1 555 0100")
    service.record_consent(contact, "events", "granted", "RSVP form")
    records.record_activity("download", "/guide.pdf?utm=x", contact_id=contact.id)
    document = service.export_subject(contact)
    assert document["contact"]["email"] == "me@example.com" and document["contact"]["phone"] == "+1 555 0100"
    assert [c["purpose"] for c in document["consents"]] == ["events"]
    assert document["website_activity"][0]["path"] == "/guide.pdf"
    json.dumps(document)
    ready.commit()  # entries join their chain when the transaction commits
    assert ready.scalar(sa.select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(1)) == "contact.export"


@pytest.mark.parametrize("data,field", [({"email": "nope"}, "email"), ({"source": "tenant_users"}, "source"),
                                        ({"lawful_basis": "because"}, "lawful_basis")])
def test_service_validates_callers_other_than_the_api(ready, data, field):
    from privacy_saas.controller.contacts import service
    from privacy_saas.errors import AppError

    with pytest.raises(AppError) as raised:
        service.create({"email": "ok@example.com", "source": "event", "lawful_basis": "consent", **data})
    assert raised.value.code == "invalid_input" and field in raised.value.errors
