"""Faults for real: PostgreSQL and Redis stopped under real worker processes; nothing owed is lost.

(a) PostgreSQL stops in the middle of a purge, two workers, the production lease: the purge finishes
    by itself, one certificate, nothing left, the neighbour intact.
(b) Redis is killed while an export, a DSR execution and a purge are requested: each completes once
    Redis is back, with no manual step.
(c) Redis restarts empty while jobs are owed: they are handed over again from the database.
(d) The scheduler keeps sweeping through a Redis outage, and the RQ loop works again after it.
(e) Console sign-in during a Redis outage: never a 500, and the rate limit still holds.

Short job timings (heartbeat, loss, dispatch, retry) keep these fast; the purge lease is the
production one. Every wait is bounded and polls for an end state.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import date
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.jobs.dispatcher import dispatch
from privacy_saas.jobs.models import Job, WorkerHeartbeat
from privacy_saas.jobs.queue import QUEUE_NAME, RQBackend, enqueue, redis_connection
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.lifecycle.models import DeletionCertificate, PurgeRun, TenantExport
from privacy_saas.lifecycle.tasks import PURGE_JOB
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.rights.models import DsrTask
from tests.conftest import ON_POSTGRES, TEST_MASTER_KEYS
from tests.helpers import csrf_token, http, serving
from tests.lifecycle.conftest import rows_of, seed

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(not (os.environ.get("PRIVACY_SAAS_PG_CTL") and os.environ.get("PRIVACY_SAAS_REDIS_CTL"))
                                 or not ON_POSTGRES,
                                 reason="needs PRIVACY_SAAS_PG_CTL, PRIVACY_SAAS_REDIS_CTL (scripts/test.sh), PostgreSQL")]

#: Fast job machinery for the test workers (production: 10, 60, 60, 2, 10, 900 seconds).
FAST = {"PRIVACY_SAAS_JOB_HEARTBEAT_SECONDS": "0.5", "PRIVACY_SAAS_JOB_LOST_AFTER_SECONDS": "3",
        "PRIVACY_SAAS_JOB_DISPATCH_TIMEOUT_SECONDS": "3", "PRIVACY_SAAS_JOB_POLL_SECONDS": "0.3",
        "PRIVACY_SAAS_JOB_RETRY_BASE_SECONDS": "0.5", "PRIVACY_SAAS_JOB_RETRY_MAX_SECONDS": "2"}
#: Longest wait for any end state (the purge of (a) waits for a 60 s lease).
MAX_WAIT = 150


def ctl(kind: str, *args: str) -> None:
    subprocess.run([os.environ[f"PRIVACY_SAAS_{kind}_CTL"], *args], check=True, capture_output=True, timeout=120)


def wait_for(what: str, check, timeout: float = MAX_WAIT, explain=lambda: ""):
    """Poll `check` (a database read, retried through outages) until it returns something true.

    On time-out the assertion says `what`, with `explain()` (e.g. the workers' log tail).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except sa.exc.OperationalError:
            result = None
        finally:
            db.session.rollback()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}\n{explain()[-4000:]}")
        time.sleep(0.2)


def base_env(app, tmp_path: Path) -> dict:
    env = {**os.environ, **FAST,
           "PRIVACY_SAAS_MASTER_KEYS": TEST_MASTER_KEYS,
           "SECRET_KEY": "test-secret",
           "PRIVACY_SAAS_INSTANCE": str(tmp_path / "instance"),
           "PRIVACY_SAAS_SIGNING_KEY_FILE": app.config["PRIVACY_SAAS_SIGNING_KEY_FILE"],
           "PRIVACY_SAAS_EXPORT_DIR": app.config["EXPORT_DIR"],
           "PRIVACY_SAAS_OUTBOX_DIR": app.config["OUTBOX_DIR"]}
    for name in ("PRIVACY_SAAS_PURGE_FAULT", "PRIVACY_SAAS_PURGE_LEASE_SECONDS", "PRIVACY_SAAS_NOW"):
        env.pop(name, None)
    return env


