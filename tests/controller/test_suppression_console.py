"""Controller scope: a contact's unsubscribe link (console, CLI), the suppression list's look-up and manual add
(console, CLI; by keyed hash only, audited), and the staff audit page's human labels."""
import re

from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller.suppression.models import Suppression
from privacy_saas.extensions import db
from tests.helpers import csrf_token


def test_a_contact_unsubscribed_through_its_link_is_refused_on_re_import(app, client, ready, make_contact, runner,
                                                                        console_login, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://privacy.example.com")
    contact = make_contact("ada@example.org")
    console_login("account_manager")
    page = client.get(f"/console/controller/contacts/{contact.id}").get_data(as_text=True)
    link = re.search(r'id="unsubscribe-url">([^<]+)<', page).group(1)
    cli = runner.invoke(args=["contacts", "unsubscribe-link", "ADA@example.org"])
    assert cli.exit_code == 0 and cli.output.strip() == link
    assert runner.invoke(args=["contacts", "unsubscribe-link", "nobody@example.org"]).exit_code == 1
    assert link.startswith("https://privacy.example.com/unsubscribe/")
    path = link.removeprefix("https://privacy.example.com/")
    assert "Unsubscribe" in client.get(f"/{path}").get_data(as_text=True)  # the GET asks, changes nothing
    assert client.post(f"/{path}").status_code == 200
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("email,name,phone,company,job_title\nada@example.org,Ada,,,\nnew@example.org,New,,,\n")
    imported = runner.invoke(args=["contacts", "import", str(csv_file), "--source", "event",
                                   "--basis", "legitimate_interest"])
    assert imported.exit_code == 0, imported.output
    assert re.search(r"suppressed:\s+1", imported.output) and "lines: 2" in imported.output


def test_suppression_look_up_and_manual_add_in_the_console(client, ready, make_contact, console_login):
    make_contact("held@example.org")
    console_login("dpo")
    page = client.get("/console/controller/suppressions").get_data(as_text=True)
    assert 'id="suppression-lookup"' in page and 'id="suppression-add"' in page
    missing = client.post("/console/controller/suppressions/lookup",
                          data={"csrf_token": csrf_token(page), "email": "caller@example.org"})
    assert "Not on the list" in missing.get_data(as_text=True)
    held = client.post("/console/controller/suppressions", data={
        "csrf_token": csrf_token(page), "email": "held@example.org", "reason": "objection"})
    text = held.get_data(as_text=True)
    assert held.status_code == 409 and "a contact holds this address" in text and 'value="held@example.org"' in text
    bad = client.post("/console/controller/suppressions", data={
        "csrf_token": csrf_token(page), "email": "not an address", "reason": "objection"})
    assert bad.status_code == 400 and "not a valid e-mail address" in bad.get_data(as_text=True)
    added = client.post("/console/controller/suppressions", data={
        "csrf_token": csrf_token(page), "email": "Caller@Example.org", "reason": "objection"}, follow_redirects=True)
    assert "The address is on the suppression list (objection" in added.get_data(as_text=True)
    found = client.post("/console/controller/suppressions/lookup",
                        data={"csrf_token": csrf_token(page), "email": "caller@example.org "})
    assert "<strong>On the list</strong>" in found.get_data(as_text=True)
    # Only the keyed hash is stored, and the audit names neither address.
    [entry] = db.session.query(Suppression).filter_by(reason="objection").all()
    assert len(entry.email_hash) == 32
    actions = db.session.query(AuditEntry).filter(AuditEntry.action.like("suppression.%")).all()
    assert sorted(a.action for a in actions) == ["suppression.add", "suppression.lookup", "suppression.lookup"]
    assert all("example.org" not in str(a.detail) for a in actions)


def test_support_cannot_add_and_the_cli_looks_up_and_adds(client, ready, runner, console_login):
    console_login("support")
    assert client.get("/console/controller/suppressions").status_code == 403
    assert runner.invoke(args=["contacts", "suppressed", "x@example.org"]).exit_code == 1
    added = runner.invoke(args=["contacts", "suppress", "x@example.org", "--reason", "unsubscribe"])
    assert added.exit_code == 0 and "suppressed (unsubscribe" in added.output
    found = runner.invoke(args=["contacts", "suppressed", "X@example.org"])
    assert found.exit_code == 0 and "(unsubscribe)" in found.output
    bad = runner.invoke(args=["contacts", "suppress", "nope", "--reason", "objection"])
    assert bad.exit_code == 1 and "email" in bad.output


def test_staff_audit_page_names_staff_and_tenants(client, ready, console_login, make_tenant):
    make_tenant("acme")
    member = console_login("admin")
    page = client.get("/console/tenants/acme/end-contract").get_data(as_text=True)
    client.post("/console/tenants/acme/end-contract", data={"csrf_token": csrf_token(page), "typed": "acme"})
    audit = client.get("/console/audit?action=tenant.end_contract").get_data(as_text=True)
    assert "tenant.end_contract" in audit and f"<td>{member.email}</td>" in audit
    assert 'href="/console/tenants/acme">acme</a>' in audit
