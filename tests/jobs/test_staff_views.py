"""What staff and monitoring see: /healthz, the Background work page, a tenant's purge status."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job, WorkerHeartbeat
from privacy_saas.lifecycle.models import PurgeRun
from tests.console.test_console_login import sign_in
from tests.helpers import bearer, csrf_token
from tests.lifecycle.conftest import seed

NOW = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def quiet(app, monkeypatch):
    clock.travel_to(NOW)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def job(name="privacy_saas.lifecycle.tasks.build_export", **fields) -> Job:
    values = {"name": name, "args": [], "status": "pending", "attempts": 0, "created_at": clock.now(),
              "not_before": clock.now()}
    row = Job(**{**values, **fields})
    db.session.add(row)
    db.session.flush()
    return row


def worker(name="host:1", **fields) -> WorkerHeartbeat:
    row = WorkerHeartbeat(**{"name": name, "kind": "rq", "started_at": clock.now(), "beat_at": clock.now(),
                             "jobs_dispatched": 4, "sweep_interval": 300.0, **fields})
    db.session.add(row)
    db.session.flush()
    return row


def test_healthz_says_whether_workers_beat_and_the_fleet_sweeps(app, client, session):
    worker(sweep_finished_at=clock.now() - timedelta(seconds=30))
    worker("host:2", beat_at=clock.now() - timedelta(minutes=5))  # silent
    job(status="dead", attempts=8, finished_at=clock.now(), last_error="RuntimeError: x")
    job(attempts=1, last_error="TimeoutError")
    job(name="privacy_saas.lifecycle.tasks.purge_tenant")
    session.commit()
    body = client.get("/healthz").json
    assert body["status"] == "ok"
    assert body["scheduler"] == {"state": "ok", "workers_alive": 1, "last_beat_at": clock.now().isoformat(),
                                 "last_sweep_at": (clock.now() - timedelta(seconds=30)).isoformat(),
                                 "jobs": {"owed": 2, "running": 0, "failing": 1, "dead": 1}}
    clock.advance(timedelta(minutes=12))  # more than two intervals without a sweep, and no beat
    assert client.get("/healthz").json["scheduler"]["state"] == "no live worker"
    session.get(WorkerHeartbeat, "host:1").beat_at = clock.now()
    session.commit()
    assert client.get("/healthz").json["scheduler"]["state"] == "sweep overdue"


@pytest.fixture
def admin_client(client, session, make_staff):
    _, password = make_staff("admin", email="jobs-admin@vendor.example")
    session.commit()
    assert sign_in(client, "jobs-admin@vendor.example", password).status_code == 302
    return client


def test_the_background_work_page_lists_workers_stuck_purges_and_dead_jobs(admin_client, session):
    tenant = seed("stalled", users=1, status="ended", contract_end=date(2025, 6, 30))
    tenant.start_purge()
    session.add(PurgeRun(tenant_id=tenant.id, started_at=clock.now() - timedelta(hours=2), rows_deleted={},
                         attempts=3, step="keys_destroyed"))
    worker(last_error="dispatch: redis.exceptions.ConnectionError", last_error_at=clock.now())
    failing = job(name="privacy_saas.lifecycle.tasks.purge_tenant", tenant_id=tenant.id, attempts=3,
                  last_error="privacy_saas.crypto.errors.KeyStoreUnavailable: store down",
                  not_before=clock.now() + timedelta(minutes=4))
    gone = job(status="dead", attempts=8, finished_at=clock.now(), last_error="RuntimeError: gave up")
    session.commit()
    page = admin_client.get("/console/jobs/").text
    assert "host:1" in page and "redis.exceptions.ConnectionError" in page
    stuck = page.split('id="stuck-purges"')[1].split("</table>")[0]
    assert "stalled" in stuck and "keys_destroyed" in stuck
    owed = page.split('id="owed-jobs"')[1].split("</table>")[0]
    assert "tasks.purge_tenant" in owed and "KeyStoreUnavailable" in owed and "2026-12-01 00:04:00" in owed
    dead = page.split('id="dead-jobs"')[1].split("</table>")[0]
    assert "gave up" in dead and "Retry now" in dead
    tenant_page = admin_client.get("/console/tenants/stalled").text
    assert "stuck" in tenant_page and "attempt 3" in tenant_page and "KeyStoreUnavailable" in tenant_page
    retried = admin_client.post(f"/console/jobs/{gone.id}/retry", data={"csrf_token": csrf_token(page)})
    assert retried.status_code == 302
    db.session.expire_all()
    gone = db.session.get(Job, gone.id)
    assert (gone.status, gone.max_attempts, gone.finished_at) == ("pending", 9, None)
    assert session.scalar(sa.select(AuditEntry.targets).where(AuditEntry.action == "job.retry")) == [str(gone.id)]
    assert failing.status == "pending"


def test_support_sees_the_page_but_cannot_retry(client, session, make_staff):
    _, password = make_staff("support", email="jobs-support@vendor.example")
    job(status="dead", attempts=8, finished_at=clock.now(), last_error="RuntimeError: gave up")
    session.commit()
    assert sign_in(client, "jobs-support@vendor.example", password).status_code == 302
    page = client.get("/console/jobs/")
    assert page.status_code == 200 and "gave up" in page.text and "Retry now" not in page.text


def test_a_dead_job_whose_work_is_owed_again_is_not_revived_twice(admin_client, session):
    gone = job(status="dead", attempts=8, finished_at=clock.now(), dedupe_key="purge:x")
    job(dedupe_key="purge:x")
    session.commit()
    page = admin_client.get("/console/jobs/").text
    refused = admin_client.post(f"/console/jobs/{gone.id}/retry", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 409 and "already owed" in refused.text


def test_the_purge_status_api(client, session, staff_token):
    tenant = seed("halfway", users=1, status="ended", contract_end=date(2025, 6, 30))
    tenant.start_purge()
    session.add(PurgeRun(tenant_id=tenant.id, started_at=clock.now(), rows_deleted={"support_requests": 3},
                         attempts=2, step="aggregated", locked_by="host:7",
                         lease_until=clock.now() + timedelta(seconds=60)))
    row = job(name="privacy_saas.lifecycle.tasks.purge_tenant", tenant_id=tenant.id, status="running", attempts=2,
              last_error="sqlalchemy.exc.OperationalError (OperationalError, SQLSTATE 57P01)")
    session.commit()
    body = client.get("/api/v1/tenants/halfway/purge", headers=bearer(staff_token)).json
    assert body["tenant"] == "halfway" and body["status"] == "purging" and body["stuck"] is False
    assert body["run"]["step"] == "aggregated" and body["run"]["rows_deleted_total"] == 3
    assert body["run"]["locked_by"] == "host:7" and body["run"]["attempts"] == 2
    assert body["job"]["id"] == str(row.id) and body["job"]["status"] == "running"
    assert body["job"]["last_error"].endswith("SQLSTATE 57P01)") and body["job"]["next_try_at"] is None
    never = seed("fresh", users=1)
    session.commit()
    assert client.get("/api/v1/tenants/fresh/purge", headers=bearer(staff_token)).json["run"] is None
    assert never.status == "active"