class Workers:
    """Real `privacy-saas worker` processes, each logging to a file; stopped (SIGTERM, then kill) on exit."""

    def __init__(self, app, tmp_path: Path, count: int = 2, sweep_interval: float = 0, **env):
        self.logs = [tmp_path / f"worker-{n}.log" for n in range(count)]
        environment = {**base_env(app, tmp_path), **env}
        self.procs = [subprocess.Popen(
            [sys.executable, "-c", "from privacy_saas.cli import main; main()", "worker",
             "--sweep-interval", str(sweep_interval)],
            env=environment, stdout=subprocess.DEVNULL, stderr=log.open("wb")) for log in self.logs]

    def log(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs)

    def alive(self, but: int | None = None) -> bool:
        return all(p.poll() is None for n, p in enumerate(self.procs) if n != but)

    def kill_where(self, logged: str) -> int:
        """SIGKILL the worker whose log holds `logged`; return its number."""
        [number] = [n for n, log in enumerate(self.logs) if logged in log.read_text(errors="replace")]
        self.procs[number].kill()
        self.procs[number].wait(timeout=30)
        return number

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def workers(app, tmp_path, **options):
    running = Workers(app, tmp_path, **options)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def clean_queue(app, committed):
    from rq import Queue

    from privacy_saas.lifecycle.certificates import signing_key

    signing_key()  # the workers share this key file
    Queue(QUEUE_NAME, connection=redis_connection(app)).empty()
    yield
    ctl("PG", "start")  # whatever a failed test left down comes back for the next ones
    ctl("REDIS", "start")


def certificates_of(tenant_id):
    return db.session.scalars(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant_id)).all()


def purge_job(tenant_id) -> Job:
    return db.session.scalar(sa.select(Job).where(Job.tenant_id == tenant_id, Job.name.endswith("purge_tenant")))


def assert_purged(tenant_id, before: dict, neighbour_id, neighbour_before: dict) -> None:
    db.session.expire_all()
    [cert] = certificates_of(tenant_id)
    assert cert.document["certificate"]["rows_deleted_total"] == sum(before.values())
    assert sum(rows_of(tenant_id).values()) == 0
    assert rows_of(neighbour_id) == neighbour_before
    assert db.session.get(Tenant, tenant_id).status == "purged"
    db.session.rollback()


def test_a_database_outage_mid_purge_the_purge_finishes_by_itself(app, clean_queue, tmp_path):
    doomed = seed("mid-purge", users=6, events_per_user=3, support=2, status="ended", contract_end=date(2020, 1, 31))
    neighbour = seed("next-door", users=3, events_per_user=2)
    doomed_id, neighbour_id = doomed.id, neighbour.id
    db.session.commit()
    before, neighbour_before = rows_of(doomed_id), rows_of(neighbour_id)
    db.session.commit()
    pause = tmp_path / "pause"
    pause.mkdir()
    # The first run holds after its first batch (keys destroyed, usage partition dropped, users not
    # yet deleted) until PostgreSQL is down; the production lease (60 s) stays as it is.
    with workers(app, tmp_path, count=2, PRIVACY_SAAS_PURGE_FAULT="pause:after_first_batch",
                 PRIVACY_SAAS_PURGE_PAUSE_DIR=str(pause)) as running:
        assert sweep()["purge"] == ["mid-purge"]
        wait_for("a worker reached the pause", lambda: (pause / "after_first_batch.reached").exists(), 60)
        ctl("PG", "stop", "fast")
        try:
            (pause / "after_first_batch.go").touch()
            # The run goes on into a database that is gone: its job fails and cannot even say so.
            deadline = time.monotonic() + 60
            while "failed, attempt 1" not in running.log() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "failed, attempt 1" in running.log(), running.log()[-3000:]
            assert running.alive(), "a worker died with the database"
            # Its worker is gone too now, so the retry goes to the other worker (a retry in the same
            # process rightly takes back its own lease), which finds that lease still live.
            paused = running.kill_where("paused at after_first_batch")
        finally:
            ctl("PG", "start")
        wait_for("the purge certified by itself", lambda: certificates_of(doomed_id), explain=running.log)
        assert running.alive(but=paused)
        log = running.log()
    assert_purged(doomed_id, before, neighbour_id, neighbour_before)
    job = purge_job(doomed_id)
    assert (job.status, job.outcome) == ("done", "purged") and job.attempts >= 2
    # The retry met the dead run's live lease: it waited for it (not a success, as before).
    assert "waits until" in log and "is being purged by" in log
    run = db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == doomed_id))
    assert run.attempts >= 2 and run.step == "certified" and run.locked_by is None


