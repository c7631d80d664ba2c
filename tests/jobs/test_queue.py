"""enqueue: the job row is part of the caller's transaction; dedupe; what a job may carry."""
import uuid

import pytest
import sqlalchemy as sa

from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.queue import enqueue
from tests.jobs import jobs_for_tests

RECORD = "tests.jobs.jobs_for_tests.record"


@pytest.fixture(autouse=True)
def eager(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    jobs_for_tests.RAN.clear()


def rows(session, **where):
    return session.scalars(sa.select(Job).filter_by(**where).order_by(Job.created_at)).all()


def test_the_row_commits_with_the_change_and_runs_after_the_commit(session, tenant):
    job = enqueue(RECORD, "committed", tenant_id=tenant.id)
    assert jobs_for_tests.RAN == []
    assert (job.status, job.args, job.tenant_id, job.attempts) == ("pending", ["committed"], tenant.id, 0)
    db.session.commit()
    assert jobs_for_tests.RAN == ["committed"]
    session.refresh(job)
    assert (job.status, job.attempts, job.outcome) == ("done", 1, "recorded committed")
    assert job.started_at is not None and job.finished_at >= job.started_at


def test_a_rolled_back_change_owes_nothing(session, tenant):
    enqueue(RECORD, "rolled back")
    db.session.rollback()
    db.session.commit()
    assert jobs_for_tests.RAN == []
    assert rows(session, name=RECORD) == []


def test_dedupe_returns_the_owed_job_until_it_finishes(session, app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)  # rows stay owed
    first = enqueue(RECORD, "a", dedupe="thing:1")
    again = enqueue(RECORD, "b", dedupe="thing:1")
    other = enqueue(RECORD, "c", dedupe="thing:2")
    assert again.id == first.id and other.id != first.id
    assert [j.args for j in rows(session, name=RECORD)] == [["a"], ["c"]]
    first.status, first.finished_at = "done", first.created_at
    db.session.flush()
    fresh = enqueue(RECORD, "d", dedupe="thing:1")
    assert fresh.id != first.id and fresh.status == "pending"


def test_ids_are_stored_as_strings_and_only_plain_values_travel(session):
    some_id = uuid.uuid4()
    job = enqueue(RECORD, some_id)
    assert job.args == [str(some_id)]
    with pytest.raises(TypeError, match="ids or plain values"):
        enqueue(RECORD, {"email": "someone@example.com"})


def test_a_misspelt_job_fails_in_the_caller(session):
    with pytest.raises((ImportError, AttributeError)):
        enqueue("tests.jobs.jobs_for_tests.no_such_job")
    with pytest.raises(ImportError):
        enqueue("tests.jobs.no_such_module.job")


def test_an_eager_failure_surfaces_and_is_recorded(session):
    job = enqueue("tests.jobs.jobs_for_tests.fail_plainly", "tenant:42")
    job_id = job.id
    with pytest.raises(RuntimeError):
        db.session.commit()
    db.session.remove()  # an error raised after the commit leaves the session committed, not usable
    job = db.session.get(Job, job_id)
    assert (job.status, job.attempts) == ("pending", 1)
    assert job.last_error == "RuntimeError: key store for tenant:42 unavailable"
