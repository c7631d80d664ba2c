"""perform: one run of a job row, and what it records: done, a retry with backoff, dead, a wait."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.queue import enqueue
from privacy_saas.jobs.runner import describe, perform, retry_delay
from tests.jobs import jobs_for_tests

PREFIX = "tests.jobs.jobs_for_tests."


@pytest.fixture(autouse=True)
def owed_only(app, monkeypatch):
    """Rows stay owed after the commit (no queue in these tests): each test runs them itself."""
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    jobs_for_tests.RAN.clear()


def owe(name, *args, **options) -> Job:
    job = enqueue(PREFIX + name, *args, **options)
    db.session.commit()
    return job


def run(app, job: Job):
    # As the worker does: a run of its own, in its own app context and session.
    with app.app_context():
        app.config["JOBS_EAGER"] = True  # no heartbeat thread: the test's connection is not shared
        try:
            return perform(str(job.id))
        finally:
            app.config["JOBS_EAGER"] = False


def reload(job: Job) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job.id)


def test_a_failure_keeps_only_the_class_of_an_error_that_may_quote_data(app, session):
    clock.travel_to(clock.now())
    job = owe("fail_with_data", "alice@example.com")
    run(app, job)
    job = reload(job)
    assert (job.status, job.attempts) == ("pending", 1)
    assert job.last_error == "ValueError" and "alice" not in job.last_error
    # First retry after the base delay, half of it jittered.
    base = app.config["JOB_RETRY_BASE_SECONDS"]
    assert clock.now() + timedelta(seconds=base / 2) <= job.not_before <= clock.now() + timedelta(seconds=base)
    assert jobs_for_tests.RAN == [("failed", False)]


def test_a_job_that_is_not_due_does_not_run(app, session):
    clock.travel_to(clock.now())
    job = owe("fail_with_data", "x")
    run(app, job)
    run(app, job)  # a second delivery before the backoff is over
    assert reload(job).attempts == 1 and len(jobs_for_tests.RAN) == 1


def test_out_of_attempts_the_job_is_dead_and_knew_it(app, session):
    clock.travel_to(clock.now())
    job = owe("fail_with_data", "x", max_attempts=2)
    run(app, job)
    clock.advance(timedelta(hours=1))
    run(app, job)
    job = reload(job)
    assert (job.status, job.attempts) == ("dead", 2) and job.finished_at == clock.now()
    assert jobs_for_tests.RAN == [("failed", False), ("failed", True)]
    clock.advance(timedelta(hours=1))
    run(app, job)  # dead: never run again by itself
    assert len(jobs_for_tests.RAN) == 2


def test_a_job_asking_to_wait_comes_back_then_without_using_an_attempt(app, session):
    clock.travel_to(clock.now())
    job = owe("wait_a_minute", "tenant-7", max_attempts=1)
    run(app, job)
    job = reload(job)
    assert (job.status, job.attempts, job.max_attempts) == ("pending", 1, 2)
    assert job.not_before == clock.now() + timedelta(minutes=1)
    assert job.outcome == "tenant-7 is busy" and job.last_error is None


def test_success_records_the_outcome(app, session):
    job = owe("record", "x")
    assert run(app, job) == "recorded x"
    job = reload(job)
    assert (job.status, job.outcome, job.attempts) == ("done", "recorded x", 1)
    run(app, job)  # a duplicate delivery: done jobs are not run again
    assert jobs_for_tests.RAN == ["x"]


def test_a_run_taken_back_meanwhile_records_nothing(app, session):
    job = owe("record", "x")
    original = jobs_for_tests.record

    def taken_back_while_running(value):
        # A dispatcher decided this run was lost and owed the job again, then a second run started.
        db.session.execute(sa.update(Job).where(Job.id == job.id).values(attempts=Job.attempts + 1))
        db.session.commit()
        return original(value)

    jobs_for_tests.record = taken_back_while_running
    try:
        run(app, job)
    finally:
        jobs_for_tests.record = original
    job = reload(job)
    assert (job.status, job.attempts, job.outcome) == ("running", 2, None)


def test_retry_delay_doubles_up_to_the_cap(app):
    base, cap = app.config["JOB_RETRY_BASE_SECONDS"], app.config["JOB_RETRY_MAX_SECONDS"]
    for attempt, full in ((1, base), (2, 2 * base), (3, 4 * base), (30, cap)):
        delays = [retry_delay(app, attempt).total_seconds() for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays), attempt
        assert len(set(delays)) > 1  # jittered


def test_describe_keeps_our_messages_and_database_codes_only():
    class Orig(Exception):
        sqlstate = "08006"

    error = sa.exc.OperationalError("SELECT secret", {"email": "bob@example.com"}, Orig("bob@example.com"))
    assert describe(error) == "sqlalchemy.exc.OperationalError (Orig, SQLSTATE 08006)"
    assert describe(KeyError("bob@example.com")) == "KeyError"
    assert describe(TimeoutError("read timed out")) == "TimeoutError: read timed out"
