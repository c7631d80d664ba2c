"""Canary: planted names and e-mails never reach logs, audit entries, job rows, Redis job payloads or error
bodies, and after the purge no file under the instance, outbox and export folders holds one."""
import email
import email.policy
import logging
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.auth import tokens
from privacy_saas.jobs.models import Job
from tests.conftest import HAS_REDIS
from tests.console.test_console_login import sign_in
from tests.helpers import bearer, csrf_token
from tests.lifecycle.conftest import seed

CANARY = "qxcanary"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def canary_email(n) -> str:
    return f"{CANARY}{n}@{CANARY}.example"


def files_under(folders):
    """Yield (path, bytes) of every file below the folders (each file once)."""
    seen = set()
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            if path.is_file() and path not in seen:
                seen.add(path)
                yield path, path.read_bytes()


@pytest.fixture
def redis_conn(app):
    if not HAS_REDIS:
        return None
    from privacy_saas.jobs.queue import redis_connection

    return redis_connection(app)


def test_canaries_stay_out_of_logs_audit_jobs_and_error_bodies(app, client, session, caplog, monkeypatch,
                                                                redis_conn, make_staff):
    caplog.set_level(logging.DEBUG)
    clock.travel_to(date(2026, 11, 23))
    if redis_conn is None:
        monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    tenant = seed("canaryco", users=0)
    staff, _ = make_staff("admin", email=canary_email("staff"))
    headers = bearer(tokens.issue(kind="tenant", name="t", tenant_id=tenant.id)[1])
    session.commit()
    bodies = []

    def call(method, url, **kwargs):
        response = client.open(url, method=method, headers=headers, **kwargs)
        if response.status_code >= 400:
            bodies.append((url, response.get_data(as_text=True)))
        return response

    personal = {"display_name": f"{CANARY} Display", "given_name": f"{CANARY}Given", "family_name": f"{CANARY}Family"}
    created = call("POST", "/api/v1/users", json={"email": canary_email(1), **personal, "role": "admin"})
    assert created.status_code == 201, created.json
    user_id = created.json["id"]
    assert call("POST", "/scim/v2/Users", json={
        "schemas": [USER], "userName": canary_email(2), "externalId": f"{CANARY}-ext",
        "displayName": f"{CANARY} Scim", "name": {"givenName": f"{CANARY}G", "familyName": f"{CANARY}F"},
        "emails": [{"value": canary_email(2), "primary": True}]}).status_code == 201
    call("PATCH", f"/api/v1/users/{user_id}", json={"display_name": f"{CANARY} Renamed"})
    call("GET", "/api/v1/users", query_string={"email": canary_email(1)})
    call("GET", "/scim/v2/Users", query_string={"filter": f'userName eq "{canary_email(2)}"'})
    imported = call("POST", "/api/v1/users/import", data=(
        f"email,display_name\n{canary_email(3)},{CANARY} Imported\nnot-an-email-{CANARY},{CANARY} Bad\n"),
        content_type="text/csv")
    assert imported.status_code < 500
    # Failed sign-ins with canary e-mails: staff console and tenant console.
    assert sign_in(client, canary_email("staff"), "wrong password!!").status_code == 401
    assert sign_in(client, canary_email("nobody"), "wrong password!!").status_code == 401
    page = client.get("/console/t/login")
    assert client.post("/console/t/login", data={
        "csrf_token": csrf_token(page.text), "organisation": "canaryco", "email": canary_email(1),
        "password": "wrong password!!"}).status_code == 401
    # Jobs: the return export and the purge.
    staff_headers = bearer(tokens.issue(kind="staff", name="s", staff_id=staff.id)[1])
    tenant.end_action = "return_then_delete"
    tenant_id = tenant.id
    session.commit()
    ended = client.post("/api/v1/tenants/canaryco/end-contract", headers=staff_headers,
                        json={})
    assert ended.status_code == 200, ended.json
    assert call("POST", "/api/v1/exports").status_code == 202
    jobs_blob = b""
    if redis_conn is not None:
        for key in redis_conn.scan_iter("rq:job:*"):
            if redis_conn.type(key) == b"hash":
                jobs_blob += b"".join(k + v for k, v in redis_conn.hgetall(key).items())
        from privacy_saas.jobs.queue import QUEUE_NAME
        from rq import Queue

        jobs = Queue(QUEUE_NAME, connection=redis_conn).get_jobs()
        assert jobs and jobs_blob
        for job in jobs:
            job.perform()
            job.delete()
    clock.travel_to(date(2028, 1, 1))
    from privacy_saas.lifecycle import purge

    folders = {Path(app.instance_path), Path(app.config["OUTBOX_DIR"]).parent, Path(app.config["OUTBOX_DIR"]),
               Path(app.config["EXPORT_DIR"]), Path(app.config["KEYSTORE_PATH"]).parent}
    # The invitations went to the tenant's outbox folder, in plaintext: there is something to find.
    assert any(CANARY.encode() in blob for _path, blob in files_under(folders))
    assert purge.purge_tenant(tenant_id) == "purged"
    # Nothing personal left behind in any file: instance folder (SQLite database, key store), outbox, exports.
    # One exception, by design: the deletion certificate mailed to the tenant's admin after the purge
    # (notices/certificates.py) is the delivery itself; it names its recipient in `To:` and nothing else.
    leaked_files = []
    for path, blob in files_under(folders):
        if CANARY.encode() not in blob:
            continue
        message = email.message_from_bytes(blob, policy=email.policy.default)
        headers_and_body = blob.replace(f"To: {canary_email(1)}".encode(), b"")
        if "Deletion certificate" not in (message["Subject"] or "") or CANARY.encode() in headers_and_body:
            leaked_files.append(str(path))
    assert not leaked_files
    from privacy_saas.lifecycle.models import DeletionCertificate
    body = session.scalar(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant_id)
                          ).document["certificate"]
    assert body["files_deleted"]["outbox_mails"] >= 1 and body["files_deleted"]["return_exports"] == 1
    # Not a single trace of the canary anywhere but the tenant's own (encrypted, now purged) data.
    assert CANARY.encode() not in jobs_blob
    leaked_logs = [r.getMessage() for r in caplog.records if CANARY in r.getMessage()]
    assert not leaked_logs
    owed = session.scalars(sa.select(Job)).all()
    assert owed and not [j for j in owed if CANARY in repr((j.name, j.args, j.dedupe_key, j.outcome, j.last_error))]
    entries = session.scalars(sa.select(AuditEntry)).all()
    assert entries and not [e for e in entries if CANARY in repr((e.actor_id, e.targets, e.detail, e.action))]
    # Error bodies may echo the caller's own input field by field, never someone's stored data.
    for url, body in bodies:
        assert canary_email(1) not in body and f"{CANARY} Display" not in body, url
