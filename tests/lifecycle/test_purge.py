"""The purge: what it deletes, what it keeps, when it refuses, how it resumes."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.audit.service import verify
from privacy_saas.crypto import KeyDestroyed
from privacy_saas.crypto.models import DataKey
from privacy_saas.extensions import db
from privacy_saas.lifecycle import certificates, lease, purge, service
from privacy_saas.lifecycle.models import DeletionCertificate, MonthlyAggregate, PurgeRun
from privacy_saas.processor.users.models import RegisteredUser
from tests.lifecycle.conftest import rows_of

END = date(2025, 6, 30)
AFTER_RETENTION = date(2026, 7, 1)  # end + P12M + 1 day


@pytest.fixture
def due(seeded):
    """An ended tenant whose retention is over, beside a live one."""
    clock.travel_to(AFTER_RETENTION)
    tenant = seeded("gone", users=4, events_per_user=5, support=2, status="ended", contract_end=END)
    bystander = seeded("stays", users=3, events_per_user=2)
    return tenant, bystander


def certificate_of(session, tenant):
    return session.scalars(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant.id)).all()


def test_purge_deletes_everything_and_certifies(session, due):
    tenant, bystander = due
    before, bystander_before = rows_of(tenant.id), rows_of(bystander.id)
    assert before["registered_users"] == 4 and before["usage_events"] == 20 and before["support_requests"] == 2
    assert purge.purge_tenant(tenant.id, batch=3) == "purged"
    assert sum(rows_of(tenant.id).values()) == 0
    assert rows_of(bystander.id) == bystander_before
    session.refresh(tenant)
    assert tenant.status == "purged" and tenant.purged_at is not None
    [cert] = certificate_of(session, tenant)
    body = cert.document["certificate"]
    assert {k: v for k, v in before.items() if v} == {k: v for k, v in body["rows_deleted"].items() if v}
    assert body["rows_deleted_total"] == sum(before.values())
    assert body["policy"] == {"end_action": "delete", "retain_after_end": "P12M"}
    assert body["contract_end"] == END.isoformat()
    assert sorted(body["keys_destroyed"]) == [f"tenant:{tenant.id}/data/v1", f"tenant:{tenant.id}/index/v1"]
    assert certificates.verify(cert.document)
    assert "@" not in str(cert.document)  # no personal data in the proof
    live = session.scalar(sa.select(sa.func.count()).select_from(DataKey)
                          .where(DataKey.scope == f"tenant:{tenant.id}", DataKey.destroyed_at.is_(None)))
    assert live == 0
    assert all(r.broken_at is None for r in verify())
    run = session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    targets = dict(session.execute(sa.select(AuditEntry.action, AuditEntry.targets).where(
        AuditEntry.tenant_id == tenant.id, AuditEntry.action.in_(["purge.started", "purge.certified"]))).all())
    assert targets == {"purge.started": [str(run.id)], "purge.certified": [str(run.id), str(cert.id)]}


def test_tampered_certificate_fails_verification(session, due):
    tenant, _ = due
    purge.purge_tenant(tenant.id)
    [cert] = certificate_of(session, tenant)
    forged = {**cert.document, "certificate": {**cert.document["certificate"], "rows_deleted_total": 1}}
    assert not certificates.verify(forged)


def test_running_twice_deletes_nothing_twice_and_issues_one_certificate(session, due):
    tenant, _ = due
    assert purge.purge_tenant(tenant.id) == "purged"
    assert purge.purge_tenant(tenant.id) == "already purged"
    assert len(certificate_of(session, tenant)) == 1


def test_refusals_have_a_reason(session, seeded, staff):
    clock.travel_to(AFTER_RETENTION)
    active = seeded("active-one")
    waiting = seeded("waiting", status="ended", contract_end=date(2026, 5, 1))
    held = seeded("held", status="ended", contract_end=END)
    service.place_hold(held, "Litigation case 2026-114", staff.id, until=date(2027, 1, 1))
    assert purge.purge_tenant(active.id) == "contract has not ended"
    assert purge.purge_tenant(waiting.id) == "retention runs; purge due on 2027-05-02"
    assert purge.purge_tenant(held.id).startswith("on legal hold (1): Litigation case 2026-114")
    for tenant in (active, waiting, held):
        assert rows_of(tenant.id)["registered_users"] == 3
        assert certificate_of(session, tenant) == []


def test_released_hold_lets_the_purge_run(session, seeded, staff):
    clock.travel_to(AFTER_RETENTION)
    held = seeded("held", status="ended", contract_end=END)
    hold = service.place_hold(held, "Tax audit FY2024", staff.id)
    assert purge.purge_tenant(held.id).startswith("on legal hold")
    service.release_hold(held, hold.id, staff.id)
    assert purge.purge_tenant(held.id) == "purged"


def test_hold_cannot_be_placed_once_purging(session, due, staff):
    tenant, _ = due
    purge.purge_tenant(tenant.id)
    with pytest.raises(Exception, match="can no longer stop"):
        service.place_hold(tenant, "Too late", staff.id)


def test_purge_due_is_the_day_after_retention(session, seeded):
    tenant = seeded("edge", status="ended", contract_end=END)
    clock.travel_to(AFTER_RETENTION - timedelta(days=1))
    assert purge.purge_tenant(tenant.id).startswith("retention runs; purge due on 2026-07-01")
    clock.travel_to(AFTER_RETENTION)
    assert purge.purge_tenant(tenant.id) == "purged"


def test_reads_after_shred_raise_key_destroyed(session, due):
    tenant, _ = due
    tenant_id = tenant.id
    user_id = session.scalars(sa.select(RegisteredUser.id).where(RegisteredUser.tenant_id == tenant_id)).first()

    def stop_after_shred(point):
        if point == "after_shred":
            raise RuntimeError("simulated crash")

    original = purge._fault
    purge._fault = stop_after_shred
    try:
        with pytest.raises(RuntimeError):
            purge.purge_tenant(tenant_id)
    finally:
        purge._fault = original
    session.expunge_all()
    user = session.get(RegisteredUser, (tenant_id, user_id))
    with pytest.raises(KeyDestroyed):
        user.email


KILL_POINTS = ["before_shred", "before_shred_commit", "after_shred", "after_aggregate", "mid_batch_before_commit",
               "after_first_batch", "before_rows_done", "after_files", "before_certificate",
               "before_certificate_commit"]


#: Kills that leave the purge part-way through its batches: each run commits one batch and dies, one
#: dies with a batch deleted but not committed; the next run resumes from the checkpoint each time.
KILLS_ACROSS_BATCHES = ["after_first_batch", "after_first_batch", "mid_batch_before_commit", "after_first_batch"]


def crash_at(point):
    def crash(at):
        if at == point:
            raise SystemExit(f"crash at {at}")
    return crash


@pytest.mark.parametrize("point", KILL_POINTS)
def test_crash_at_any_point_then_resume(session, app, due, point, monkeypatch):
    tenant, bystander = due
    before, bystander_before = rows_of(tenant.id), rows_of(bystander.id)
    monkeypatch.setattr(purge, "_fault", crash_at(point))
    monkeypatch.setitem(app.config, "PURGE_LEASE_SECONDS", 0)
    with pytest.raises(SystemExit):
        purge.purge_tenant(tenant.id, batch=4)
    session.rollback()
    monkeypatch.setattr(purge, "_fault", lambda at: None)
    assert purge.purge_tenant(tenant.id, batch=4) == "purged"
    assert sum(rows_of(tenant.id).values()) == 0
    assert rows_of(bystander.id) == bystander_before
    [cert] = certificate_of(session, tenant)
    assert cert.document["certificate"]["rows_deleted_total"] == sum(before.values())
    assert session.scalar(sa.select(PurgeRun.attempts).where(PurgeRun.tenant_id == tenant.id)) == 2


def test_killed_between_and_inside_batches_certifies_the_rows_that_were_there(session, app, due, seeded,
                                                                               monkeypatch):
    _, bystander = due
    # Enough users for batches of 3 to outlast the kills on PostgreSQL too, where the usage events go
    # in one step (their partition is dropped).
    tenant = seeded("many", users=10, events_per_user=3, support=2, status="ended", contract_end=END)
    before, bystander_before = rows_of(tenant.id), rows_of(bystander.id)
    monkeypatch.setitem(app.config, "PURGE_LEASE_SECONDS", 0)
    for n, point in enumerate(KILLS_ACROSS_BATCHES, start=1):
        monkeypatch.setattr(purge, "_fault", crash_at(point))
        with pytest.raises(SystemExit):
            purge.purge_tenant(tenant.id, batch=3)
        session.rollback()
        left = rows_of(tenant.id)
        assert 0 < sum(left.values()) < sum(before.values())
        deleted = session.scalar(sa.select(PurgeRun.rows_deleted).where(PurgeRun.tenant_id == tenant.id))
        assert {t: before[t] - left[t] for t in before if before[t] != left[t]} == {t: c for t, c in deleted.items() if c}
    monkeypatch.setattr(purge, "_fault", lambda at: None)
    assert purge.purge_tenant(tenant.id, batch=3) == "purged"
    assert sum(rows_of(tenant.id).values()) == 0
    assert rows_of(bystander.id) == bystander_before
    [cert] = certificate_of(session, tenant)
    assert cert.document["certificate"]["rows_deleted"] == {t: c for t, c in before.items() if c}
    assert session.scalar(sa.select(PurgeRun.attempts).where(PurgeRun.tenant_id == tenant.id)) == n + 1


def test_each_batch_starts_after_the_previous_cut(session, seeded):
    """Keyset batches: no batch re-reads the keys of rows an earlier batch deleted."""
    clock.travel_to(AFTER_RETENTION)
    tenant = seeded("users", users=20, events_per_user=1, status="ended", contract_end=END)
    deletes = []

    def spy(conn, clause, *args):
        if isinstance(clause, sa.Delete) and clause.table.name == "registered_users":
            compiled = clause.compile()
            deletes.append((str(compiled), {v for v in compiled.params.values() if v != tenant.id}))

    sa.event.listen(db.engine, "before_execute", spy)
    try:
        assert purge.purge_tenant(tenant.id, batch=6) == "purged"
    finally:
        sa.event.remove(db.engine, "before_execute", spy)
    # 20 users: three full batches (each bounded by its cut), then the rest above the last cut
    assert len(deletes) == 4
    assert "registered_users.id >" not in deletes[0][0] and len(deletes[0][1]) == 1
    for (_, earlier), (sql, bounds) in zip(deletes, deletes[1:]):
        assert "registered_users.id >" in sql
        assert len(earlier & bounds) == 1  # this batch's lower bound is the previous batch's cut
    assert "registered_users.id <=" not in deletes[-1][0]


def test_progress_counts_the_rows_deleted_so_far(session, due):
    tenant, _ = due
    before = rows_of(tenant.id)
    reports = []
    purge.purge_tenant(tenant.id, batch=6, progress=lambda done, total: reports.append((done, total)))
    # usage_events in batches of 6, 6, 6, 2; then support_requests, then registered_users: each report
    # against the total counted before the first delete
    total = sum(before.values())
    assert reports == [(done, total) for done in (6, 12, 18, 20, 22, 26)] and total == 26
    run = session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    assert (run.rows_total, run.batches, run.rows_done) == (26, 6, 26)


def test_live_lease_blocks_a_second_worker(session, app, due, monkeypatch):
    tenant, _ = due
    monkeypatch.setattr(purge, "_fault", lambda at: (_ for _ in ()).throw(SystemExit()) if at == "after_shred" else None)
    with pytest.raises(SystemExit):
        purge.purge_tenant(tenant.id)
    session.rollback()
    monkeypatch.setattr(purge, "_fault", lambda at: None)
    monkeypatch.setattr(lease, "worker_id", lambda: "other-host:1")
    with pytest.raises(purge.PurgeBusy):
        purge.purge_tenant(tenant.id)
    clock.advance(timedelta(seconds=app.config["PURGE_LEASE_SECONDS"] + 1))
    assert purge.purge_tenant(tenant.id) == "purged"


def test_anonymise_keeps_monthly_aggregates_only(session, seeded):
    clock.travel_to(AFTER_RETENTION)
    tenant = seeded("anon", users=3, events_per_user=3, status="ended", contract_end=END, end_action="anonymise")
    assert purge.purge_tenant(tenant.id) == "purged"
    assert sum(rows_of(tenant.id).values()) == 0
    aggregates = session.scalars(sa.select(MonthlyAggregate).where(MonthlyAggregate.tenant_id == tenant.id)).all()
    by_metric = {}
    for row in aggregates:
        by_metric[row.metric] = by_metric.get(row.metric, 0) + row.value
    # 3 users x 3 events (kinds session, page_view, report_download), each user active in 3 months
    assert by_metric == {"events:session": 3, "events:page_view": 3, "events:report_download": 3, "active_users": 9}
    assert all(row.month.day == 1 for row in aggregates)
