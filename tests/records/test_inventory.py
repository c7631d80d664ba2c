"""A tenant's inventory: counts and dates match what was set up, without decrypting, in API and console."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.crypto.errors import CryptoError
from privacy_saas.crypto.service import destroy_tenant_keys
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.records.inventory import inventory
from tests.console.test_console_login import sign_in
from tests.helpers import RequestContextClient, bearer
from tests.console.test_tenant_views import sign_in as tenant_sign_in
from tests.records.conftest import NOW


def by_table(found: dict) -> dict:
    return {t["table"]: t for t in found["tables"]}


def test_counts_and_dates_match_the_tenant_set_up(estate, session):
    found = inventory(estate.acme)
    tables = by_table(found)
    assert {name: tables[name]["records"] for name in (
        "registered_users", "usage_events", "support_requests", "user_groups", "user_group_members",
        "user_invitations", "api_tokens", "tenant_exports", "dsr_tasks", "legal_holds")} == {
        "registered_users": 3, "usage_events": 5, "support_requests": 2, "user_groups": 1, "user_group_members": 2,
        "user_invitations": 1, "api_tokens": 1, "tenant_exports": 0, "dsr_tasks": 0, "legal_holds": 0}
    audit = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                           .where(AuditEntry.tenant_id == estate.acme.id))
    assert audit > 0 and tables["audit_entries"]["records"] == audit
    usage = tables["usage_events"]
    assert usage["oldest"] == min(estate.events).isoformat() and usage["newest"] == max(estate.events).isoformat()
    assert usage["categories"] == ["usage", "technical_ids"]
    assert usage["encrypted_columns"] == 1 and usage["personal_columns"] == 4
    # The oldest event (120 days old) goes 24 months after it happened; the contract is open, so no purge date.
    assert min(estate.events).date().isoformat() == "2026-02-01" and usage["next_deletion_on"] == "2028-02-01"
    assert usage["deleted"].startswith("each record deleted P24M after it happened (daily)")
    assert tables["registered_users"]["next_deletion_on"] is None
    assert tables["registered_users"]["deleted"] == "erased by the purge P12M after the contract ends"
    assert tables["audit_entries"]["deleted"].startswith("kept after the purge")
    assert not tables["purge_runs"]["personal"] and tables["purge_runs"]["records"] == 0
    categories = {c["category"]: c for c in found["categories"]}
    # Notices hold a tenant's own words (an objection's reasons), privacy contacts and certificate deliveries
    # its contacts' addresses: none in this set-up.
    assert categories["support"]["records"] == 2
    assert categories["support"]["tables"] == ["dsr_tasks", "notices", "support_requests"]
    assert categories["contact_details"]["tables"] == ["certificate_deliveries", "privacy_contacts", "registered_users"]
    assert categories["contact_details"]["records"] == 3
    # Sub-processors touching each category: the EU host and the unclassified entry take everything, the mailer
    # contact details and usage; the US host serves US tenants only.
    assert categories["contact_details"]["subprocessors"] == ["HostEU", "Legacy", "MailUS"]
    assert sorted(categories["support"]["subprocessors"]) == ["HostEU", "Legacy"]
    assert found["tenant"]["region"] == "eu" and found["tenant"]["region_name"] == "the EEA"
    assert {(t["subprocessor"], t["country"]) for t in found["transfers"]} == {("MailUS", "US"),
                                                                              ("Legacy", "not recorded")}


def test_another_tenants_rows_are_not_counted(estate):
    tables = by_table(inventory(estate.globex))
    assert tables["registered_users"]["records"] == 1 and tables["usage_events"]["records"] == 2
    assert tables["support_requests"]["records"] == 0 and tables["support_requests"]["oldest"] is None
    assert "HostUS" in tables["registered_users"]["subprocessors"]
    # P6M usage retention: the 10-day-old event goes six months after it happened.
    assert tables["usage_events"]["next_deletion_on"] == "2026-11-22"


def test_the_purge_date_replaces_rolling_deletion_once_the_contract_ends(estate):
    from privacy_saas.lifecycle import service as lifecycle

    lifecycle.end_contract(estate.acme, NOW.date() - timedelta(days=1))
    tables = by_table(inventory(estate.acme))
    assert tables["registered_users"]["next_deletion_on"] == "2027-06-01"
    assert tables["usage_events"]["next_deletion_on"] == "2027-06-01"
    assert tables["usage_events"]["deleted"] == "erased by the purge on 2027-06-01"


def test_computed_without_decrypting_anything(estate, session):
    before = inventory(estate.acme)
    destroy_tenant_keys(estate.acme)
    session.flush()
    session.expire_all()
    user = session.get(RegisteredUser, (estate.acme.id, estate.acme_users[1].id))
    with pytest.raises(CryptoError):
        user.email  # noqa: B018  (the keys are gone: decrypting now fails)
    after = inventory(estate.acme)
    assert [(t["table"], t["records"], t["oldest"]) for t in after["tables"]] == [
        (t["table"], t["records"], t["oldest"]) for t in before["tables"]]


def test_api_answers_the_tenant_its_own_inventory(client, estate, staff_token):
    response = client.get("/api/v1/records/inventory", headers=bearer(estate.acme_token))
    assert response.status_code == 200
    assert response.json["tenant"]["slug"] == "acme"
    assert by_table(response.json)["usage_events"]["records"] == 5
    assert client.get("/api/v1/records/inventory", headers=bearer(staff_token)).status_code == 403
    assert client.get("/api/v1/records/inventory").status_code == 401


def test_console_pages_for_tenant_admins_and_staff(app, client, estate, make_staff, session):
    assert tenant_sign_in(client).status_code == 302
    page = client.get("/console/t/inventory")
    assert page.status_code == 200
    assert 'data-table="usage_events"' in page.text and "nothing was decrypted" in page.text
    assert "bob@acme.example" not in page.text and "Ada Admin" not in page.text
    _, password = make_staff("support", email="inv-support@vendor.example")
    session.commit()
    staff = RequestContextClient(app, app.response_class, use_cookies=True)
    assert sign_in(staff, "inv-support@vendor.example", password).status_code == 302
    staff_page = staff.get("/console/records/tenants/acme/inventory")
    assert staff_page.status_code == 200 and 'data-table="registered_users"' in staff_page.text
    assert staff.get("/console/records/tenants/nope/inventory").status_code == 404
