"""Staff console pages of the controller scope."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.controller import tasks
from privacy_saas.controller.contacts import service
from privacy_saas.controller.contacts.models import ConsentEvent, Contact
from tests.helpers import form_token

PAGES = ["/console/controller/contacts", "/console/controller/retention"]


def test_anonymous_is_sent_to_login(client, ready):
    response = client.get("/console/controller/contacts")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_support_sees_no_controller_pages(client, make_contact, console_login):
    contact = make_contact(email="hidden@example.com")
    console_login("support")
    for path in PAGES + [f"/console/controller/contacts/{contact.id}"]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert b"hidden@example.com" not in response.data
    # The register is vendor data, not personal data: support may read it.
    assert client.get("/console/controller/subprocessors").status_code == 200


@pytest.mark.parametrize("role", ["account_manager", "dpo", "admin"])
def test_contact_pages_show_decrypted_details(client, make_contact, console_login, role):
    contact = make_contact(email="visible@example.com", name="Visible Person", lawful_basis="consent")
    service.record_consent(contact, "marketing_email", "granted", "stand at the fair")
    console_login(role)
    listing = client.get("/console/controller/contacts").get_data(as_text=True)
    assert "visible@example.com" in listing and "Visible Person" in listing
    detail = client.get(f"/console/controller/contacts/{contact.id}").get_data(as_text=True)
    assert "stand at the fair" in detail and "marketing email" in detail


def test_console_records_consent_reviews_and_erases(client, make_contact, console_login, ready):
    clock.travel_to(datetime(2026, 2, 1, tzinfo=timezone.utc))
    contact = make_contact(email="act@example.com", lawful_basis="consent")
    console_login("account_manager")
    page = f"/console/controller/contacts/{contact.id}"
    token = form_token(client, page)
    response = client.post(f"{page}/consents", data={"csrf_token": token, "purpose": "newsletter",
                                                     "action": "granted", "evidence": "signed up online"})
    assert response.status_code == 302
    event = ready.scalars(sa.select(ConsentEvent)).one()
    assert event.purpose == "newsletter" and event.recorded_by.startswith("staff:")
    assert client.post(f"{page}/consents", data={"purpose": "newsletter", "action": "granted",
                                                 "evidence": "no token"}).status_code == 400
    assert client.post(f"{page}/review", data={"csrf_token": token}).status_code == 302
    ready.expire_all()
    assert ready.get(Contact, contact.id).last_reviewed_at == clock.now()
    refused = client.post(f"{page}/erase", data={"csrf_token": token})
    assert refused.status_code == 400
    assert client.post(f"{page}/erase", data={"csrf_token": token, "confirm": "y"}).status_code == 302
    assert ready.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    assert service.find_by_email("act@example.com") is None


def test_retention_page_shows_last_sweep(client, make_contact, console_login, ready):
    clock.travel_to(datetime(2020, 1, 1, tzinfo=timezone.utc))
    make_contact()
    ready.commit()
    clock.travel_to(datetime(2023, 6, 1, tzinfo=timezone.utc))
    tasks.run_sweep()
    console_login("dpo")
    page = client.get("/console/controller/retention").get_data(as_text=True)
    assert 'id="last-sweep"' in page and "contacts no contact" in page
    assert "no successful contact" in page


def test_subprocessor_register_in_console(client, ready, console_login):
    console_login("dpo")
    token = form_token(client, "/console/controller/subprocessors")
    response = client.post("/console/controller/subprocessors", data={
        "csrf_token": token, "name": "MailCo", "purpose": "e-mail delivery", "location": "EU (Ireland)",
        "safeguards": "EU processing; DPA", "dpa_signed_on": "2025-01-10", "last_reviewed_on": "2025-06-01"})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/console/controller/subprocessors").get_data(as_text=True)
    assert "MailCo" in page and "EU (Ireland)" in page


def test_support_cannot_edit_the_register(client, ready, console_login):
    console_login("support")
    token = form_token(client, "/console/login")
    response = client.post("/console/controller/subprocessors", data={
        "csrf_token": token, "name": "X", "purpose": "p", "location": "l", "safeguards": "s"})
    assert response.status_code == 403


def test_console_search_by_exact_email(client, make_contact, console_login):
    make_contact(email="needle@example.com", name="Needle")
    make_contact(email="hay@example.com", name="Hay")
    console_login("dpo")
    page = client.get("/console/controller/contacts?email=NEEDLE@example.com").get_data(as_text=True)
    assert "needle@example.com" in page and "hay@example.com" not in page
