"""Requests that close: a reasoned answer (API and console), ended tenants still answer, purged ones settle."""
from __future__ import annotations

import uuid
from datetime import timedelta

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle import service as lifecycle
from privacy_saas.rights.models import DataSubjectRequest, DsrTask
from privacy_saas.rights.service import NO_DATA_FOUND, answered_by_purges
from tests.helpers import csrf_token
from tests.rights.conftest import EMAIL


def _request(request_id) -> DataSubjectRequest:
    db.session.expire_all()
    return db.session.get(DataSubjectRequest, uuid.UUID(str(request_id)))


def test_a_zero_match_request_is_closed_with_a_reason_and_the_clock_stops(client, world, role_headers):
    dpo = role_headers("dpo")
    created = client.post("/api/v1/dsr", json={"kind": "access", "email": "nobody@nowhere.example"}, headers=dpo).json
    assert created["match_count"] == 0 and created["status"] == "open"
    clock.advance(timedelta(days=40))
    assert client.get(f"/api/v1/dsr/{created['id']}", headers=dpo).json["overdue"] is True
    support = client.post(f"/api/v1/dsr/{created['id']}/close", json={"reason": NO_DATA_FOUND},
                          headers=role_headers("support"))
    assert support.status_code == 403
    empty = client.post(f"/api/v1/dsr/{created['id']}/close", json={"reason": ""}, headers=dpo)
    assert empty.status_code == 400 and "reason" in empty.json["errors"]
    closed = client.post(f"/api/v1/dsr/{created['id']}/close", json={"reason": NO_DATA_FOUND}, headers=dpo)
    assert closed.status_code == 200, closed.json
    assert (closed.json["status"], closed.json["overdue"]) == ("closed", False)
    assert closed.json["closed_by"].startswith("staff:")
    stored = _request(created["id"])
    assert stored.close_reason == NO_DATA_FOUND and NO_DATA_FOUND.encode() not in stored.close_reason_ct
    entry = db.session.query(AuditEntry).filter_by(action="dsr.close").one()
    assert entry.detail == {"kind": "access", "matches": 0, "late": True}  # the answer's words stay out
    again = client.post(f"/api/v1/dsr/{created['id']}/close", json={"reason": "again"}, headers=dpo)
    assert again.status_code == 409


def test_a_request_with_matches_waiting_is_not_closed_by_hand(client, world, role_headers):
    dpo = role_headers("dpo")
    created = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=dpo).json
    refused = client.post(f"/api/v1/dsr/{created['id']}/close", json={"reason": "done by phone"}, headers=dpo)
    assert refused.status_code == 409 and "still to be decided" in refused.json["message"]
    assert _request(created["id"]).status == "open"


def test_an_ended_tenants_admin_still_answers_an_erasure(client, world, role_headers, tenant_headers):
    a = tenant_headers(world["a"])
    key = (world["a"].id, world["user_a"].id)
    client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=role_headers("dpo"))
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    lifecycle.end_contract(world["a"])
    db.session.commit()
    done = client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a)
    assert done.status_code == 200, done.json
    assert done.json["status"] == "executed" and done.json["outcome"]["registered_users"] == 1
    from privacy_saas.processor.users.models import RegisteredUser
    db.session.expire_all()
    assert db.session.get(RegisteredUser, key) is None


def test_a_request_answered_by_a_purge_closes_naming_its_certificate(client, world, role_headers, console_login):
    from privacy_saas.jobs.scheduler import sweep

    dpo = role_headers("dpo")
    created = client.post("/api/v1/dsr", json={"kind": "erase", "email": "bystander@alpha.example"},
                          headers=dpo).json
    assert created["match_count"] == 1
    tenant = world["a"]
    tenant.retain_after_end = "P1D"
    lifecycle.end_contract(tenant, clock.today() - timedelta(days=5))
    db.session.commit()
    assert answered_by_purges() == []  # its instruction waits: the ended tenant's admins can still answer
    assert purge.purge_tenant(tenant.id) == "purged"
    request = _request(created["id"])
    assert request.status == "open" and request.tasks == []  # the purge took the instruction with the data
    assert sweep()["dsr_closed_by_purge"] == 1
    request = _request(created["id"])
    certificate = lifecycle.certificate(tenant)
    assert (request.status, request.closed_by) == ("closed", "system:purge")
    assert "purge of alpha" in request.close_reason and str(certificate.id) in request.close_reason
    assert sweep()["dsr_closed_by_purge"] == 0
    console_login("dpo")
    page = client.get(f"/console/rights/{created['id']}").get_data(as_text=True)
    assert str(certificate.id) in page and 'id="close-request"' not in page


