"""The dispatcher: due rows handed over once, lost runs and lost dispatches taken back."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.jobs.dispatcher import dispatch, take_back_lost
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.queue import QUEUE_NAME, RQBackend, enqueue, redis_connection

RECORD = "tests.jobs.jobs_for_tests.record"


@pytest.fixture(autouse=True)
def frozen():
    clock.travel_to(clock.now())


@pytest.fixture
def no_queue(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture
def rq_queue(app):
    from rq import Queue

    queue = Queue(QUEUE_NAME, connection=redis_connection(app))
    queue.empty()
    yield queue
    queue.empty()


def statuses(*jobs):
    db.session.expire_all()
    return [db.session.get(Job, j.id).status for j in jobs]


def test_a_run_whose_worker_stopped_beating_is_a_failed_attempt_owed_again(app, session, no_queue):
    job, last = enqueue(RECORD, "x"), enqueue(RECORD, "y", max_attempts=1)
    for row in (job, last):
        row.start("gone-host:42")
    db.session.commit()
    clock.advance(timedelta(seconds=app.config["JOB_LOST_AFTER_SECONDS"] - 1))
    assert take_back_lost() == 0  # still within its heartbeat window
    clock.advance(timedelta(seconds=2))
    assert take_back_lost() == 2
    db.session.expire_all()
    assert (job.status, job.attempts) == ("pending", 1)
    assert job.last_error.startswith("worker lost: gone-host:42 stopped beating at")
    assert clock.now() < job.not_before <= clock.now() + timedelta(seconds=app.config["JOB_RETRY_BASE_SECONDS"])
    assert (last.status, last.finished_at) == ("dead", clock.now())


@pytest.mark.redis
def test_due_rows_reach_rq_once_and_delayed_ones_when_due(app, session, rq_queue):
    first, second = enqueue(RECORD, "a"), enqueue(RECORD, "b")
    later = enqueue(RECORD, "c", not_before=clock.now() + timedelta(minutes=5))
    db.session.commit()  # the after-commit hand-over queues the two due ones
    assert sorted(rq_queue.job_ids) == sorted([str(first.id), str(second.id)])
    done = dispatch(RQBackend(app))
    assert done.dispatched == 2 and statuses(first, second, later) == ["dispatched", "dispatched", "pending"]
    assert len(rq_queue.job_ids) == 2  # already there: not queued twice
    clock.advance(timedelta(minutes=5))
    assert dispatch(RQBackend(app)).dispatched == 1
    assert sorted(rq_queue.job_ids) == sorted(str(j.id) for j in (first, second, later))


@pytest.mark.redis
def test_dispatched_rows_redis_lost_are_handed_over_again(app, session, rq_queue):
    jobs = [enqueue(RECORD, n) for n in "ab"]
    db.session.commit()
    dispatch(RQBackend(app))
    rq_queue.empty()  # as a Redis restarted without persistence
    clock.advance(timedelta(seconds=app.config["JOB_DISPATCH_TIMEOUT_SECONDS"] - 1))
    assert dispatch(RQBackend(app)).requeued == 0  # not yet: perhaps still on its way
    clock.advance(timedelta(seconds=2))
    done = dispatch(RQBackend(app))
    assert (done.requeued, done.dispatched) == (2, 2)
    assert sorted(rq_queue.job_ids) == sorted(str(j.id) for j in jobs)
    assert [db.session.get(Job, j.id).attempts for j in jobs] == [0, 0]  # no attempt used


@pytest.mark.redis
def test_a_job_a_worker_took_but_never_started_is_handed_over_again(app, session, rq_queue):
    job = enqueue(RECORD, "x")
    db.session.commit()
    dispatch(RQBackend(app))
    # A worker pops it and is killed before starting it: RQ still calls it queued.
    assert rq_queue.connection.lpop(rq_queue.key) == str(job.id).encode()
    assert rq_queue.fetch_job(str(job.id)).get_status() == "queued"
    clock.advance(timedelta(seconds=app.config["JOB_DISPATCH_TIMEOUT_SECONDS"] + 1))
    assert dispatch(RQBackend(app)).requeued == 1
    assert rq_queue.job_ids == [str(job.id)]


def test_with_redis_unreachable_rows_stay_owed(app, session, unreachable_redis):
    job = enqueue(RECORD, "x")
    db.session.commit()  # the hand-over fails quietly: the row is owed
    with pytest.raises(Exception) as raised:
        dispatch(RQBackend(app))
    assert type(raised.value).__module__.startswith("redis")
    assert statuses(job) == ["pending"]
