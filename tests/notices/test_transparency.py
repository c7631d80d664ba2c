"""The transparency page per tenant: terms, sub-processors touching its data, pending changes, notices, audit, purge date."""
from datetime import date, timedelta

import pytest

from privacy_saas import clock
from privacy_saas.lifecycle import service as lifecycle
from privacy_saas.subprocessors import service as register
from tests.helpers import bearer
from tests.notices.conftest import CHANGE, TODAY


@pytest.fixture
def acme(client_org):
    return client_org("acme", subprocessor_notice="P20D", breach_notice="PT36H", contract_end=date(2027, 12, 31))


def test_the_page_shows_what_the_tenant_needs_to_check_us(client, session, dpo, acme, client_org):
    other = client_org("usco", region="us")
    register.add({"name": "EU Hosting", "purpose": "hosting", "location": "Germany", "safeguards": "EEA",
                  "tenant_regions": ["eu", "uk"]})
    register.add({"name": "US Hosting", "purpose": "hosting", "location": "USA", "safeguards": "DPF",
                  "tenant_regions": ["us"]})
    session.commit()
    response = client.post("/api/v1/subprocessors/changes", headers=dpo, json={
        **CHANGE, "tenant_regions": ["eu"], "effective_on": (TODAY.date() + timedelta(days=20)).isoformat()})
    assert response.status_code == 201, response.json
    change = response.json
    notice_id = next(a["notice_id"] for a in change["answers"] if a["tenant"] == "acme")
    client.post(f"/api/v1/notices/{notice_id}/objection", headers=bearer(acme.token), json={"reason": "EU only"})

    page = client.get("/api/v1/transparency", headers=bearer(acme.token))
    assert page.status_code == 200, page.json
    body = page.json
    assert body["tenant"] == {"slug": "acme", "name": "Acme Ltd", "region": "eu", "status": "active"}
    assert body["terms"]["subprocessor_notice"] == "P20D" and body["terms"]["breach_notice"] == "PT36H"
    assert body["terms"]["retain_after_end"] == "P12M" and body["terms"]["end_action"] == "delete"
    assert [c["email"] for c in body["privacy_contacts"]] == ["dpo@acme.example"]
    assert [s["name"] for s in body["subprocessors"]] == ["EU Hosting"]  # US Hosting never touches its data
    [pending] = body["pending_changes"]
    assert pending["change"]["name"] == "MailCo" and pending["answer"] == "objected"
    assert pending["objection_reason"] == "EU only" and pending["can_answer"]
    assert [n["kind"] for n in body["notices"]] == ["subprocessor_change"]
    assert {"notice.send", "notice.object"} <= {e["action"] for e in body["audit"]}
    assert all(e["tenant_id"] == str(acme.id) for e in body["audit"])
    assert body["audit_total"] >= len(body["audit"]) and body["purge_due_on"] is None
    # Another tenant's page holds nothing of acme's.
    theirs = client.get("/api/v1/transparency", headers=bearer(other.token)).json
    assert [s["name"] for s in theirs["subprocessors"]] == ["US Hosting"]
    assert theirs["pending_changes"] == [] and theirs["notices"] == []
    assert str(acme.id) not in str(theirs) and "EU only" not in str(theirs)


def test_after_the_contract_ends_the_page_shows_the_purge_date(client, session, acme):
    clock.travel_to(date(2028, 1, 5))
    lifecycle.end_contract(acme, date(2027, 12, 31))
    session.commit()
    body = client.get("/api/v1/transparency", headers=bearer(acme.token)).json
    assert body["tenant"]["status"] == "ended" and body["purge_due_on"] == "2029-01-01"


def test_staff_tokens_and_bad_dates_are_refused(client, dpo, acme):
    assert client.get("/api/v1/transparency", headers=dpo).status_code == 403
    assert client.get("/api/v1/transparency").status_code == 401
    bad = client.get("/api/v1/transparency?as_of=yesterday", headers=bearer(acme.token))
    assert bad.status_code == 400 and "as_of" in bad.json["errors"]
