"""Offboarding from the staff console: end contract, legal holds, certificate."""
import re
from datetime import date

from privacy_saas import clock
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.tasks import PURGE_JOB, purge_status
from tests.helpers import csrf_token
from tests.lifecycle.conftest import seed


def test_account_manager_ends_a_contract_after_a_confirmation(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("acme", end_action="return_then_delete")
    console_login("account_manager")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "End contract" in page and "Place legal hold" not in page and "Reinstate" not in page
    # The tenant page's form only leads to the confirmation page, which changes nothing.
    confirm = client.get("/console/tenants/acme/end-contract?on=").get_data(as_text=True)
    assert "The contract ends <strong>now</strong>" in confirm and "2027-11-24" in confirm
    assert "from 2026-11-23\n    to 2027-11-23" in confirm  # the return export window
    assert _tenant("acme").status == "active"
    # A wrong slug typed: refused on the same page, nothing ended.
    wrong = client.post("/console/tenants/acme/end-contract", data={"csrf_token": csrf_token(confirm), "on": "",
                                                                   "typed": "acne"})
    assert wrong.status_code == 400 and "type acme to confirm" in wrong.get_data(as_text=True)
    assert _tenant("acme").status == "active"
    response = client.post("/console/tenants/acme/end-contract", data={"csrf_token": csrf_token(confirm), "on": "",
                                                                      "typed": "ACME"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "users are locked out; the purge is due on 2027-11-24" in text
    tenant = _tenant("acme")
    assert (tenant.status, tenant.contract_end) == ("ended", date(2026, 11, 23))
    assert 'id="purge-phase">waiting' in text and "Reinstate" not in text  # an account manager cannot reinstate


def test_a_refused_end_day_is_said_on_the_confirmation_page(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("acme")
    console_login("admin")
    confirm = client.get("/console/tenants/acme/end-contract?on=").get_data(as_text=True)
    for typed in ("acme", "acne"):  # the day is refused whatever is typed, and said on the same page
        refused = client.post("/console/tenants/acme/end-contract",
                              data={"csrf_token": csrf_token(confirm), "on": "2000-01-01", "typed": typed})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 409, text
        assert re.search(r'role="alert">[^<]*cannot end on 2000-01-01, before it started', text), text
        # The page still offers the confirmation, stated for ending today.
        assert "The contract ends <strong>now</strong>" in text and 'name="typed"' in text
    tenant = _tenant("acme")
    assert (tenant.status, tenant.contract_end) == ("active", None)


def test_a_future_end_is_scheduled_and_the_dpo_cancels_it(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("acme")
    console_login("admin")
    confirm = client.get("/console/tenants/acme/end-contract?on=2026-12-31").get_data(as_text=True)
    assert "The end is <strong>scheduled</strong>" in confirm and "locked out on 2027-01-01" in confirm
    client.post("/console/tenants/acme/end-contract", data={"csrf_token": csrf_token(confirm), "on": "2026-12-31",
                                                            "typed": "acme"})
    tenant = _tenant("acme")
    assert (tenant.status, tenant.contract_end) == ("active", date(2026, 12, 31))
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert 'id="purge-phase">scheduled' in page and "Cancel the scheduled end" in page
    done = client.post("/console/tenants/acme/reinstate", data={"csrf_token": csrf_token(page), "until": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "Contract renewed" in done, done
    tenant = _tenant("acme")
    assert (tenant.status, tenant.contract_end) == ("active", None)


def test_dpo_reinstates_an_ended_tenant_and_it_is_audited(client, session, console_login):
    from privacy_saas.audit.models import AuditEntry

    clock.travel_to(date(2026, 11, 23))
    seed("acme", status="ended", contract_end=date(2026, 11, 1))
    console_login("dpo")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    bad = client.post("/console/tenants/acme/reinstate", data={"csrf_token": csrf_token(page), "until": "2026-01-01"},
                      follow_redirects=True)
    assert "cannot end in the past" in bad.get_data(as_text=True) and _tenant("acme").status == "ended"
    done = client.post("/console/tenants/acme/reinstate", data={"csrf_token": csrf_token(page), "until": "2027-12-31"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Contract renewed: the tenant is active until 2027-12-31" in done
    tenant = _tenant("acme")
    assert (tenant.status, tenant.contract_end, tenant.ended_at, tenant.purge_due_on) == \
        ("active", date(2027, 12, 31), None, date(2029, 1, 1))  # a year's retention after the new end
    entry = session.query(AuditEntry).filter_by(action="tenant.reinstate").one()
    assert entry.detail["was"] == "ended" and entry.detail["previous_end"] == "2026-11-01"


def test_purge_now_for_a_due_tenant_then_its_certificate_page(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    tenant = seed("gone", status="ended", contract_end=date(2025, 1, 31))
    console_login("dpo")
    page = client.get("/console/tenants/gone").get_data(as_text=True)
    assert 'id="purge-phase">due' in page and "Purge now" in page
    confirm = client.get("/console/tenants/gone/purge").get_data(as_text=True)
    assert "cannot be undone" in confirm
    refused = client.post("/console/tenants/gone/purge", data={"csrf_token": csrf_token(confirm), "typed": "no"})
    assert refused.status_code == 400 and purge_status(_tenant("gone")).job is None
    client.post("/console/tenants/gone/purge", data={"csrf_token": csrf_token(confirm), "typed": "gone"})
    status = purge_status(_tenant("gone"))
    assert status.phase == "queued" and status.job.name == PURGE_JOB
    page = client.get("/console/tenants/gone").get_data(as_text=True)
    assert 'id="purge-phase">queued' in page and 'http-equiv="refresh"' in page
    assert purge.purge_tenant(tenant.id) == "purged"
    cert_page = client.get("/console/tenants/gone/certificate").get_data(as_text=True)
    assert "signature\n  verified" in cert_page and "Keys destroyed" in cert_page
    assert "database rows were deleted" in cert_page and "/console/tenants/gone/certificate.json" in cert_page


def test_purge_now_is_role_checked_and_refused_before_due(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("early", status="ended", contract_end=date(2026, 11, 1))
    console_login("account_manager")
    assert client.get("/console/tenants/early/purge").status_code == 403
    client.post("/console/logout", data={"csrf_token": csrf_token(client.get("/console/").get_data(as_text=True))})
    console_login("dpo")
    page = client.get("/console/tenants/early").get_data(as_text=True)
    assert 'id="purge-phase">waiting' in page and "Purge now" not in page
    confirm = client.get("/console/tenants/early/purge").get_data(as_text=True)
    assert "It cannot be purged now: retention runs" in confirm
    refused = client.post("/console/tenants/early/purge", data={"csrf_token": csrf_token(page), "typed": "early"})
    assert refused.status_code == 409 and purge_status(_tenant("early")).job is None


def _tenant(slug):
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.service import get_by_slug

    db.session.expire_all()  # what the requests committed, not this session's copy
    return get_by_slug(slug)


def test_end_contract_needs_csrf_and_role(client, session, console_login):
    seed("acme")
    console_login("support")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "End contract" not in page
    assert client.post("/console/tenants/acme/end-contract",
                       data={"csrf_token": csrf_token(page), "typed": "acme"}).status_code == 403
    assert client.get("/console/tenants/acme/end-contract").status_code == 403


def test_dpo_places_and_releases_a_hold(client, session, console_login):
    clock.travel_to(date(2026, 11, 23))
    seed("acme", status="ended", contract_end=date(2025, 1, 31))
    console_login("dpo")
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert 'id="purge-phase">due' in page
    no_csrf = client.post("/console/tenants/acme/legal-holds", data={"reason": "Case 12"})
    assert no_csrf.status_code == 400  # CSRF refused, nothing placed
    assert "Case 12" not in client.get("/console/tenants/acme").get_data(as_text=True)
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    client.post("/console/tenants/acme/legal-holds", data={"reason": "Case 12", "csrf_token": csrf_token(page)})
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "Case 12" in page and "on legal hold (1): Case 12" in page and 'id="purge-phase">held' in page
    assert purge.purge_tenant(_tenant_id("acme")).startswith("on legal hold")
    # Release goes through a confirmation stating what follows.
    release = re.search(r'href="(/console/tenants/acme/legal-holds/[^"]+/release)"', page).group(1)
    confirm = client.get(release).get_data(as_text=True)
    assert "Case 12" in confirm and "the purge can start at the next sweep" in confirm
    assert 'id="purge-phase">held' in client.get("/console/tenants/acme").get_data(as_text=True)
    client.post(release, data={"csrf_token": csrf_token(confirm)})
    page = client.get("/console/tenants/acme").get_data(as_text=True)
    assert "released" in page and 'id="purge-phase">due' in page


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


def test_a_running_purge_shows_rows_of_total_batches_eta_and_the_last_error(client, session, console_login):
    from datetime import datetime, timedelta, timezone

    from privacy_saas.jobs.models import Job
    from privacy_saas.lifecycle.models import PurgeRun

    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    clock.travel_to(now)
    tenant = seed("busy", status="ended", contract_end=date(2025, 1, 31))
    tenant.status = "purging"
    session.add(PurgeRun(tenant_id=tenant.id, step="keys_destroyed", started_at=now - timedelta(seconds=30),
                         keys_destroyed_at=now - timedelta(seconds=20), rows_total=1000,
                         rows_deleted={"usage_events": 400}, batches=4, attempts=2, locked_by="host:1",
                         lease_until=now + timedelta(seconds=40)))
    session.add(Job(name=PURGE_JOB, args=[str(tenant.id)], tenant_id=tenant.id, status="running", attempts=2,
                    last_error="OperationalError: the database went away"))
    session.commit()
    console_login("support")
    page = client.get("/console/tenants/busy").get_data(as_text=True)
    assert 'id="purge-phase">running' in page and 'http-equiv="refresh"' in page
    assert "400 of 1000" in page and "in 4 batches" in page
    assert "done at about\n    12:00:30 UTC" in page  # 400 rows in 20 s: 600 more in 30 s
    assert "OperationalError: the database went away" in page
    status = client.get("/api/v1/tenants/busy/purge").json  # the API says the same (cookie session)
    assert (status["phase"], status["run"]["rows_total"], status["run"]["rows_deleted_total"]) == ("running", 1000, 400)
    assert status["eta"].startswith("2026-11-23T12:00:30")