def test_console_close_intake_errors_keep_input_and_export_download(client, world, role_headers, console_login):
    console_login("dpo")
    page = client.get("/console/rights/").get_data(as_text=True)
    bad = client.post("/console/rights/new", data={"csrf_token": csrf_token(page), "kind": "access",
                                                   "email": "not-an-email", "channel": "email",
                                                   "notes": "called on Tuesday"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'value="not-an-email"' in text and "called on Tuesday" in text
    assert 'id="intake-error"' in text and "<details class=\"card\" open>" in text
    created = client.post("/console/rights/new", data={"csrf_token": csrf_token(page), "kind": "access",
                                                       "email": "nobody@nowhere.example", "channel": "email"})
    detail_url = created.headers["Location"]
    detail = client.get(detail_url).get_data(as_text=True)
    assert NO_DATA_FOUND in detail and 'id="close-request"' in detail
    short = client.post(f"{detail_url}/close", data={"csrf_token": csrf_token(detail), "reason": "x"})
    assert short.status_code == 400 and "3 characters" in short.get_data(as_text=True)
    closed = client.post(f"{detail_url}/close", data={"csrf_token": csrf_token(detail), "reason": NO_DATA_FOUND},
                         follow_redirects=True).get_data(as_text=True)
    assert "Request closed" in closed and 'id="close-reason"' in closed and 'id="close-request"' not in closed
    # An access request matching the contact: approve, then download the export once.
    grace = client.post("/console/rights/new", data={"csrf_token": csrf_token(page), "kind": "access",
                                                     "email": EMAIL, "channel": "email"}).headers["Location"]
    [task] = [t for t in _request(grace.rsplit("/", 1)[1]).tasks if t.scope == "controller"]
    client.post(f"/console/rights/tasks/{task.id}/approve", data={"csrf_token": csrf_token(page)})
    detail = client.get(grace).get_data(as_text=True)
    assert f'id="export-{task.id}"' in detail
    download = client.post(f"/console/rights/tasks/{task.id}/export", data={"csrf_token": csrf_token(detail)})
    assert download.status_code == 200 and download.mimetype == "application/zip" and download.data[:2] == b"PK"
    assert client.post(f"/console/rights/tasks/{task.id}/export",
                       data={"csrf_token": csrf_token(detail)}).status_code == 410
    assert "export downloaded" in client.get(grace).get_data(as_text=True)


def test_staff_erasure_is_confirmed_before_it_is_carried_out(client, world, role_headers, console_login):
    from privacy_saas.controller.contacts.models import Contact

    contact_id = world["contact"].id
    request_id = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=role_headers("dpo")).json["id"]
    console_login("dpo")
    page = client.get(f"/console/rights/{request_id}").get_data(as_text=True)
    task = db.session.query(DsrTask).filter_by(request_id=uuid.UUID(request_id), scope="controller").one()
    assert f'href="/console/rights/tasks/{task.id}/approve"' in page and "Approve and erase" in page
    confirm = client.get(f"/console/rights/tasks/{task.id}/approve").get_data(as_text=True)
    assert "cannot be undone" in confirm
    assert db.session.get(Contact, contact_id) is not None
    client.post(f"/console/rights/tasks/{task.id}/approve", data={"csrf_token": csrf_token(confirm)})
    db.session.expire_all()
    assert db.session.get(Contact, contact_id) is None


def test_a_tenant_admin_downloads_an_access_export_once_in_the_console(client, world, role_headers):
    from privacy_saas.processor.users import service as users
    from tests.console.test_tenant_views import sign_in
    from tests.helpers import PASSWORD, form_token

    users.create(world["a"], email="boss@alpha.example", role="admin", password=PASSWORD, actor=("test", None))
    db.session.commit()
    client.post("/api/v1/dsr", json={"kind": "access", "email": EMAIL}, headers=role_headers("support"))
    assert sign_in(client, org="alpha", email="boss@alpha.example").status_code == 302
    page = client.get("/console/t/instructions").get_data(as_text=True)
    [task] = db.session.query(DsrTask).filter_by(tenant_id=world["a"].id).all()
    client.post(f"/console/t/instructions/{task.id}/approve", data={"csrf_token": csrf_token(page)})
    page = client.get("/console/t/instructions").get_data(as_text=True)
    assert f'id="export-{task.id}"' in page
    download = client.post(f"/console/t/instructions/{task.id}/export",
                           data={"csrf_token": form_token(client, "/console/t/instructions")})
    assert download.status_code == 200 and download.data[:2] == b"PK"
    gone = client.post(f"/console/t/instructions/{task.id}/export",
                       data={"csrf_token": form_token(client, "/console/t/instructions")})
    assert gone.status_code == 410 and 'href="/console/t/audit"' in gone.get_data(as_text=True)
    assert "export downloaded" in client.get("/console/t/instructions").get_data(as_text=True)
