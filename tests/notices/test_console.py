"""Console pages: staff propose changes and follow answers and breaches; tenant admins answer, read, edit contacts."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas.notices.models import Breach, Notice, NoticeTask
from privacy_saas.processor.privacy_contacts import service as privacy_contacts
from tests.console.test_console_login import sign_in as staff_sign_in
from tests.helpers import RequestContextClient, csrf_token
from tests.notices.conftest import CHANGE, TODAY
from tests.console.test_tenant_views import sign_in as tenant_sign_in

PASSWORD = "correct horse battery staple"
EFFECTIVE = TODAY.date() + timedelta(days=45)


@pytest.fixture
def acme(client_org, make_user, session):
    tenant = client_org("acme")
    make_user(tenant, "ada@acme.example", role="admin", password=PASSWORD)
    return tenant


@pytest.fixture
def staff_client(app, session, make_staff):
    def make(role: str):
        email = f"console-{role}@vendor.example"
        make_staff(role, email=email, password="correct horse battery")
        session.commit()
        browser = RequestContextClient(app, app.response_class, use_cookies=True)
        assert staff_sign_in(browser, email=email).status_code == 302
        return browser

    return make


@pytest.fixture
def admin_client(app, acme):
    browser = RequestContextClient(app, app.response_class, use_cookies=True)
    assert tenant_sign_in(browser, email="ada@acme.example", password=PASSWORD).status_code == 302
    return browser


def post_form(browser, page: str, url: str, data: dict):
    from privacy_saas.extensions import db

    token = csrf_token(browser.get(page).text)
    response = browser.post(url, data={"csrf_token": token, **data})
    db.session.expire_all()
    return response


def test_staff_propose_a_change_and_see_each_answer(staff_client, acme, session):
    dpo = staff_client("dpo")
    page = dpo.get("/console/notices/changes")
    assert page.status_code == 200
    assert (TODAY.date() + timedelta(days=30)).isoformat() in page.text  # the earliest date acme's notice allows
    too_early = post_form(dpo, "/console/notices/changes", "/console/notices/changes", {
        **CHANGE, "tenant_regions": ["eu"], "effective_on": (TODAY.date() + timedelta(days=3)).isoformat()})
    assert too_early.status_code == 400
    assert (TODAY.date() + timedelta(days=30)).isoformat() in too_early.text
    created = post_form(dpo, "/console/notices/changes", "/console/notices/changes", {
        **CHANGE, "country": "ie", "tenant_regions": ["eu", "uk"], "effective_on": EFFECTIVE.isoformat()})
    assert created.status_code == 302, created.text
    notice = session.scalar(sa.select(Notice))
    assert notice.tenant_id == acme.id and notice.content["data_categories"] == ["contact_details", "identity"]
    assert notice.content["country"] == "IE"
    detail = dpo.get(created.headers["Location"])
    assert "acme" in detail.text and "silent" in detail.text


def test_support_reads_changes_but_cannot_propose(staff_client):
    support = staff_client("support")
    page = support.get("/console/notices/changes")
    assert page.status_code == 200 and 'id="propose"' not in page.text
    assert support.get("/console/notices/breaches").status_code == 403


def test_a_tenant_admin_sees_the_banner_and_objects_in_the_console(admin_client, acme, client, dpo, session):
    client.post("/api/v1/subprocessors/changes", headers=dpo, json={**CHANGE, "effective_on": EFFECTIVE.isoformat()})
    users_page = admin_client.get("/console/t/users")
    assert 'id="notices-banner"' in users_page.text and "1 notice from us" in users_page.text
    notices_page = admin_client.get("/console/t/notices")
    assert "MailCo" in notices_page.text and "Object" in notices_page.text
    notice = session.scalar(sa.select(Notice))
    objected = post_form(admin_client, "/console/t/notices", f"/console/t/notices/{notice.id}/objection",
                         {"reason": "We need an EU-only provider."})
    assert objected.status_code == 302
    assert session.get(Notice, (acme.id, notice.id)).answer == "objected"
    assert session.scalar(sa.select(NoticeTask.status)) == "open"
    after = admin_client.get("/console/t/notices")
    assert "We need an EU-only provider." in after.text and 'id="notices-banner"' not in after.text


def test_an_account_manager_works_the_objection_task(staff_client, acme, client, dpo, session):
    change = client.post("/api/v1/subprocessors/changes", headers=dpo,
                         json={**CHANGE, "effective_on": EFFECTIVE.isoformat()}).json
    notice_id = change["answers"][0]["notice_id"]
    from tests.helpers import bearer

    client.post(f"/api/v1/notices/{notice_id}/objection", headers=bearer(acme.token), json={"reason": "EU only"})
    manager = staff_client("account_manager")
    page = manager.get("/console/notices/objections")
    assert "acme" in page.text and "EU only" in page.text
    task = session.scalar(sa.select(NoticeTask))
    assert post_form(manager, "/console/notices/objections", f"/console/notices/objections/{task.id}/take",
                     {}).status_code == 302
    closed = post_form(manager, "/console/notices/objections", f"/console/notices/objections/{task.id}/close",
                       {"resolution": "Client accepted after the DPA annex was shared."})
    assert closed.status_code == 302
    task = session.scalar(sa.select(NoticeTask))
    assert task.status == "done" and task.assigned_to is not None and task.done_by.startswith("staff:")


def test_staff_record_and_notify_a_breach_in_the_console(staff_client, acme, session):
    dpo = staff_client("dpo")
    aware = (TODAY - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    recorded = post_form(dpo, "/console/notices/breaches", "/console/notices/breaches", {
        "scope": "processor", "tenants": "acme", "occurred_at": aware, "aware_at": aware,
        "nature": "Unauthorised access to a support mailbox", "data_categories": "names, e-mail addresses",
        "approx_subjects": "40", "consequences": "phishing", "measures": "password reset"})
    assert recorded.status_code == 302, recorded.text
    breach = session.scalar(sa.select(Breach))
    assert breach.data_categories == ["names", "e-mail addresses"] and breach.aware_at.tzinfo is not None
    detail = dpo.get(recorded.headers["Location"])
    assert "acme" in detail.text and "not yet" in detail.text
    notified = post_form(dpo, recorded.headers["Location"], f"/console/notices/breaches/{breach.id}/notify",
                         {"channel": "email"})
    assert notified.status_code == 302
    assert session.scalar(sa.select(Notice.delivered_at).where(Notice.breach_id == breach.id)) is not None
    personal = post_form(dpo, "/console/notices/breaches", "/console/notices/breaches", {
        "scope": "controller", "occurred_at": aware, "aware_at": aware, "nature": "sent to bob@example.com"})
    assert personal.status_code == 400 and "no personal data" in personal.text


def test_the_tenant_admin_reads_the_transparency_page_and_edits_contacts(admin_client, acme, session):
    page = admin_client.get("/console/t/transparency")
    assert page.status_code == 200 and "P30D" in page.text and "PT48H" in page.text
    assert admin_client.get("/console/t/transparency?as_of=2026-01-01").status_code == 200
    contacts = admin_client.get("/console/t/privacy-contacts")
    assert "dpo@acme.example" in contacts.text
    added = post_form(admin_client, "/console/t/privacy-contacts", "/console/t/privacy-contacts",
                      {"email": "ciso@acme.example"})
    assert added.status_code == 302
    emails = sorted(c.email for c in privacy_contacts.list_for(acme))
    assert emails == ["ciso@acme.example", "dpo@acme.example"]
    duplicate = post_form(admin_client, "/console/t/privacy-contacts", "/console/t/privacy-contacts",
                          {"email": "CISO@acme.example"})
    assert duplicate.status_code == 409 and "already" in duplicate.text
    ciso = next(c for c in privacy_contacts.list_for(acme) if c.email == "ciso@acme.example")
    removed = post_form(admin_client, "/console/t/privacy-contacts", f"/console/t/privacy-contacts/{ciso.id}/remove", {})
    assert removed.status_code == 302
    assert [c.email for c in privacy_contacts.list_for(acme)] == ["dpo@acme.example"]
    assert re.search(r"dpo@acme\.example", admin_client.get("/console/t/privacy-contacts").text)
