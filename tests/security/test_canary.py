"""Canary: planted names and e-mails never reach logs, audit entries, job rows, Redis job payloads or error
bodies, and after the purge no file under the instance, outbox and export folders holds one."""
import email
import email.policy
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.auth import tokens
from privacy_saas.jobs.models import Job
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.models import RegisteredUser
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


# --- access logs, outbox and exports (issue 15) ------------------------------------------------------

#: Requests whose URLs carry the canary (e-mail queries, SCIM filters, console searches, link secrets).
CANARY_TARGETS = [
    f"/api/v1/users?email={canary_email(1)}&page=1",
    f"/api/v1/users?email={canary_email(1).replace('@', '%40')}",
    f"/scim/v2/Users?filter=userName+eq+%22{canary_email(2)}%22&startIndex=1",
    f"/console/t/users?email={canary_email(3)}",
    f"/console/contacts?email={canary_email(4)}&page=2",
    f"/api/v1/users/{canary_email(5)}",
    f"/console/t/set-password/{CANARY}secret",
    f"/unsubscribe/{CANARY}token?{canary_email(6)}",
]


def test_canaries_stay_out_of_werkzeugs_access_log(app, caplog):
    from tests.helpers import serving

    caplog.set_level(logging.INFO, logger="werkzeug")
    with serving(app) as base:
        for target in CANARY_TARGETS:
            request = urllib.request.Request(base + target, headers={
                "Referer": f"{base}/console/t/set-password/{CANARY}ref?email={canary_email(7)}"})
            try:
                urllib.request.urlopen(request, timeout=30).close()
            except urllib.error.HTTPError:
                pass  # 401, 404: logged all the same
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len([line for line in lines if "REDACTED" in line]) >= len(CANARY_TARGETS), lines
    assert not [line for line in lines if CANARY in line], lines
    # What is safe stays readable for operators.
    assert any("page=1" in line and "email=REDACTED" in line for line in lines)
    assert any("startIndex=1" in line and "filter=REDACTED" in line for line in lines)


ECHO_APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


def test_canaries_stay_out_of_gunicorns_access_log(tmp_path):
    """gunicorn started in the project directory reads gunicorn.conf.py: its access log is redacted."""
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "echo_app.py").write_text(ECHO_APP)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "access.log"
    log_format = '%(h)s "%(r)s" %(s)s "%(f)s" q=%(q)s %(U)s %({authorization}i)s %({raw_uri}e)s %({query_string}e)s'
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--pythonpath", str(tmp_path),
         "--access-logfile", str(log), "--access-logformat", log_format, "echo_app:app"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        for target in CANARY_TARGETS:
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{target}", headers={
                "Referer": f"https://admin.example/console/t/set-password/{CANARY}ref?email={canary_email(7)}",
                "Authorization": f"Bearer {CANARY}token"}), timeout=10).close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = log.read_text().splitlines()
    assert len(lines) == len(CANARY_TARGETS) + 1, lines
    assert not [line for line in lines if CANARY in line], lines
    assert all("REDACTED" in line for line in lines[1:]) and "startIndex=1" in log.read_text()


def read_outbox(directory) -> list:
    return [(path.name, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
            for path in sorted(Path(directory).rglob("*.eml"))]


def test_each_mail_holds_only_its_recipients_own_data(app, client, session, monkeypatch, tmp_path, make_keyed_tenant,
                                                      make_token):
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://privacy.example.com")
    people = {}
    for tenant_slug, n in (("canary-a", 1), ("canary-a", 2), ("canary-b", 3)):
        tenant = session.scalar(sa.select(Tenant).where(Tenant.slug == tenant_slug)) or make_keyed_tenant(tenant_slug)
        name = f"{CANARY}Name{n}"
        response = client.post("/api/v1/users", json={"email": canary_email(n), "display_name": name},
                               headers=bearer(make_token(tenant)), base_url="http://evil.example")
        assert response.status_code == 201, response.json
        people[canary_email(n)] = name
    mails = read_outbox(tmp_path / "outbox")
    assert sorted(mail["To"] for _, mail in mails) == sorted(people)
    for filename, mail in mails:
        recipient, text = mail["To"], mail.as_string()
        assert CANARY not in filename and "evil.example" not in text
        assert recipient in mail.get_content() and people[recipient] in mail.get_content()
        others = [value for address, name in people.items() if address != recipient for value in (address, name)]
        assert not [value for value in others if value in text], (recipient, others)


def test_exports_hold_only_what_their_recipient_may_see(app, client, session, monkeypatch, make_staff):
    from privacy_saas.rights.exports import user_document

    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    clock.travel_to(date(2026, 11, 23))
    mine = seed(f"{CANARY}-mine", users=2, end_action="return_then_delete")
    theirs = seed(f"{CANARY}-theirs", users=2)
    for user in session.scalars(sa.select(RegisteredUser)):
        user.display_name = f"{CANARY}{user.tenant_id == mine.id and 'Mine' or 'Theirs'}{user.id.hex[-6:]}"
    mine.end_contract(date(2026, 10, 31))
    token = bearer(tokens.issue(kind="tenant", name="t", tenant_id=mine.id)[1])
    staff_token = bearer(tokens.issue(kind="staff", name="s", staff_id=make_staff("dpo")[0].id)[1])
    session.commit()
    # The return export: the tenant's own people, nothing of another tenant, no ciphertexts or index values.
    assert client.post("/api/v1/exports", headers=token).status_code == 202
    [export] = client.get("/api/v1/exports", headers=token).json
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/v1/exports/{export['id']}/download", headers=token).data))
    text = "".join(archive.read(name).decode() for name in archive.namelist())
    assert f"{CANARY}Mine" in text and f"{CANARY}Theirs" not in text and f"@{CANARY}-theirs" not in text
    header = archive.read("registered_users.csv").decode().splitlines()[0].split(",")
    assert not [column for column in header if column.endswith(("_ct", "_bidx", "_hash"))], header
    # The audit CSV, for staff: ids and codes only.
    audit_csv = client.get("/api/v1/audit.csv", headers=staff_token)
    assert audit_csv.status_code == 200 and audit_csv.get_data(as_text=True).count("\n") > 1
    assert CANARY not in audit_csv.get_data(as_text=True).replace(f"{CANARY}-mine", "").replace(
        f"{CANARY}-theirs", "")  # tenant slugs are the tenants' own names, not personal data
    # A data subject's document: that person only, not their colleagues.
    first, second = session.scalars(sa.select(RegisteredUser).where(RegisteredUser.tenant_id == mine.id)).all()
    document = json.dumps(user_document(first))
    assert first.display_name in document and second.display_name not in document and second.email not in document
