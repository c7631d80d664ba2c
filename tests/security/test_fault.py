"""Fault: PostgreSQL stops under a load of API requests; fast 503 JSON, nothing half-written, recovery."""
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import ON_POSTGRES

#: Stop/start cycles of PostgreSQL per run.
FAULT_RUNS = 2
#: A refused request must answer well within this (generous: it is "fast", not a benchmark).
FAST_SECONDS = 10

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("PRIVACY_SAAS_PG_CTL") or not ON_POSTGRES,
                                 reason="needs PRIVACY_SAAS_PG_CTL (scripts/test.sh) and PostgreSQL")]


def pg_ctl(*args):
    subprocess.run([os.environ["PRIVACY_SAAS_PG_CTL"], *args], check=True, capture_output=True, timeout=120)


def request(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            status, raw, ctype = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, raw, ctype = error.code, error.read(), error.headers.get("Content-Type", "")
    return status, raw, ctype, time.monotonic() - started


@pytest.fixture
def live(app, committed):
    from privacy_saas.processor.users.tokens import create_token
    from tests.helpers import new_tenant, serving

    tenant = new_tenant("faulty")
    token = create_token(tenant, "fault", actor=("test", None))[1]
    tenant_id = tenant.id
    committed.commit()
    committed.remove()
    with serving(app) as base:
        yield base, token, tenant_id


def _wait_until_up(base, token):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if request(base, token, "GET", "/api/v1/users?page_size=1")[0] == 200:
            return
        time.sleep(0.5)
    raise AssertionError("the API did not recover after PostgreSQL restarted")


def test_database_outage_under_load(app, live):
    from privacy_saas.audit.models import AuditEntry
    from privacy_saas.extensions import db
    from privacy_saas.processor.users.models import RegisteredUser

    base, token, tenant_id = live
    created, refused = [], []
    for run in range(FAULT_RUNS):
        results, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                email = f"load-{uuid.uuid4().hex[:10]}@faulty.example"
                status, raw, ctype, took = request(base, token, "POST", "/api/v1/users", {"email": email})
                results.append((email, status, raw, ctype, took))

        workers = [threading.Thread(target=load) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(1)
        pg_ctl("stop", "fast")
        time.sleep(2)  # requests keep arriving while the database is down
        if run == 0:
            # The one outage that takes this node out of a load balancer: it can serve nothing.
            status, raw, _ctype, _took = request(base, "", "GET", "/healthz")
            assert status == 503 and json.loads(raw)["status"] == "unavailable"
            assert json.loads(raw)["checks"]["database"] == "unavailable"
        pg_ctl("start")
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
        _wait_until_up(base, token)
        for email, status, raw, ctype, took in results:
            assert status in (201, 503), (run, status, raw[:200])
            if status == 503:
                assert ctype.startswith("application/json") and json.loads(raw)["code"] == "database_unavailable"
                assert took < FAST_SECONDS
                refused.append(email)
            else:
                created.append(json.loads(raw)["id"])
        assert any(r[1] == 503 for r in results), "the outage was not observed"
    with app.app_context():
        user_ids = {str(u) for u in db.session.scalars(
            sa.select(RegisteredUser.id).where(RegisteredUser.tenant_id == tenant_id))}
        audited = db.session.scalars(sa.select(AuditEntry.targets).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.action == "user.create")).all()
        db.session.remove()
    # Every 201 is stored with its audit entry; a 503 left neither a user nor an entry behind.
    assert user_ids == set(created)
    assert {t[0] for t in audited} == user_ids
    print(f"fault runs: {FAULT_RUNS}; requests: {len(created) + len(refused)}, 201: {len(created)}, "
          f"503: {len(refused)}")
