"""Execution per kind: access export (once, 30 days), restriction, objection, rectification."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.extensions import db
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights import exports
from privacy_saas.rights.models import DsrTask
from tests.rights.conftest import EMAIL


def _file(app, task_id) -> Path:
    return exports.path_of(db.session.get(DsrTask, UUID(str(task_id))))


def _request(client, headers, kind, **extra):
    response = client.post("/api/v1/dsr", json={"kind": kind, "email": EMAIL, **extra}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_access_export_for_a_tenant_downloads_once(app, client, world, role_headers, tenant_headers):
    a, b = tenant_headers(world["a"]), tenant_headers(world["b"])
    _request(client, role_headers("support"), "access")
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    assert client.get(f"/api/v1/instructions/{instruction['id']}/export", headers=a).status_code == 409
    approved = client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a)
    assert approved.status_code == 200
    shown = client.get(f"/api/v1/instructions/{instruction['id']}", headers=a).json
    assert shown["status"] == "executed" and shown["export_status"] == "ready"
    assert shown["outcome"]["usage_events"] == 4 and shown["outcome"]["support_requests"] == 2
    sealed = _file(app, instruction["id"]).read_bytes()
    assert b"Grace" not in sealed and b"Cannot log in" not in sealed and b"subject.json" not in sealed

    assert client.get(f"/api/v1/instructions/{instruction['id']}/export", headers=b).status_code == 404
    download = client.get(f"/api/v1/instructions/{instruction['id']}/export", headers=a)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    assert sorted(archive.namelist()) == ["subject.json", "support_requests.csv", "usage_events.csv"]
    doc = json.loads(archive.read("subject.json"))
    assert doc["user"]["email"] == EMAIL.lower() and doc["held_by"]["controller"] == "Alpha Ltd"
    assert len(doc["usage_events"]) == 4 and doc["support_requests"][0]["body"] == "Cannot log in"
    assert archive.read("usage_events.csv").decode().count("\n") == 5
    assert not _file(app, instruction["id"]).exists()
    again = client.get(f"/api/v1/instructions/{instruction['id']}/export", headers=a)
    assert again.status_code == 410 and again.json["code"] == "export_gone"


def test_controller_export_expires_after_30_days(app, client, world, role_headers):
    dpo = role_headers("dpo")
    _request(client, dpo, "portability")
    task = client.get("/api/v1/dsr-tasks", headers=dpo).json[0]
    assert client.post(f"/api/v1/dsr-tasks/{task['id']}/approve", headers=dpo).status_code == 200
    assert _file(app, task["id"]).exists()
    clock.travel_to(clock.now() + timedelta(days=30, seconds=1))
    gone = client.get(f"/api/v1/dsr-tasks/{task['id']}/export", headers=dpo)
    assert gone.status_code == 410
    assert not _file(app, task["id"]).exists()
    # The refusal keeps what led to it: the task says expired and the deletion is audited.
    db.session.expire_all()
    assert db.session.get(DsrTask, UUID(task["id"])).export_status == "expired"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "dsr.export.expire")) == 1
    assert client.get(f"/api/v1/dsr-tasks/{task['id']}/export", headers=dpo).status_code == 410


def test_expiry_sweep_deletes_files(app, client, world, role_headers, runner):
    dpo = role_headers("dpo")
    _request(client, dpo, "access")
    task = client.get("/api/v1/dsr-tasks", headers=dpo).json[0]
    client.post(f"/api/v1/dsr-tasks/{task['id']}/approve", headers=dpo)
    clock.travel_to(clock.now() + timedelta(days=29))
    result = runner.invoke(args=["dsr", "expire-exports"])
    assert result.exit_code == 0 and "0 exports deleted" in result.output
    assert _file(app, task["id"]).exists()
    clock.travel_to(clock.now() + timedelta(days=2))
    result = runner.invoke(args=["dsr", "expire-exports"])
    assert result.exit_code == 0 and "1 exports deleted" in result.output
    assert not _file(app, task["id"]).exists()


def test_controller_export_content(client, world, role_headers):
    dpo = role_headers("dpo")
    _request(client, dpo, "access")
    task = client.get("/api/v1/dsr-tasks", headers=dpo).json[0]
    client.post(f"/api/v1/dsr-tasks/{task['id']}/approve", headers=dpo)
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/v1/dsr-tasks/{task['id']}/export", headers=dpo).data))
    doc = json.loads(archive.read("subject.json"))
    assert doc["contact"]["name"] == "Grace Hopper" and doc["held_by"] == {"controller": "the vendor"}
    assert "consents.csv" in archive.namelist()


def test_restriction_blocks_ingestion_until_lifted(client, world, role_headers, tenant_headers):
    a = tenant_headers(world["a"])
    user_id = str(world["user_a"].id)
    _request(client, role_headers("dpo"), "restrict")
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    event = {"events": [{"user_id": user_id, "kind": "page_view", "occurred_at": clock.now().isoformat()}]}
    assert client.post("/api/v1/usage-events", json=event, headers=a).status_code == 201
    assert client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a).status_code == 200
    refused = client.post("/api/v1/usage-events", json=event, headers=a)
    assert refused.status_code == 400 and "restricted" in json.dumps(refused.json)
    # Tenant B's copy of the same person is untouched until B decides.
    b_event = {"events": [{"user_id": str(world["user_b"].id), "kind": "page_view",
                           "occurred_at": clock.now().isoformat()}]}
    assert client.post("/api/v1/usage-events", json=b_event, headers=tenant_headers(world["b"])).status_code == 201
    assert client.post(f"/api/v1/instructions/{instruction['id']}/lift", headers=a).status_code == 200
    assert client.post("/api/v1/usage-events", json=event, headers=a).status_code == 201


def test_controller_restriction_and_objection_stop_marketing(client, world, role_headers):
    dpo = role_headers("dpo")
    contact_id = world["contact"].id
    _request(client, dpo, "restrict")
    task = client.get("/api/v1/dsr-tasks?status=pending", headers=dpo).json[0]
    client.post(f"/api/v1/dsr-tasks/{task['id']}/approve", headers=dpo)
    db.session.expire_all()
    contact = contacts.get(contact_id)
    assert contact.restricted and contacts.marketing_eligibility(contact).reason == "restricted"
    client.post(f"/api/v1/dsr-tasks/{task['id']}/lift", headers=dpo)
    _request(client, dpo, "object")
    task = client.get("/api/v1/dsr-tasks?status=pending", headers=dpo).json[0]
    client.post(f"/api/v1/dsr-tasks/{task['id']}/approve", headers=dpo)
    db.session.expire_all()
    contact = contacts.get(contact_id)
    assert not contact.restricted and contact.do_not_contact
    assert not contacts.marketing_eligibility(contact)


def test_rectify_changes_only_the_approved_fields(client, world, role_headers, tenant_headers):
    dpo, a = role_headers("dpo"), tenant_headers(world["a"])
    tenant_a, user_a, contact_id = world["a"].id, world["user_a"].id, world["contact"].id
    _request(client, dpo, "rectify", changes={"display_name": "Rear Admiral Hopper", "job_title": "Admiral"})
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    assert instruction["rectify_fields"] == ["display_name", "job_title"]
    client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a)
    task = client.get("/api/v1/dsr-tasks", headers=dpo).json[0]
    client.post(f"/api/v1/dsr-tasks/{task['id']}/approve", headers=dpo)
    db.session.expire_all()
    user = db.session.get(RegisteredUser, (tenant_a, user_a))
    assert user.display_name == "Rear Admiral Hopper" and user.email == EMAIL.lower()
    assert user.version == 2  # rectified through the users service: SCIM clients see a new ETag
    contact = contacts.get(contact_id)
    assert contact.job_title == "Admiral" and contact.name == "Grace Hopper"
    user_b = db.session.get(RegisteredUser, (world["b"].id, world["user_b"].id))
    assert user_b.display_name == "Grace"  # B never decided


def test_purge_of_the_tenant_removes_its_subject_exports(app, client, world, role_headers, tenant_headers):
    a = tenant_headers(world["a"])
    client.post("/api/v1/dsr", json={"kind": "access", "email": EMAIL}, headers=role_headers("dpo"))
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a)
    path = _file(app, instruction["id"])
    assert path.exists() and Path(app.config["EXPORT_DIR"]) / str(world["a"].id) in path.parents
