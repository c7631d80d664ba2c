"""The sub-processor register: API roles, dated changes, the read-only list for tenant consoles."""
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.subprocessors import service
from tests.helpers import bearer

ENTRY = {"name": "MailCo", "purpose": "transactional e-mail delivery", "location": "EU (Ireland)",
         "safeguards": "processing in the EU; DPA", "dpa_signed_on": "2025-01-10", "last_reviewed_on": "2025-06-01"}


@pytest.fixture
def headers(session, make_staff):
    from privacy_saas.auth import tokens

    def make(role):
        staff, _ = make_staff(role)
        token = tokens.issue(kind="staff", name="t", staff_id=staff.id)[1]
        session.commit()
        return bearer(token)

    return make


@pytest.mark.parametrize("role,can_write", [("support", False), ("account_manager", False), ("dpo", True),
                                            ("admin", True)])
def test_roles(client, headers, role, can_write):
    h = headers(role)
    assert client.get("/api/v1/subprocessors", headers=h).status_code == 200
    response = client.post("/api/v1/subprocessors", json=ENTRY, headers=h)
    assert response.status_code == (201 if can_write else 403)


def test_anonymous_is_401(client, session):
    assert client.get("/api/v1/subprocessors").status_code == 401


def test_add_change_remove_keeps_dated_history(client, headers, session):
    h = headers("dpo")
    clock.travel_to(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc))
    created = client.post("/api/v1/subprocessors", json=ENTRY, headers=h).json
    assert created["added_at"] == "2026-01-05T09:00:00+00:00" and created["removed_at"] is None
    clock.travel_to(datetime(2026, 2, 1, tzinfo=timezone.utc))
    changed = client.patch(f"/api/v1/subprocessors/{created['id']}", json={"location": "EU (Germany)"}, headers=h)
    assert changed.status_code == 200 and changed.json["location"] == "EU (Germany)"
    removed = client.delete(f"/api/v1/subprocessors/{created['id']}", headers=h)
    assert removed.json["removed_at"] == "2026-02-01T00:00:00+00:00"
    assert client.get("/api/v1/subprocessors", headers=h).json == []
    history = client.get("/api/v1/subprocessors?include_removed=true", headers=h).json
    assert [e["id"] for e in history] == [created["id"]]
    assert client.patch(f"/api/v1/subprocessors/{created['id']}", json={"name": "X"}, headers=h).status_code == 409
    actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("subprocessor.%"))
                              .order_by(AuditEntry.seq)).all()
    assert actions == ["subprocessor.add", "subprocessor.update", "subprocessor.remove"]


@pytest.mark.parametrize("field,value", [("name", ""), ("dpa_signed_on", "not a date"), ("location", None)])
def test_bad_input(client, headers, field, value):
    response = client.post("/api/v1/subprocessors", json={**ENTRY, field: value}, headers=headers("admin"))
    assert response.status_code == 400 and field in response.json["errors"]


def test_future_review_date_is_refused(client, headers):
    response = client.post("/api/v1/subprocessors", json={**ENTRY, "last_reviewed_on": "2999-01-01"},
                           headers=headers("admin"))
    assert response.status_code == 400 and "last_reviewed_on" in response.json["errors"]


def test_list_for_tenant_consoles_and_review_overdue(session):
    clock.travel_to(datetime(2026, 3, 1, tzinfo=timezone.utc))
    old = service.add({**ENTRY, "name": "Old", "dpa_signed_on": None, "last_reviewed_on": date(2024, 12, 1)})
    new = service.add({**ENTRY, "name": "New", "dpa_signed_on": None, "last_reviewed_on": date(2026, 2, 1)})
    assert [e.name for e in service.list_subprocessors()] == ["New", "Old"]
    assert service.review_overdue(old) and not service.review_overdue(new)


def test_register_partial_renders_read_only(app, session):
    from flask import render_template

    service.add({**ENTRY, "dpa_signed_on": None, "last_reviewed_on": None})
    with app.test_request_context("/console/"):
        html = render_template("console/subprocessors/_register.html", subprocessors=service.list_subprocessors())
    assert "MailCo" in html and "<a " not in html and "<form" not in html


def test_what_it_receives_is_recorded_and_validated(client, headers):
    h = headers("dpo")
    created = client.post("/api/v1/subprocessors", headers=h, json={
        **ENTRY, "scopes": ["processor", "processor"], "data_categories": ["usage", "contact_details"],
        "country": "US", "tenant_regions": ["us"]})
    assert created.status_code == 201
    assert {k: created.json[k] for k in ("scopes", "data_categories", "country", "tenant_regions")} == {
        "scopes": ["processor"], "data_categories": ["contact_details", "usage"], "country": "US",
        "tenant_regions": ["us"]}
    legacy = client.post("/api/v1/subprocessors", headers=h, json=ENTRY).json
    assert (legacy["scopes"], legacy["data_categories"], legacy["country"], legacy["tenant_regions"]) == \
        ([], [], None, [])
    for field, value in (("scopes", ["marketing"]), ("data_categories", ["x" * 101]), ("country", "Atlantis"),
                         ("tenant_regions", ["mars"])):
        refused = client.post("/api/v1/subprocessors", headers=h, json={**ENTRY, field: value})
        assert refused.status_code == 400 and field in refused.json["errors"], field
    changed = client.patch(f"/api/v1/subprocessors/{legacy['id']}", headers=h, json={"country": "IE"})
    assert changed.json["country"] == "IE"
    # Countries by name, categories in ordinary words: read as the register's codes and categories.
    named = client.patch(f"/api/v1/subprocessors/{legacy['id']}", headers=h, json={
        "country": "United States", "data_categories": ["Invoices", "support tickets", "Voice recordings"]})
    assert named.status_code == 200, named.json
    assert {k: named.json[k] for k in ("country", "country_name", "data_categories", "data_category_labels")} == {
        "country": "US", "country_name": "United States", "data_categories": ["billing", "support"],
        "data_category_labels": ["Voice recordings"]}
