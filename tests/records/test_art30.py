"""The Art. 30 records: content checked against the data map, the register and the tenants; API, CLI, console."""
from __future__ import annotations

import csv
import io
import json

import pytest

from privacy_saas.datamap import catalogue
from privacy_saas.datamap.vocabulary import PURPOSES
from privacy_saas.records import art30, formats
from tests.conftest import ON_POSTGRES
from tests.console.test_console_login import sign_in
from tests.helpers import RequestContextClient, bearer


def placed(activities: list[dict]) -> dict:
    """Map (table, column, category) -> (purpose, retention) as a record lists them."""
    found = {}
    for activity in activities:
        for category in activity["data_categories"]:
            for column in category["columns"]:
                found[(column["table"], column["column"], category["category"])] = (
                    activity["purpose"], tuple(column["retention"]), column["encrypted"])
    return found


def expected(scopes) -> dict:
    return {(e.table, e.column, category): (e.declaration.purpose, e.declaration.retention, e.encrypted)
            for e in catalogue.entries() if e.personal and e.declaration.scope in scopes
            for category in e.declaration.categories}


def test_processor_record_lists_every_processor_column_under_its_category_and_retention(estate):
    record = art30.record("processor")
    assert placed(record["processing"]) == expected({"processor"})
    assert {"registered_users", "usage_events", "support_requests"} <= {
        c["table"] for a in record["processing"] for cat in a["data_categories"] for c in cat["columns"]}
    usage = next(a for a in record["processing"] if a["purpose"] == "usage_records")
    assert usage["retention"] == ["tenant_usage"]
    assert [s["name"] for s in usage["data_subjects"]] == ["registered_user"]
    assert {r["name"]: r["period"] for r in record["retention"]} == {"tenant_contract": "P12M", "tenant_usage": "P24M"}
    assert record["data_map"]["digest"] == catalogue.digest(catalogue.entries())


def test_processor_record_per_controller_with_terms_subprocessors_and_transfers(estate, session):
    from privacy_saas.lifecycle import service as lifecycle
    from privacy_saas.processor.privacy_contacts import service as contacts

    contacts.add(estate.acme, "dpo@acme.example")
    contacts.sync_file(estate.acme, ["privacy@acme.example"])
    lifecycle.end_contract(estate.acme, estate.acme.contract_start.replace(year=2026, month=5, day=31))
    record = art30.record("processor")
    controllers = {c["slug"]: c for c in record["controllers"]}
    assert set(controllers) == {"acme", "globex"}
    acme, globex = controllers["acme"], controllers["globex"]
    assert (acme["name"], acme["region"], acme["status"], acme["privacy_contacts"]) == (
        "Acme Ltd", "eu", "ended", ["dpo@acme.example", "privacy@acme.example"])
    assert globex["privacy_contacts"] == []
    markdown = formats.render(record, "md")
    assert "- Privacy contacts: dpo@acme.example, privacy@acme.example" in markdown
    assert "- Privacy contacts: none recorded" in markdown
    assert acme["terms"] == {"retain_after_end": "P12M", "usage_retention": "P24M", "end_action": "delete",
                             "self_service_deletion": False, "purge_due_on": "2027-06-01"}
    assert globex["terms"]["usage_retention"] == "P6M" and globex["terms"]["purge_due_on"] is None
    assert acme["processing"] == [p for p in PURPOSES if PURPOSES[p].scope == "processor" and any(
        a["purpose"] == p for a in record["processing"])]
    # The US-only host serves US tenants; controller-only entries are not the processor's.
    assert sorted(acme["subprocessors"]) == ["HostEU", "Legacy", "MailUS"]
    assert sorted(globex["subprocessors"]) == ["HostEU", "HostUS", "Legacy", "MailUS"]
    assert {(t["subprocessor"], t["country"], t["safeguards"]) for t in acme["transfers"]} == {
        ("MailUS", "US", "SCCs (2021/914, module 3)"), ("Legacy", "not recorded", "DPA")}
    assert {(t["subprocessor"], t["country"]) for t in globex["transfers"]} == {
        ("HostEU", "DE"), ("Legacy", "not recorded")}
    assert {s["name"] for s in record["subprocessors"]} == {"HostEU", "MailUS", "HostUS", "Legacy"}


