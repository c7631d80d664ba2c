"""Offboarding API, sweep, return export, usage ingestion."""
import io
import json
import os
import zipfile
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.auth import tokens
from privacy_saas.controller.retention.models import RetentionSweep
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.service import place_hold
from privacy_saas.processor.usage.models import UsageEvent
from privacy_saas.processor.usage.tasks import enforce_usage_retention
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import bearer
from tests.lifecycle.conftest import rows_of


@pytest.fixture(autouse=True)
def eager_jobs(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def staff_bearer(make_staff, role):
    staff, _ = make_staff(role)
    return bearer(tokens.issue(kind="staff", name="t", staff_id=staff.id)[1])


def tenant_bearer(tenant):
    return bearer(tokens.issue(kind="tenant", name="t", tenant_id=tenant.id)[1])


def test_end_contract_by_account_manager_shows_purge_date(client, seeded, make_staff):
    clock.travel_to(date(2026, 3, 10))
    tenant = seeded("acme")
    response = client.post("/api/v1/tenants/acme/end-contract", json={}, headers=staff_bearer(make_staff, "account_manager"))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ended"
    assert response.json["contract"]["end"] == "2026-03-10"
    assert response.json["purge_due_on"] == "2027-03-11"
    again = client.post("/api/v1/tenants/acme/end-contract", json={}, headers=staff_bearer(make_staff, "admin"))
    assert again.status_code == 409 and again.json["code"] == "invalid_transition"


@pytest.mark.parametrize("role,status", [("support", 403), ("dpo", 403), ("account_manager", 200), ("admin", 200)])
def test_end_contract_role_matrix(client, seeded, make_staff, role, status):
    seeded("acme")
    response = client.post("/api/v1/tenants/acme/end-contract", json={}, headers=staff_bearer(make_staff, role))
    assert response.status_code == status


def test_end_contract_anonymous_and_tenant_token_rejected(client, seeded):
    tenant = seeded("acme")
    assert client.post("/api/v1/tenants/acme/end-contract", json={}).status_code == 401
    assert client.post("/api/v1/tenants/acme/end-contract", json={}, headers=tenant_bearer(tenant)).status_code == 403


def test_legal_hold_place_list_release(client, seeded, make_staff):
    seeded("acme", status="ended", contract_end=date(2024, 1, 31))
    dpo = staff_bearer(make_staff, "dpo")
    placed = client.post("/api/v1/tenants/acme/legal-holds", json={"reason": "Litigation 2026-7", "until": "2027-01-01"},
                         headers=dpo)
    assert placed.status_code == 201 and placed.json["active"] is True
    assert client.post("/api/v1/tenants/acme/legal-holds", json={"reason": "x"}, headers=dpo).status_code == 400
    support = staff_bearer(make_staff, "support")
    assert client.post("/api/v1/tenants/acme/legal-holds", json={"reason": "Not allowed"}, headers=support).status_code == 403
    listed = client.get("/api/v1/tenants/acme/legal-holds", headers=support)
    assert [h["reason"] for h in listed.json] == ["Litigation 2026-7"]
    released = client.post(f"/api/v1/tenants/acme/legal-holds/{placed.json['id']}/release", headers=dpo)
    assert released.status_code == 200 and released.json["active"] is False
    twice = client.post(f"/api/v1/tenants/acme/legal-holds/{placed.json['id']}/release", headers=dpo)
    assert twice.status_code == 409


def test_sweep_ends_contracts_and_purges_what_is_due(app, session, seeded, runner, staff):
    clock.travel_to(date(2026, 11, 23))
    running = seeded("running", contract_end=date(2026, 11, 1))  # ended 3 weeks ago, still active
    due = seeded("due", status="ended", contract_end=date(2025, 10, 31))
    held = seeded("held", status="ended", contract_end=date(2025, 10, 31))
    place_hold(held, "Tax inspection", staff.id)
    dry = runner.invoke(args=["purge", "due", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would end contract  running" in dry.output and "would queue purge   due" in dry.output
    assert "held: on legal hold (1): Tax inspection" in dry.output
    session.refresh(running)
    assert running.status == "active" and rows_of(due.id)["registered_users"] == 3
    result = runner.invoke(args=["purge", "due"])
    assert result.exit_code == 0, result.output
    session.refresh(running), session.refresh(due), session.refresh(held)
    assert (running.status, due.status, held.status) == ("ended", "purged", "ended")
    assert sum(rows_of(due.id).values()) == 0


def test_purge_run_cli_refuses_with_reason_and_then_purges(session, seeded, runner):
    clock.travel_to(date(2026, 11, 23))
    seeded("early", status="ended", contract_end=date(2026, 10, 31))
    result = runner.invoke(args=["purge", "run", "early"])
    assert result.exit_code == 1 and "purge due on 2027-11-01" in result.output
    assert runner.invoke(args=["purge", "run", "nope"]).exit_code == 1
    clock.travel_to(date(2027, 11, 1))
    result = runner.invoke(args=["purge", "run", "early"])
    assert result.exit_code == 0, result.output
    assert "early purged:" in result.output


def test_certificate_endpoint_and_offline_verification(client, session, seeded, make_staff, runner, tmp_path):
    clock.travel_to(date(2026, 11, 23))
    seeded("gone", status="ended", contract_end=date(2025, 1, 31))
    headers = staff_bearer(make_staff, "support")
    assert client.get("/api/v1/tenants/gone/certificate", headers=headers).status_code == 404
    assert runner.invoke(args=["purge", "run", "gone"]).exit_code == 0
    cert = client.get("/api/v1/tenants/gone/certificate", headers=headers)
    assert cert.status_code == 200 and cert.json["algorithm"] == "Ed25519"
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(cert.json))
    pem = tmp_path / "key.pem"
    pem.write_bytes(client.get("/api/v1/signing-key").data)
    ok = runner.invoke(args=["certificates", "verify", str(path), "--public-key", str(pem)])
    assert ok.exit_code == 0 and "valid: tenant gone" in ok.output
    own_key = runner.invoke(args=["certificates", "verify", str(path)])  # this installation's key
    assert own_key.exit_code == 0, own_key.output
    forged = {**cert.json, "certificate": {**cert.json["certificate"], "rows_deleted_total": 0}}
    path.write_text(json.dumps(forged))
    bad = runner.invoke(args=["certificates", "verify", str(path), "--public-key", str(pem)])
    assert bad.exit_code == 1 and "INVALID" in bad.output


def test_return_export_round_trip_and_purge_removes_it(app, client, session, seeded):
    clock.travel_to(date(2026, 11, 23))
    tenant = seeded("leaving", status="ended", contract_end=date(2026, 9, 30), end_action="return_then_delete")
    headers = tenant_bearer(tenant)
    requested = client.post("/api/v1/exports", headers=headers)
    assert requested.status_code == 202, requested.json
    listed = client.get("/api/v1/exports", headers=headers).json
    assert listed[0]["status"] == "ready"
    export_id = listed[0]["id"]
    sealed = (app.config["EXPORT_DIR"] + f"/{tenant.id}/{export_id}.zip.sealed")
    raw = open(sealed, "rb").read()
    assert b"user0@leaving.example" not in raw and b"PK" not in raw[:8]
    download = client.get(f"/api/v1/exports/{export_id}/download", headers=headers)
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    users = json.loads(archive.read("registered_users.json"))
    assert sorted(u["email"] for u in users) == [f"user{n}@leaving.example" for n in range(3)]
    assert "email_ct" not in users[0] and "email_bidx" not in users[0]
    assert "user0@leaving.example" in archive.read("registered_users.csv").decode()
    assert len(json.loads(archive.read("usage_events.json"))) == 12
    support = json.loads(archive.read("support_requests.json"))
    assert support[0]["subject"] == "Cannot log in"
    clock.travel_to(date(2027, 10, 1))
    assert purge.purge_tenant(tenant.id) == "purged"
    assert not os.path.exists(sealed)


def test_export_refused_while_active_or_for_delete_policy(client, seeded):
    active = seeded("active-co", end_action="return_then_delete")
    response = client.post("/api/v1/exports", headers=tenant_bearer(active))
    assert response.status_code == 409 and response.json["code"] == "export_unavailable"
    deleting = seeded("deleting", status="ended", contract_end=date(2026, 1, 31))
    assert client.post("/api/v1/exports", headers=tenant_bearer(deleting)).status_code == 409


def test_export_of_another_tenant_is_404(client, seeded):
    clock.travel_to(date(2026, 11, 23))
    a = seeded("a-co", status="ended", contract_end=date(2026, 9, 30), end_action="return_then_delete")
    b = seeded("b-co", status="ended", contract_end=date(2026, 9, 30), end_action="return_then_delete")
    client.post("/api/v1/exports", headers=tenant_bearer(a))
    export_id = client.get("/api/v1/exports", headers=tenant_bearer(a)).json[0]["id"]
    assert client.get(f"/api/v1/exports/{export_id}/download", headers=tenant_bearer(b)).status_code == 404


def _users(session, tenant):
    return session.scalars(sa.select(RegisteredUser.id).where(RegisteredUser.tenant_id == tenant.id)).all()


def test_usage_ingest_all_or_nothing(client, session, seeded):
    tenant, other = seeded("acme", events_per_user=0), seeded("other", events_per_user=0)
    mine, theirs = _users(session, tenant), _users(session, other)
    now = clock.now().isoformat()
    good = [{"user_id": str(mine[0]), "kind": "page_view", "occurred_at": now, "detail": {"path": "/a"}}]
    response = client.post("/api/v1/usage-events", json={"events": good * 3}, headers=tenant_bearer(tenant))
    assert response.status_code == 201 and response.json == {"accepted": 3}
    mixed = good + [{"user_id": str(theirs[0]), "kind": "session", "occurred_at": now}]
    refused = client.post("/api/v1/usage-events", json={"events": mixed}, headers=tenant_bearer(tenant))
    assert refused.status_code == 400 and refused.json["errors"]["events"]["1"]["user_id"]
    bad_kind = client.post("/api/v1/usage-events", json={"events": [{**good[0], "kind": "telepathy"}]},
                           headers=tenant_bearer(tenant))
    assert bad_kind.status_code == 400
    too_many = client.post("/api/v1/usage-events", json={"events": good * 1001}, headers=tenant_bearer(tenant))
    assert too_many.status_code == 400
    naive = client.post("/api/v1/usage-events", json={"events": [{**good[0], "occurred_at": "2026-01-01T00:00:00"}]},
                        headers=tenant_bearer(tenant))
    assert naive.status_code == 400
    future = (clock.now() + timedelta(days=1)).isoformat()
    assert client.post("/api/v1/usage-events", json={"events": [{**good[0], "occurred_at": future}]},
                       headers=tenant_bearer(tenant)).status_code == 400
    count = session.scalar(sa.select(sa.func.count()).select_from(UsageEvent).where(UsageEvent.tenant_id == tenant.id))
    assert count == 3


def test_usage_refused_for_restricted_user_and_ended_tenant(client, session, seeded):
    tenant = seeded("acme", events_per_user=0)
    user = session.get(RegisteredUser, (tenant.id, _users(session, tenant)[0]))
    user.processing_restricted = True
    session.flush()
    event = {"user_id": str(user.id), "kind": "session", "occurred_at": clock.now().isoformat()}
    response = client.post("/api/v1/usage-events", json={"events": [event]}, headers=tenant_bearer(tenant))
    assert response.status_code == 400 and "restricted" in str(response.json["errors"])
    ended = seeded("ended-co", status="ended", contract_end=date(2026, 1, 31), events_per_user=0)
    other = _users(session, ended)[0]
    response = client.post("/api/v1/usage-events",
                           json={"events": [{**event, "user_id": str(other)}]}, headers=tenant_bearer(ended))
    assert response.status_code == 403 and response.json["code"] == "tenant_ended"


def test_support_request_recorded_encrypted(client, session, seeded):
    tenant = seeded("acme", support=0)
    user_id = _users(session, tenant)[0]
    response = client.post("/api/v1/support-requests", headers=tenant_bearer(tenant),
                           json={"user_id": str(user_id), "subject": "Invoice", "body": "Where is it?"})
    assert response.status_code == 201 and response.json["status"] == "open"
    assert "Invoice" not in str(response.json)


def test_usage_retention_deletes_only_expired_events(session, seeded):
    clock.travel_to(date(2026, 11, 23))
    tenant = seeded("acme", users=1, events_per_user=25)  # one event every 40 days back
    other = seeded("other", users=1, events_per_user=25)
    deleted = enforce_usage_retention(str(tenant.id))
    cutoff = clock.now() - timedelta(days=730)
    remaining = session.scalars(sa.select(UsageEvent.occurred_at).where(UsageEvent.tenant_id == tenant.id)).all()
    assert deleted == 25 - len(remaining) and deleted > 0
    assert all(at >= cutoff for at in remaining)
    assert rows_of(other.id)["usage_events"] == 25


def test_sweep_runs_the_controller_retention_quarterly(app, session, runner):
    clock.travel_to(date(2026, 1, 1))
    assert sweep()["controller_retention"] is True
    assert session.scalar(sa.select(sa.func.count()).select_from(RetentionSweep)) == 1
    clock.travel_to(date(2026, 3, 1))
    assert sweep()["controller_retention"] is False
    clock.travel_to(date(2026, 4, 2))
    assert sweep()["controller_retention"] is True
    assert session.scalar(sa.select(sa.func.count()).select_from(RetentionSweep)) == 2
