"""Fault: PostgreSQL goes away under a running RQ worker; the job fails, is retried, and the worker recovers."""
import os
import signal
import subprocess
import time
from datetime import date

import pytest
import sqlalchemy as sa

from privacy_saas.extensions import db
from privacy_saas.jobs.queue import QUEUE_NAME, enqueue, redis_connection
from privacy_saas.lifecycle.models import DeletionCertificate
from tests.conftest import ON_POSTGRES
from tests.lifecycle.conftest import rows_of, seed
from tests.lifecycle.test_purge_worker import worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("PRIVACY_SAAS_PG_CTL") or not ON_POSTGRES,
                                 reason="needs PRIVACY_SAAS_PG_CTL (scripts/test.sh) and PostgreSQL")]

WORKER = ["-c", "from privacy_saas.cli import main; main()", "worker", "--sweep-interval", "0"]
MAX_WAIT = 120


def pg_ctl(*args):
    subprocess.run([os.environ["PRIVACY_SAAS_PG_CTL"], *args], check=True, capture_output=True, timeout=120)


def test_worker_survives_a_database_outage(app, committed, tmp_path):
    import sys

    from rq import Queue
    from privacy_saas.lifecycle.certificates import signing_key

    signing_key()
    Queue(QUEUE_NAME, connection=redis_connection(app)).empty()
    tenant = seed("outage", users=3, events_per_user=4, status="ended", contract_end=date(2020, 1, 31))
    tenant_id = tenant.id
    db.session.commit()
    before = sum(rows_of(tenant_id).values())
    db.session.commit()
    db.session.remove()
    worker = subprocess.Popen([sys.executable, *WORKER], env=worker_env(app, tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the worker is up and idle
        pg_ctl("stop")
        try:
            enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(tenant_id))  # Redis is still there
            time.sleep(3)  # the worker takes the job, which fails on the database and is scheduled for retry
            assert worker.poll() is None, "the worker died with the database"
        finally:
            pg_ctl("start")
        deadline, certs = time.monotonic() + MAX_WAIT, []
        while time.monotonic() < deadline:
            try:
                certs = db.session.scalars(sa.select(DeletionCertificate)
                                           .where(DeletionCertificate.tenant_id == tenant_id)).all()
                db.session.rollback()
            except sa.exc.OperationalError:
                db.session.rollback()
            if certs:
                break
            time.sleep(1)
        assert len(certs) == 1, "the retried job did not complete after the database came back"
        assert certs[0].document["certificate"]["rows_deleted_total"] == before
        assert sum(rows_of(tenant_id).values()) == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
