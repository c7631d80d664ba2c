"""The purge lease: short, renewed at every step, fenced, released on failure; a busy purge waits, never succeeds."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.jobs.context import RetryLater
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.queue import enqueue
from privacy_saas.jobs.runner import perform
from privacy_saas.lifecycle import lease, purge, tasks
from privacy_saas.lifecycle.models import DeletionCertificate, PurgeRun
from tests.lifecycle.conftest import rows_of
from tests.lifecycle.test_purge import AFTER_RETENTION, END
from tests.lifecycle.test_purge import crash_at


@pytest.fixture
def due(seeded):
    clock.travel_to(AFTER_RETENTION)
    return seeded("leased", users=4, events_per_user=2, support=2, status="ended", contract_end=END)


def run_of(tenant) -> PurgeRun:
    db.session.expire_all()
    return db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))


def crashed_holding_the_lease(tenant, monkeypatch, point="after_shred"):
    """A worker dies (no exception handler runs) after `point`, its lease still live."""
    monkeypatch.setattr(purge, "_fault", crash_at(point))
    with pytest.raises(SystemExit):
        purge.purge_tenant(tenant.id)
    db.session.rollback()
    monkeypatch.setattr(purge, "_fault", lambda at: None)


def test_the_production_lease_is_a_minute(app):
    # A dead worker's purge resumes within about a minute (plus the job's retry); tests shorten it.
    assert app.config["PURGE_LEASE_SECONDS"] == 60 and app.config["PURGE_STUCK_SECONDS"] == 900


def test_a_busy_purge_is_retried_when_the_lease_can_have_run_out(session, due, monkeypatch):
    crashed_holding_the_lease(due, monkeypatch)
    lease_until = run_of(due).lease_until
    assert lease_until == clock.now() + timedelta(seconds=60)
    monkeypatch.setattr(lease, "worker_id", lambda: "other-host:2")
    with pytest.raises(RetryLater) as waiting:
        tasks.purge_tenant(str(due.id))
    assert lease_until + timedelta(seconds=1) <= waiting.value.at <= lease_until + timedelta(seconds=5)
    assert "being purged by" in waiting.value.reason


def test_the_purge_job_waits_for_the_lease_then_finishes(app, session, due, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    crashed_holding_the_lease(due, monkeypatch)
    monkeypatch.setattr(lease, "worker_id", lambda: "other-host:2")
    job = enqueue(tasks.PURGE_JOB, str(due.id), tenant_id=due.id, max_attempts=None)
    db.session.commit()  # runs now: meets the live lease
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.status, job.attempts, job.last_error) == ("pending", 1, None)
    assert job.not_before > run_of(due).lease_until and "being purged by" in job.outcome
    clock.advance(timedelta(seconds=70))
    with app.app_context():
        perform(str(job.id))
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.status, job.outcome, job.attempts) == ("done", "purged", 2)
    assert sum(rows_of(due.id).values()) == 0


def test_a_failed_run_releases_its_lease_so_the_retry_need_not_wait(session, due, monkeypatch):
    def fail_after_shred(at):
        if at == "after_shred":
            raise RuntimeError("key store went away")

    monkeypatch.setattr(purge, "_fault", fail_after_shred)
    with pytest.raises(RuntimeError):
        purge.purge_tenant(due.id)
    run = run_of(due)
    assert (run.locked_by, run.lease_until, run.step) == (None, None, "keys_destroyed")
    monkeypatch.setattr(purge, "_fault", lambda at: None)
    monkeypatch.setattr(lease, "worker_id", lambda: "other-host:2")
    assert purge.purge_tenant(due.id) == "purged"  # at once, with the production lease


def test_a_run_whose_lease_was_taken_stops_before_its_batch_counts(app, session, due, monkeypatch):
    before = rows_of(due.id)
    taken = []

    def taken_over_after_the_first_batch(at):
        if at == "after_first_batch" and not taken:
            # This run stalled past its lease; another worker took the purge over.
            db.session.execute(sa.update(PurgeRun).where(PurgeRun.tenant_id == due.id)
                               .values(locked_by="other-host:2", lease_until=clock.now() + timedelta(seconds=60)))
            db.session.commit()
            taken.append(at)

    monkeypatch.setattr(purge, "_fault", taken_over_after_the_first_batch)
    with pytest.raises(lease.LeaseLost):
        purge.purge_tenant(due.id, batch=2)
    run = run_of(due)
    counted = sum(run.rows_deleted.values())
    assert run.locked_by == "other-host:2"  # not released: it was not ours
    assert counted == sum(before.values()) - sum(rows_of(due.id).values())  # the stopped batch rolled back
    monkeypatch.setattr(lease, "worker_id", lambda: "other-host:2")
    assert purge.purge_tenant(due.id, batch=2) == "purged"
    [cert] = session.scalars(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == due.id)).all()
    assert cert.document["certificate"]["rows_deleted"] == {t: c for t, c in before.items() if c}


def test_stuck_purges_are_the_old_ones_no_worker_holds(app, session, seeded, monkeypatch):
    clock.travel_to(AFTER_RETENTION)
    held = seeded("held-lease", users=1, status="ended", contract_end=END)
    free = seeded("free-lease", users=1, status="ended", contract_end=END)
    for tenant in (held, free):
        crashed_holding_the_lease(tenant, monkeypatch)
    assert purge.stuck_purges() == []  # both just started
    clock.advance(timedelta(seconds=901))
    db.session.execute(sa.update(PurgeRun).where(PurgeRun.tenant_id == held.id)
                       .values(lease_until=clock.now() + timedelta(seconds=30)))  # someone is on it
    assert [tenant.slug for tenant, _ in purge.stuck_purges()] == ["free-lease"]
    assert tasks.purge_status(free).stuck and not tasks.purge_status(held).stuck
