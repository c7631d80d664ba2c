"""Offboarding from the staff console: end contract, legal holds, certificate."""
import re
from datetime import date

from privacy_saas import clock
from privacy_saas.lifecycle import purge
from tests.helpers import csrf_token
from tests.lifecycle.conftest import seed


def test_account_manager_ends_a_contract(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("acme")
    console_login("account_manager")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "End contract" in page and "Place legal hold" not in page
    response = client.post("/console/tenants/acme/end-contract", data={"csrf_token": csrf_token(page), "on": ""},
                           follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "purge due on 2027-11-24" in text and "ended" in text


def test_end_contract_needs_csrf_and_role(client, session, console_login):
    seed("acme")
    console_login("support")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "End contract" not in page
    assert client.post("/console/tenants/acme/end-contract",
                       data={"csrf_token": csrf_token(page)}).status_code == 403


def test_dpo_places_and_releases_a_hold(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("acme", status="ended", contract_end=date(2025, 1, 31))
    console_login("dpo")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "Purge: due" in page
    no_csrf = client.post("/console/tenants/acme/legal-holds", data={"reason": "Case 12"})
    assert no_csrf.status_code == 400  # CSRF refused, nothing placed
    assert "Case 12" not in client.get("/console/tenants/acme").get_data(as_text=True)
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    client.post("/console/tenants/acme/legal-holds", data={"reason": "Case 12", "csrf_token": csrf_token(page)})
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "Case 12" in page and "on legal hold (1): Case 12" in page
    assert purge.purge_tenant(_tenant_id("acme")).startswith("on legal hold")
    release = re.search(r'action="(/console/tenants/acme/legal-holds/[^"]+/release)"', page).group(1)
    client.post(release, data={"csrf_token": csrf_token(page)})
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "released" in page and "Purge: due" in page


def _tenant_id(slug):
    from privacy_saas.processor.tenants.service import get_by_slug
    return get_by_slug(slug).id


def test_purged_tenant_shows_certificate(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    tenant = seed("gone", status="ended", contract_end=date(2025, 1, 31))
    assert purge.purge_tenant(tenant.id) == "purged"
    console_login("support")
    page = client.get("/console/tenants/gone").get_data(as_text=True)
    assert "Download the deletion certificate" in page
    cert = client.get("/console/tenants/gone/certificate.json")
    assert cert.status_code == 200 and cert.json["algorithm"] == "Ed25519"
    # The same facts in sentences: the key store's receipt and what it means for backups.
    body = cert.json["certificate"]
    [receipt] = body["key_store"]["receipts"]
    assert f"confirmed the destruction of key-encryption key {receipt['key_name']} (v1)" in page
    assert "expire by" in page and body["backups"]["statements"][0].split(":")[0] in page
