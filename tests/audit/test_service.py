"""Hash-chained audit log."""
import threading

import pytest
import sqlalchemy as sa

from privacy_saas.audit import record
from privacy_saas.audit.models import AuditEntry
from privacy_saas.audit.service import verify


def test_chain_verifies_and_detects_tampering(session, tenant):
    scope = f"tenant:{tenant.id}"
    for n in range(5):
        record("user.create", tenant_id=tenant.id, targets=[tenant.id], detail={"n": n}, actor=("cli", None))
    record("staff.login", actor=("staff", "x"))
    session.commit()  # entries join their chain when the transaction commits
    reports = {r.scope: r for r in verify()}
    assert reports[scope].entries == 5 and reports[scope].broken_at is None
    assert reports["platform"].entries == 1
    third = session.scalar(sa.select(AuditEntry).where(AuditEntry.scope == scope, AuditEntry.seq == 3))
    third.detail = {"n": 99}
    session.flush()
    report = verify(scope)[0]
    assert report.broken_at == 3 and report.reason == "hash mismatch"


def test_deleted_entry_is_detected(session, tenant):
    for n in range(3):
        record("user.update", tenant_id=tenant.id, actor=("cli", None))
    session.commit()
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == f"tenant:{tenant.id}", AuditEntry.seq == 2))
    assert verify(f"tenant:{tenant.id}")[0].broken_at == 2
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == f"tenant:{tenant.id}", AuditEntry.seq == 3))
    assert verify(f"tenant:{tenant.id}")[0].broken_at == 2


@pytest.mark.parametrize("bad", [{"email": "ada@example.com"}, {"name": "Ada Lovelace"}])
def test_personal_data_is_refused(session, bad):
    with pytest.raises(ValueError):
        record("user.create", detail=bad, actor=("cli", None))


def test_concurrent_writers_do_not_fork_the_chain(app, committed):
    errors = []

    def write(n):
        try:
            with app.app_context():
                from privacy_saas.extensions import db
                for _ in range(10):
                    record("job.tick", scope="platform", detail={"worker": n}, actor=("system", None))
                    db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    report = verify("platform")[0]
    assert report.entries == 40 and report.broken_at is None


def test_entries_join_the_chain_at_commit_and_leave_with_a_rollback(session, tenant):
    scope = f"tenant:{tenant.id}"

    def chained():
        return session.scalars(sa.select(AuditEntry.action).where(AuditEntry.scope == scope)
                               .order_by(AuditEntry.seq)).all()

    record("user.create", tenant_id=tenant.id, actor=("cli", None))
    assert chained() == []  # not written before the transaction commits
    try:
        with session.begin_nested():
            record("user.update", tenant_id=tenant.id, actor=("cli", None))
            raise RuntimeError("the savepoint's work fails")
    except RuntimeError:
        pass
    with session.begin_nested():
        record("user.disable", tenant_id=tenant.id, actor=("cli", None))
    session.commit()
    # The rolled-back savepoint's entry is gone; the released one's joined its enclosing transaction.
    assert chained() == ["user.create", "user.disable"]
    record("user.remove", tenant_id=tenant.id, actor=("cli", None))
    session.rollback()
    session.commit()
    assert chained() == ["user.create", "user.disable"]
    report = verify(scope)[0]
    assert report.entries == 2 and report.broken_at is None


def test_one_transaction_chains_several_scopes(session, tenant, make_tenant):
    other = make_tenant()
    mine, theirs = f"tenant:{tenant.id}", f"tenant:{other.id}"
    record("user.create", tenant_id=other.id, actor=("cli", None))
    record("user.create", tenant_id=tenant.id, actor=("cli", None))
    record("user.update", tenant_id=other.id, actor=("cli", None))
    session.commit()
    reports = {r.scope: r for r in verify()}
    assert reports[theirs].entries == 2 and reports[mine].entries == 1
    assert all(r.broken_at is None for r in reports.values())


def test_a_failed_flush_drops_the_entries_of_its_savepoint(session, tenant):
    from privacy_saas.processor.tenants.models import Tenant

    scope = f"tenant:{tenant.id}"
    record("user.create", tenant_id=tenant.id, actor=("cli", None))
    with pytest.raises(sa.exc.IntegrityError):
        with session.begin_nested():
            record("user.update", tenant_id=tenant.id, actor=("cli", None))
            session.add(Tenant(slug=tenant.slug, name="Duplicate", region="eu", contract_start=tenant.contract_start,
                               end_action="delete", status="active"))
            session.flush()
    session.commit()
    assert session.scalars(sa.select(AuditEntry.action).where(AuditEntry.scope == scope)).all() == ["user.create"]
