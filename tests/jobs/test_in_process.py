"""The embedded default (no Redis): the scheduler hands jobs to a thread of the web process."""
import time

import pytest
import sqlalchemy as sa

from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.queue import enqueue, in_process
from privacy_saas.jobs.scheduler import Scheduler
from tests.jobs import jobs_for_tests

MAX_WAIT = 30


@pytest.fixture
def embedded(app, committed, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "JOB_HEARTBEAT_SECONDS", 0.05)
    jobs_for_tests.RAN.clear()
    jobs_for_tests.RELEASE.clear()
    yield Scheduler(app, in_process(app), kind="in-process", sweep_interval=None)
    jobs_for_tests.RELEASE.set()


def poll(what, check):
    deadline = time.monotonic() + MAX_WAIT
    while time.monotonic() < deadline:
        found = check()
        db.session.rollback()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not within {MAX_WAIT} s: {what}")


def test_the_thread_runs_owed_jobs_and_their_heartbeat_carries_progress(app, embedded):
    job = enqueue("tests.jobs.jobs_for_tests.report_and_wait", "x")
    job_id = job.id
    db.session.commit()
    assert embedded.tick()  # dispatches to this process's job thread
    beating = poll("a heartbeat with the job's progress", lambda: db.session.scalar(
        sa.select(Job).where(Job.id == job_id, Job.progress.is_not(None))))
    assert beating.status == "running" and beating.progress == {"done": 7, "total": 10, "table": "things"}
    first_beat = beating.heartbeat_at
    poll("a later heartbeat", lambda: db.session.get(Job, job_id).heartbeat_at > first_beat)
    jobs_for_tests.RELEASE.set()
    done = poll("the job done", lambda: db.session.scalar(sa.select(Job).where(Job.id == job_id,
                                                                                Job.status == "done")))
    assert done.attempts == 1 and jobs_for_tests.RAN == ["x"]
    db.session.rollback()  # on SQLite, even a read holds the write lock until the transaction ends
    assert embedded.tick() and embedded.last_pass.dispatched == 0  # nothing handed over twice