def test_redis_killed_while_work_is_requested_everything_completes_once_it_returns(app, clean_queue, tmp_path):
    from privacy_saas.auth import tokens

    doomed = seed("purged-later", users=3, events_per_user=2, status="ended", contract_end=date(2020, 1, 31))
    returning = seed("returning", users=2, events_per_user=2, status="ended", contract_end=clock.today(),
                     end_action="return_then_delete")
    subject = seed("dsr-co", users=2, events_per_user=2)
    doomed_id, returning_id, subject_id = doomed.id, returning.id, subject.id
    staff_token = tokens.issue(kind="staff", name="t", staff_id=_staff())[1]
    returning_token = tokens.issue(kind="tenant", name="t", tenant_id=returning_id)[1]
    subject_token = tokens.issue(kind="tenant", name="t", tenant_id=subject_id)[1]
    db.session.commit()
    before = rows_of(doomed_id)
    db.session.commit()
    with workers(app, tmp_path, count=2) as running, serving(app) as url:
        ctl("REDIS", "kill")
        try:
            status, export = http("POST", f"{url}/api/v1/exports", returning_token)
            assert status == 202, export
            status, dsr = http("POST", f"{url}/api/v1/dsr", staff_token,
                               {"kind": "access", "email": "user1@dsr-co.example"})
            assert status == 201, dsr
            status, instructions = http("GET", f"{url}/api/v1/instructions", subject_token)
            status, approved = http("POST", f"{url}/api/v1/instructions/{instructions[0]['id']}/approve",
                                    subject_token)
            assert status == 200 and approved["export_status"] == "building", approved
            assert sweep()["purge"] == ["purged-later"]
            owed = db.session.scalars(sa.select(Job.name).where(Job.status == "pending")).all()
            assert {"privacy_saas.lifecycle.tasks.build_export", "privacy_saas.rights.tasks.build_export",
                    "privacy_saas.lifecycle.tasks.purge_tenant"} <= set(owed)
            db.session.rollback()
            assert running.alive()
        finally:
            ctl("REDIS", "start")
        wait_for("the return export built", lambda: db.session.scalar(
            sa.select(TenantExport.status).where(TenantExport.tenant_id == returning_id)) == "ready")
        wait_for("the DSR export built", lambda: db.session.scalar(
            sa.select(DsrTask.export_status).where(DsrTask.tenant_id == subject_id)) == "ready")
        wait_for("the purge certified", lambda: certificates_of(doomed_id), explain=running.log)
        assert running.alive()
        wait_for("every owed job done", lambda: set(db.session.scalars(sa.select(Job.status))) == {"done"})
    db.session.expire_all()
    assert sum(rows_of(doomed_id).values()) == 0
    [cert] = certificates_of(doomed_id)
    assert cert.document["certificate"]["rows_deleted_total"] == sum(before.values())
    # Each ran once: none was lost, and none was done twice.
    attempts = sorted((j.name, j.attempts) for j in db.session.scalars(
        sa.select(Job).where(sa.or_(Job.name.endswith("build_export"), Job.name.endswith("purge_tenant")))))
    assert attempts == [("privacy_saas.lifecycle.tasks.build_export", 1), ("privacy_saas.lifecycle.tasks.purge_tenant", 1),
                        ("privacy_saas.rights.tasks.build_export", 1)]


def _staff():
    from privacy_saas.auth import service

    return service.create_staff("support-fault@vendor.example", "support", "correct horse battery").id


def test_jobs_lost_with_a_redis_restart_are_handed_over_again(app, clean_queue, tmp_path):
    from rq import Queue

    from privacy_saas.lifecycle.export import request_export

    returning = seed("lost-exports", users=2, status="ended", contract_end=clock.today(),
                     end_action="return_then_delete")
    doomed = seed("lost-purge", users=2, status="ended", contract_end=date(2020, 1, 31))
    returning_id, doomed_id = returning.id, doomed.id
    exports = [request_export(returning, None).id for _ in range(2)]
    db.session.commit()  # both exports leave for RQ with this commit; no worker runs
    enqueue(PURGE_JOB, str(doomed_id), tenant_id=doomed_id, dedupe=f"purge:{doomed_id}", max_attempts=None)
    db.session.commit()
    dispatch(RQBackend(app))  # a dispatcher finds all three in RQ and marks them handed over
    assert sorted(db.session.scalars(sa.select(Job.status))) == ["dispatched"] * 3
    db.session.rollback()
    queue = Queue(QUEUE_NAME, connection=redis_connection(app))
    assert queue.count == 3
    ctl("REDIS", "restart")  # no persistence: it comes back empty
    assert queue.count == 0
    with workers(app, tmp_path, count=1) as running:
        wait_for("both exports built", lambda: db.session.scalars(
            sa.select(TenantExport.status).where(TenantExport.id.in_(exports))).all() == ["ready", "ready"])
        wait_for("the purge certified", lambda: certificates_of(doomed_id))
        wait_for("every job done", lambda: set(db.session.scalars(sa.select(Job.status))) == {"done"})
        log = running.log()
    assert log.count("unknown to the queue; owed again") == 3, log[-3000:]
    jobs = db.session.scalars(sa.select(Job)).all()
    assert all(j.attempts == 1 for j in jobs)  # handed over again, not failed: no attempt used
    assert db.session.get(Tenant, returning_id).status == "ended"


