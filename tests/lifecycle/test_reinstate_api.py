"""The API's offboarding: a future end is scheduled, reinstate before the purge, purge now."""
from datetime import date

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from privacy_saas.processor.tenants.models import Tenant
from tests.lifecycle.conftest import seed


def _tenant(slug) -> Tenant:
    db.session.expire_all()
    return db.session.query(Tenant).filter_by(slug=slug).one()


def test_a_future_on_keeps_the_tenant_active_until_then(client, session, role_headers):
    clock.travel_to(date(2026, 11, 23))
    seed("acme")
    headers = role_headers("account_manager")
    response = client.post("/api/v1/tenants/acme/end-contract", json={"on": "2026-12-31"}, headers=headers)
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["contract"]["end"]) == ("active", "2026-12-31")
    assert _tenant("acme").accepts_writes
    status = client.get("/api/v1/tenants/acme/purge", headers=headers).json
    assert status["phase"] == "scheduled"
    # The day after its last day, the sweep ends it.
    clock.travel_to(date(2027, 1, 1))
    from privacy_saas.jobs.scheduler import sweep
    sweep()
    assert _tenant("acme").status == "ended"


def test_reinstate_is_for_dpo_and_admin_audited_and_refused_once_purged(client, session, role_headers):
    clock.travel_to(date(2026, 11, 23))
    tenant = seed("acme", status="ended", contract_end=date(2025, 1, 31))
    assert client.post("/api/v1/tenants/acme/reinstate", json={},
                       headers=role_headers("account_manager")).status_code == 403
    dpo = role_headers("dpo")
    past = client.post("/api/v1/tenants/acme/reinstate", json={"until": "2020-01-01"}, headers=dpo)
    assert past.status_code == 409 and "past" in past.json["message"]
    done = client.post("/api/v1/tenants/acme/reinstate", json={"until": "2027-06-30"}, headers=dpo)
    assert done.status_code == 200 and (done.json["status"], done.json["contract"]["end"]) == ("active", "2027-06-30")
    entry = session.query(AuditEntry).filter_by(action="tenant.reinstate").one()
    assert entry.detail == {"was": "ended", "previous_end": "2025-01-31", "contract_end": "2027-06-30"}
    again = client.post("/api/v1/tenants/acme/reinstate", json={}, headers=dpo)
    assert again.status_code == 200 and again.json["contract"]["end"] is None  # a scheduled end cancelled
    nothing = client.post("/api/v1/tenants/acme/reinstate", json={}, headers=dpo)
    assert nothing.status_code == 409 and "nothing to reinstate" in nothing.json["message"]
    client.post("/api/v1/tenants/acme/end-contract", json={}, headers=role_headers("admin"))
    clock.travel_to(date(2028, 1, 1))
    assert purge.purge_tenant(tenant.id) == "purged"
    gone = client.post("/api/v1/tenants/acme/reinstate", json={}, headers=dpo)
    assert gone.status_code == 409 and _tenant("acme").status == "purged"


def test_purge_now_queues_a_due_purge_once(client, session, role_headers):
    clock.travel_to(date(2026, 11, 23))
    seed("early", status="ended", contract_end=date(2026, 11, 1))
    seed("due", status="ended", contract_end=date(2025, 1, 31))
    dpo = role_headers("dpo")
    refused = client.post("/api/v1/tenants/early/purge", headers=dpo)
    assert refused.status_code == 409 and refused.json["code"] == "purge_not_allowed"
    assert client.post("/api/v1/tenants/due/purge", headers=role_headers("support")).status_code == 403
    first = client.post("/api/v1/tenants/due/purge", headers=dpo)
    assert first.status_code == 202 and first.json["phase"] == "queued"
    second = client.post("/api/v1/tenants/due/purge", headers=dpo)
    assert second.json["job"]["id"] == first.json["job"]["id"]  # one owed purge per tenant
