"""Jobs leave for the queue only when the transaction that queued them commits."""
import pytest

from privacy_saas.extensions import db
from privacy_saas.jobs.queue import enqueue

RAN = []


def record_job(value):
    RAN.append(value)


@pytest.fixture(autouse=True)
def inline(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    RAN.clear()


def test_job_waits_for_commit(session, tenant):
    enqueue("tests.test_jobs.record_job", "committed")
    assert RAN == []
    db.session.commit()
    assert RAN == ["committed"]


def test_job_of_a_rolled_back_transaction_never_runs(session, tenant):
    enqueue("tests.test_jobs.record_job", "rolled back")
    db.session.rollback()
    db.session.commit()
    assert RAN == []