def test_the_scheduler_keeps_sweeping_through_a_redis_outage(app, clean_queue, tmp_path):
    with workers(app, tmp_path, count=1, sweep_interval=1) as running:
        first = wait_for("a first sweep", lambda: db.session.scalar(
            sa.select(WorkerHeartbeat.sweep_finished_at).where(WorkerHeartbeat.sweep_finished_at.is_not(None))))
        ctl("REDIS", "kill")
        try:
            over = seed("over-in-outage", users=2, contract_end=date(2020, 1, 31))  # its contract ended long ago
            over_id = over.id
            db.session.commit()
            wait_for("the sweep ended the contract while Redis is down", lambda: db.session.get(
                Tenant, over_id).status in ("ended", "purging", "purged"), 30)
            beat = wait_for("a heartbeat that saw the outage", lambda: db.session.scalar(
                sa.select(WorkerHeartbeat).where(WorkerHeartbeat.last_error.is_not(None))), 30, running.log)
            assert "dispatch" in beat.last_error and "redis" in beat.last_error.lower()
            assert beat.sweep_finished_at > first and running.alive()
            assert purge_job(over_id).status == "pending"  # owed, waiting for Redis
        finally:
            ctl("REDIS", "start")
        returned = time.monotonic()
        wait_for("the owed purge ran after Redis returned", lambda: certificates_of(over_id))
        later = seed("over-after", users=1, contract_end=date(2020, 1, 31))
        later_id = later.id
        db.session.commit()
        wait_for("a sweep after the outage", lambda: db.session.get(Tenant, later_id).status != "active", 30)
        assert running.alive() and time.monotonic() - returned < MAX_WAIT
    assert sum(rows_of(over_id).values()) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_console_sign_in_during_a_redis_outage_never_answers_500(app, clean_queue, make_staff_committed, tmp_path):
    email, password = make_staff_committed
    port = _free_port()
    env = {**base_env(app, tmp_path), "PRIVACY_SAAS_INSECURE_COOKIES": "1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "wsgi:app"], env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
                              stderr=(tmp_path / "gunicorn.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the web server answers", lambda: _status(base + "/healthz") == 200, 60)
        ctl("REDIS", "kill")
        try:
            # The queue is down: said plainly, but the node still serves (jobs are owed in the database).
            health = _health(base)
            assert health["http_status"] == 200 and health["status"] == "degraded"
            assert health["checks"]["queue"] == "unavailable"
            statuses = [_sign_in(base, email, password)]
            for _ in range(12):
                statuses.append(_sign_in(base, email, "wrong password!!"))
        finally:
            ctl("REDIS", "start")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert statuses[0] == 302, log[-2000:]  # signed in
    assert all(s < 500 for s in statuses), statuses
    # The limit (10 sign-ins a minute) still holds, counted in the server's memory meanwhile.
    assert statuses[1:10] == [401] * 9 and 429 in statuses[10:], statuses
    assert "falling back to in-memory storage" in log


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _health(base: str) -> dict:
    """GET /healthz, whatever its status; return its JSON body with the status as `http_status`."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            return {**json.loads(response.read()), "http_status": response.status}
    except urllib.error.HTTPError as error:
        return {**json.loads(error.read()), "http_status": error.code}


def _sign_in(base: str, email: str, password: str) -> int:
    """Sign in as a browser would (session cookie, CSRF token); return the POST's status."""
    jar = CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(base + "/console/login", timeout=10) as page:
        token = csrf_token(page.read().decode())
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password}).encode()
    try:
        with opener.open(base + "/console/login", data=body, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def make_staff_committed(committed):
    from privacy_saas.auth import service

    service.create_staff("fault-login@vendor.example", "admin", "correct horse battery")
    db.session.commit()
    return "fault-login@vendor.example", "correct horse battery"
