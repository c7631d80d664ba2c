"""The scheduler loop: one sweep per interval for the fleet, and every error survived and shown."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.jobs.models import Job, WorkerHeartbeat
from privacy_saas.jobs.queue import RQBackend
from privacy_saas.jobs.scheduler import Scheduler, claim_sweep, sweep
from privacy_saas.lifecycle.models import PurgeRun
from privacy_saas.processor.tenants.models import Tenant
from tests.lifecycle.conftest import seed


@pytest.fixture(autouse=True)
def frozen():
    clock.travel_to(date(2026, 12, 1))


def test_the_fleet_sweeps_once_per_interval(session):
    assert claim_sweep("host-a:1", "rq", 300)
    assert claim_sweep("host-b:2", "rq", 300) is False
    clock.advance(timedelta(seconds=299))
    assert claim_sweep("host-b:2", "rq", 300) is False
    clock.advance(timedelta(seconds=2))
    assert claim_sweep("host-b:2", "rq", 300)
    rows = {w.name: w.sweep_started_at for w in session.scalars(sa.select(WorkerHeartbeat))}
    assert rows == {"host-a:1": clock.now() - timedelta(seconds=301), "host-b:2": clock.now()}


def test_with_redis_down_the_loop_still_sweeps_and_says_what_failed(app, session, unreachable_redis):
    over = seed("over", users=1, contract_end=date(2025, 6, 30))  # its contract is over, still active
    db.session.commit()
    scheduler = Scheduler(app, RQBackend(app), kind="rq", sweep_interval=300)
    scheduler.tick()  # sweeps: the contract ends and the tenant's jobs are owed
    db.session.expire_all()
    assert db.session.get(Tenant, over.id).status == "ended"
    assert scheduler.tick() is False  # the owed jobs cannot be handed over; nothing was raised
    db.session.expire_all()
    beat = db.session.get(WorkerHeartbeat, scheduler.name)
    assert beat.last_error.startswith("dispatch: redis.exceptions.ConnectionError")
    assert beat.last_error_at == clock.now() and beat.beat_at == clock.now()
    assert beat.sweep_finished_at == clock.now() and beat.last_sweep["ended"] == 1
    assert beat.jobs_dispatched == 0  # the last successful pass (the first) had nothing to hand over
    assert session.scalar(sa.select(Job.status).where(Job.tenant_id == over.id)) == "pending"  # owed


def test_a_sweep_that_fails_gives_its_claim_back(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    scheduler = Scheduler(app, None, kind="in-process", sweep_interval=300)

    def broken():
        raise RuntimeError("sweep broke")

    monkeypatch.setattr(scheduler, "_dispatch", lambda: None)
    monkeypatch.setattr("privacy_saas.jobs.scheduler.sweep", broken)
    assert scheduler.tick() is False
    db.session.expire_all()
    assert db.session.get(WorkerHeartbeat, scheduler.name).sweep_started_at is None
    assert claim_sweep("host-b:2", "rq", 300)  # the next worker sweeps at once, not in five minutes


def test_the_sweep_owes_one_purge_per_tenant_and_reports_stuck_ones(app, session):
    due = seed("due", users=1, status="ended", contract_end=date(2025, 6, 30))
    stuck = seed("stuck", users=1, status="ended", contract_end=date(2025, 6, 30))
    stuck.start_purge()
    db.session.add(PurgeRun(tenant_id=stuck.id, started_at=clock.now() - timedelta(hours=1), rows_deleted={},
                            locked_by="dead-host:9", lease_until=clock.now() - timedelta(minutes=50), attempts=1))
    db.session.commit()
    first = sweep()
    assert (first["purge"], first["stuck"]) == (["due", "stuck"], ["stuck"])
    again = sweep()
    assert (again["purge"], again["purge_owed"]) == ([], ["due", "stuck"])
    purges = session.scalars(sa.select(Job).where(Job.name.endswith("purge_tenant"))).all()
    assert sorted((j.tenant_id, j.max_attempts, j.dedupe_key) for j in purges) == sorted(
        [(due.id, None, f"purge:{due.id}"), (stuck.id, None, f"purge:{stuck.id}")])


def test_usage_retention_is_owed_once_a_day_per_active_tenant(session):
    active = seed("active-one", users=1)
    seed("ended-one", users=1, status="ended", contract_end=date(2026, 11, 1))
    db.session.commit()
    assert sweep()["usage_retention"] == 1
    clock.advance(timedelta(hours=23))
    assert sweep()["usage_retention"] == 0
    clock.advance(timedelta(hours=2))
    [owed] = session.scalars(sa.select(Job).where(Job.name.endswith("enforce_usage_retention"))).all()
    owed.status, owed.finished_at = "done", clock.now()  # it ran
    db.session.commit()
    assert sweep()["usage_retention"] == 1
    rows = session.scalars(sa.select(Job.tenant_id).where(Job.name.endswith("enforce_usage_retention"))).all()
    assert rows == [active.id, active.id]


def test_finished_rows_are_pruned_after_their_keeping_time(session):
    old_done = Job(name="x.y", args=[], status="done", attempts=1, created_at=clock.now() - timedelta(days=9),
                   not_before=clock.now(), finished_at=clock.now() - timedelta(days=8))
    new_done = Job(name="x.y", args=[], status="done", attempts=1, created_at=clock.now(),
                   not_before=clock.now(), finished_at=clock.now() - timedelta(days=6))
    dead = Job(name="x.y", args=[], status="dead", attempts=8, created_at=clock.now() - timedelta(days=9),
               not_before=clock.now(), finished_at=clock.now() - timedelta(days=8))
    silent = WorkerHeartbeat(name="old:1", kind="rq", beat_at=clock.now() - timedelta(days=8), jobs_dispatched=0)
    db.session.add_all([old_done, new_done, dead, silent])
    db.session.commit()
    assert sweep()["pruned"] == 2
    assert {j.id for j in session.scalars(sa.select(Job).where(Job.name == "x.y"))} == {new_done.id, dead.id}
    assert session.get(WorkerHeartbeat, "old:1") is None
