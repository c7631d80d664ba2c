"""Crash safety for real: RQ worker subprocesses on PostgreSQL + Redis, SIGKILLed mid-purge."""
import os
import signal
import subprocess
import sys
from datetime import date

import pytest
import sqlalchemy as sa
from rq import Queue

from privacy_saas.extensions import db
from privacy_saas.jobs.queue import QUEUE_NAME, enqueue, redis_connection
from privacy_saas.lifecycle.certificates import signing_key
from privacy_saas.lifecycle.models import DeletionCertificate
from tests.conftest import TEST_MASTER_KEYS
from tests.lifecycle.conftest import rows_of, seed
from tests.lifecycle.test_purge import KILL_POINTS, KILLS_ACROSS_BATCHES

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

WORKER = [sys.executable, "-c", "from privacy_saas.cli import main; main()", "worker", "--burst",
          "--sweep-interval", "0"]
#: The same worker purging in batches of 4 rows, so a small tenant takes many batches.
SMALL_BATCH_WORKER = [sys.executable, "-c", "import functools; from privacy_saas.lifecycle import purge; "
                      "purge.purge_tenant = functools.partial(purge.purge_tenant, batch=4); "
                      "from privacy_saas.cli import main; main()", *WORKER[3:]]


def worker_env(app, tmp_path, fault=None):
    env = {
        **os.environ,
        "PRIVACY_SAAS_MASTER_KEYS": TEST_MASTER_KEYS,
        "SECRET_KEY": "test-secret",
        "PRIVACY_SAAS_INSTANCE": str(tmp_path / "worker-instance"),
        "PRIVACY_SAAS_SIGNING_KEY_FILE": app.config["PRIVACY_SAAS_SIGNING_KEY_FILE"],
        "PRIVACY_SAAS_EXPORT_DIR": app.config["EXPORT_DIR"],
        # A killed worker's lease is over at once, and its job row (no heartbeat) is taken back and
        # retried at once, so the next worker resumes without waiting.
        "PRIVACY_SAAS_PURGE_LEASE_SECONDS": "0",
        "PRIVACY_SAAS_JOB_LOST_AFTER_SECONDS": "0",
        "PRIVACY_SAAS_JOB_RETRY_BASE_SECONDS": "0",
    }
    env.pop("PRIVACY_SAAS_PURGE_FAULT", None)
    if fault:
        env["PRIVACY_SAAS_PURGE_FAULT"] = fault
    return env


def run_worker(app, tmp_path, fault=None, command=WORKER) -> int:
    return subprocess.run(command, env=worker_env(app, tmp_path, fault), timeout=120,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode


@pytest.fixture
def queue_empty(app):
    with app.app_context():
        Queue(QUEUE_NAME, connection=redis_connection(app)).empty()
    yield


def test_sigkill_at_every_point_then_a_new_worker_finishes(app, committed, queue_empty, tmp_path):
    signing_key()  # the workers must share this key file
    for n, point in enumerate(KILL_POINTS):
        tenant = seed(f"killed-{n}", users=5, events_per_user=6, support=2, status="ended",
                      contract_end=date(2020, 1, 31))
        bystander = seed(f"bystander-{n}", users=2, events_per_user=3)
        db.session.commit()
        before, bystander_before = rows_of(tenant.id), rows_of(bystander.id)
        enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(tenant.id))
        db.session.commit()  # jobs leave for the queue when the transaction that queued them commits
        assert run_worker(app, tmp_path, fault=point) == -signal.SIGKILL, point
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DeletionCertificate)
                                 .where(DeletionCertificate.tenant_id == tenant.id)) == (0), point
        enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(tenant.id))
        enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(tenant.id))  # a duplicate does no harm
        db.session.commit()
        assert run_worker(app, tmp_path) == 0, point
        db.session.expire_all()
        assert sum(rows_of(tenant.id).values()) == 0, point
        assert rows_of(bystander.id) == bystander_before, point
        certs = db.session.scalars(sa.select(DeletionCertificate)
                                   .where(DeletionCertificate.tenant_id == tenant.id)).all()
        assert len(certs) == 1, point
        assert certs[0].document["certificate"]["rows_deleted_total"] == sum(before.values()), point


def test_sigkill_across_batches_then_a_new_worker_certifies_what_was_there(app, committed, queue_empty, tmp_path):
    signing_key()
    # Enough users for batches of 4 to outlast the kills on PostgreSQL too, where the usage events go
    # in one step (their partition is dropped).
    tenant = seed("killed-in-batches", users=12, events_per_user=2, support=2, status="ended",
                  contract_end=date(2020, 1, 31))
    bystander = seed("bystander-in-batches", users=2, events_per_user=3)
    db.session.commit()
    before, bystander_before = rows_of(tenant.id), rows_of(bystander.id)
    for point in KILLS_ACROSS_BATCHES:
        enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(tenant.id))
        db.session.commit()
        assert run_worker(app, tmp_path, fault=point, command=SMALL_BATCH_WORKER) == -signal.SIGKILL, point
        db.session.expire_all()
        assert 0 < sum(rows_of(tenant.id).values()) < sum(before.values()), point
    enqueue("privacy_saas.lifecycle.tasks.purge_tenant", str(tenant.id))
    db.session.commit()
    assert run_worker(app, tmp_path, command=SMALL_BATCH_WORKER) == 0
    db.session.expire_all()
    assert sum(rows_of(tenant.id).values()) == 0
    assert rows_of(bystander.id) == bystander_before
    [cert] = db.session.scalars(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant.id)).all()
    assert cert.document["certificate"]["rows_deleted"] == {t: c for t, c in before.items() if c}