def test_controller_record_lists_every_vendor_column_with_its_basis_recipients_and_periods(estate, app):
    app.config["CONTROLLER_RETENTION"] = {"website_activity": "P18M", "billing_records": None}
    try:
        record = art30.record("controller")
    finally:
        app.config.pop("CONTROLLER_RETENTION")
    assert placed(record["activities"]) == expected({"controller", "operational"})
    activities = {a["purpose"]: a for a in record["activities"]}
    assert not {p for p in activities if PURPOSES[p].scope == "processor"}
    for entry in catalogue.entries():
        if entry.personal and entry.declaration.scope != "processor":
            bases = {b["name"] for b in activities[entry.declaration.purpose]["lawful_basis"]}
            assert set(entry.declaration.lawful_basis) <= bases, entry.name
    marketing = activities["marketing"]
    assert {b["name"] for b in marketing["lawful_basis"]} == {"consent", "contract", "legal_obligation",
                                                               "legitimate_interest"}
    assert sorted(marketing["recipients"]) == ["CrmUS", "HostEU", "Legacy", "MailUS"]
    assert {(t["subprocessor"], t["country"]) for t in marketing["transfers"]} == {
        ("CrmUS", "US"), ("MailUS", "US"), ("Legacy", "not recorded")}
    assert activities["website_analytics"]["lawful_basis"] == [{"name": "consent", "label": "Consent (Art. 6(1)(a))"}]
    periods = {r["name"]: r["period"] for r in record["retention"]}
    assert periods["website_activity"] == "P18M" and periods["contacts_unconfirmed"] == "P5Y"
    assert periods["audit_trail"] == "no fixed period" and periods["suppression_list"] == "no fixed period"
    assert "billing_records" not in periods  # invoices hold no personal data
    assert "billing_records" in record["not_personal"] and "tenants" in record["not_personal"]
    assert {r["name"] for r in record["recipients"]} == {"HostEU", "MailUS", "CrmUS", "Legacy"}


def test_a_switched_off_rule_is_shown_as_kept(estate, app):
    app.config["CONTROLLER_RETENTION"] = {"contacts_no_contact": None}
    try:
        periods = {r["name"]: r["period"] for r in art30.record("controller")["retention"]}
    finally:
        app.config.pop("CONTROLLER_RETENTION")
    assert periods["contacts_no_contact"] == "switched off: kept until erased by hand"


def test_measures_are_stated_from_the_running_system(estate):
    measures = {m["measure"]: m["detail"] for m in art30.record("processor")["measures"]}
    entries = catalogue.entries()
    personal = [e for e in entries if e.personal]
    assert f"{sum(e.encrypted for e in personal)} of {len(personal)} personal columns are sealed" in \
        measures["Field encryption"]
    assert "Live key scopes: 2 tenant(s)" in measures["Key custody"]
    assert "registered_users.email_bidx" in measures["Pseudonymised look-ups"]
    if ON_POSTGRES:
        assert "row-level security is enabled and forced on 8 of the 8 tables" in measures["Tenant isolation"]
    else:
        assert "no row-level security" in measures["Tenant isolation"]
    assert "these records for admin, dpo" in measures["Access control"]


def test_formats_carry_the_same_record(estate):
    record = art30.record("processor")
    assert json.loads(formats.render(record, "json")) == record
    markdown = formats.render(record, "md")
    for entry in catalogue.entries():
        if entry.personal and entry.declaration.scope == "processor":
            assert f"`{entry.table}.{entry.column}`" in markdown
    assert "### Acme Ltd (`acme`)" in markdown and "MailUS in US" in markdown
    rows = list(csv.DictReader(io.StringIO(formats.render(record, "csv"))))
    assert len(rows) == 2 * len(record["processing"])
    assert {r["slug"] for r in rows} == {"acme", "globex"}
    controller = art30.record("controller")
    rows = list(csv.DictReader(io.StringIO(formats.render(controller, "csv"))))
    assert [r["purpose"] for r in rows] == [a["label"] for a in controller["activities"]]


@pytest.fixture
def staff_tokens(session, make_staff):
    from privacy_saas.auth import tokens

    found = {role: tokens.issue(kind="staff", name="t", staff_id=make_staff(role)[0].id)[1]
             for role in ("support", "account_manager", "dpo", "admin")}
    session.commit()
    return found


def test_api_serves_dpo_and_admin_only(client, estate, staff_tokens):
    for role, status in (("dpo", 200), ("admin", 200), ("support", 403), ("account_manager", 403)):
        response = client.get("/api/v1/records/art30?scope=processor", headers=bearer(staff_tokens[role]))
        assert response.status_code == status, role
    assert client.get("/api/v1/records/art30?scope=processor").status_code == 401
    assert client.get("/api/v1/records/art30?scope=processor",
                      headers=bearer(estate.acme_token)).status_code == 403
    dpo = bearer(staff_tokens["dpo"])
    body = client.get("/api/v1/records/art30?scope=controller", headers=dpo).json
    assert body["record"] == "controller" and body["activities"]
    markdown = client.get("/api/v1/records/art30?scope=processor&format=md", headers=dpo)
    assert markdown.content_type.startswith("text/markdown") and "Acme Ltd" in markdown.text
    assert 'filename="art30-processor.md"' in markdown.headers["Content-Disposition"]
    assert client.get("/api/v1/records/art30?scope=controller&format=csv", headers=dpo).content_type.startswith(
        "text/csv")
    bad = client.get("/api/v1/records/art30?scope=tenant", headers=dpo)
    assert bad.status_code == 400 and "scope" in bad.json["errors"]
    assert client.get("/api/v1/records/art30?scope=processor&format=pdf", headers=dpo).status_code == 400


def test_cli_prints_and_writes_records(runner, estate, tmp_path):
    result = runner.invoke(args=["records", "art30", "--scope", "processor", "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert {c["slug"] for c in printed["controllers"]} == {"acme", "globex"}
    out = tmp_path / "controller.md"
    result = runner.invoke(args=["records", "art30", "--scope", "controller", "--output", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("# Record of processing activities as controller")
    refused = runner.invoke(args=["records", "art30", "--scope", "everything"])
    assert refused.exit_code != 0 and "Invalid value for '--scope'" in refused.output
    check = runner.invoke(args=["records", "check"])
    assert check.exit_code == 0 and "data map complete" in check.output


def test_a_bad_vendor_region_is_a_clear_error(runner, estate, app):
    app.config["VENDOR_REGION"] = "mars"
    try:
        result = runner.invoke(args=["records", "art30", "--scope", "controller"])
    finally:
        app.config["VENDOR_REGION"] = "eu"
    assert result.exit_code == 1 and "PRIVACY_SAAS_VENDOR_REGION is 'mars'" in result.output


def test_console_shows_both_records_with_downloads(app, estate, make_staff, session):
    clients = {}
    for role in ("dpo", "support"):
        _, password = make_staff(role, email=f"rec-{role}@vendor.example")
        session.commit()
        clients[role] = RequestContextClient(app, app.response_class, use_cookies=True)
        assert sign_in(clients[role], f"rec-{role}@vendor.example", password).status_code == 302
    page = clients["dpo"].get("/console/records/?scope=processor")
    assert page.status_code == 200
    assert 'data-slug="acme"' in page.text and "MailUS → US" in page.text and "registered_users.email_ct" in page.text
    controller = clients["dpo"].get("/console/records/?scope=controller")
    assert controller.status_code == 200 and "Lawful basis" in controller.text and "contacts.email_ct" in controller.text
    download = clients["dpo"].get("/console/records/art30.csv?scope=controller")
    assert download.status_code == 200 and download.content_type.startswith("text/csv")
    assert clients["dpo"].get("/console/records/?scope=everything").status_code == 400
    assert clients["support"].get("/console/records/").status_code == 403
