"""PostgreSQL: one usage_events partition per tenant, created with the tenant, dropped by its purge."""
import threading
import time
from datetime import date

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.crypto.service import destroy_tenant_keys
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.models import DeletionCertificate, PurgeRun
from privacy_saas.processor.usage import partitions
from tests.lifecycle.conftest import rows_of, seed

pytestmark = pytest.mark.postgres

END = date(2025, 6, 30)
AFTER_RETENTION = date(2026, 7, 1)


def exists(tenant_id) -> bool:
    return db.session.scalar(sa.text("SELECT to_regclass(:name) IS NOT NULL"),
                             {"name": partitions.partition_name(tenant_id)})


def rows_in_partition(tenant_id) -> int:
    return db.session.scalar(sa.text(f'SELECT count(*) FROM ONLY "{partitions.partition_name(tenant_id)}"'))


def drop(tenant_id):
    return db.session.scalar(sa.text("SELECT usage_events_drop_partition(:t)"), {"t": tenant_id})


@pytest.fixture
def seeded(session):
    return seed


@pytest.fixture
def due(seeded):
    clock.travel_to(AFTER_RETENTION)
    return (seeded("gone", users=3, events_per_user=4, status="ended", contract_end=END),
            seeded("stays", users=2, events_per_user=3))


def test_a_tenant_gets_its_partition_and_its_rows_land_there(session, seeded):
    tenant = seeded("acme", users=2, events_per_user=3)
    other = seeded("globex", users=1, events_per_user=5)
    assert exists(tenant.id) and exists(other.id)
    assert rows_in_partition(tenant.id) == 6
    assert rows_in_partition(other.id) == 5
    assert partitions.is_partition(partitions.partition_name(tenant.id))
    assert not partitions.is_partition("usage_events")


def test_the_partition_goes_with_a_rolled_back_tenant(session, seeded):
    with session.begin_nested() as savepoint:
        tenant = seeded("fleeting", users=1, events_per_user=1)
        tenant_id = tenant.id
        assert exists(tenant_id)
        savepoint.rollback()
    assert not exists(tenant_id)


def test_the_database_refuses_to_drop_a_live_tenants_usage(session, due):
    tenant, other = due
    with pytest.raises(sa.exc.DBAPIError, match="is not being purged"), session.begin_nested():
        drop(other.id)
    tenant.start_purge()
    session.flush()
    with pytest.raises(sa.exc.DBAPIError, match="still has live data keys"), session.begin_nested():
        drop(tenant.id)
    assert rows_in_partition(tenant.id) == 12
    destroy_tenant_keys(tenant)
    session.flush()
    assert drop(tenant.id) == 12
    assert not exists(tenant.id)
    assert drop(tenant.id) is None  # already gone: nothing to count twice


def test_the_purge_drops_the_partition_and_certifies_its_rows(session, due):
    tenant, other = due
    before, other_before = rows_of(tenant.id), rows_of(other.id)
    assert purge.purge_tenant(tenant.id) == "purged"
    assert not exists(tenant.id)
    assert exists(other.id) and rows_of(other.id) == other_before
    [cert] = session.scalars(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant.id)).all()
    assert cert.document["certificate"]["rows_deleted"]["usage_events"] == before["usage_events"] == 12
    # The data subject's own erasure still cascades through the partitioned table.
    user_id = session.scalar(sa.text("SELECT id FROM registered_users WHERE tenant_id = :t LIMIT 1"), {"t": other.id})
    events = session.scalar(sa.text("SELECT count(*) FROM usage_events WHERE user_id = :u"), {"u": user_id})
    session.execute(sa.text("DELETE FROM registered_users WHERE tenant_id = :t AND id = :u"), {"t": other.id, "u": user_id})
    assert rows_in_partition(other.id) == other_before["usage_events"] - events


def test_a_long_reader_delays_the_drop_and_the_purge_finishes_later(session, due, monkeypatch):
    tenant, _ = due
    before = rows_of(tenant.id)
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT_MS", 50)
    monkeypatch.setattr(purge, "DROP_ATTEMPTS", 2)
    with session.get_bind().engine.connect() as reader:  # another connection than the test's
        reader.exec_driver_sql("SELECT count(*) FROM usage_events")  # holds ACCESS SHARE until it ends
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            purge.purge_tenant(tenant.id)
        reader.rollback()
    session.rollback()
    # Nothing half-done: keys are gone (that step committed), the usage rows wait whole in their partition.
    assert rows_of(tenant.id)["usage_events"] == before["usage_events"]
    run = session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    assert run.reached("keys_destroyed") and not run.reached("rows_deleted")
    assert run.rows_deleted.get("usage_events", 0) == 0
    assert purge.purge_tenant(tenant.id) == "purged"
    assert sum(rows_of(tenant.id).values()) == 0
    run = session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    assert run.rows_deleted == {t: n for t, n in before.items() if n}


def test_the_drop_waits_its_turn_and_succeeds_once_the_reader_is_done(session, due, monkeypatch, caplog):
    tenant, _ = due
    before = rows_of(tenant.id)
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT_MS", 50)
    reading, done = threading.Event(), threading.Event()
    engine = session.get_bind().engine  # another connection than the test's

    def reader():
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM usage_events")
            reading.set()
            done.wait(0.3)  # holds ACCESS SHARE for 0.3 s, then lets go
            conn.rollback()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert reading.wait(10)
        with caplog.at_level("INFO", logger="privacy_saas.lifecycle.purge"):
            assert purge.purge_tenant(tenant.id) == "purged"
    finally:
        done.set()
        thread.join(10)
    assert "partition drop try 1 of" in caplog.text
    assert not exists(tenant.id)
    run = session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == tenant.id))
    assert run.rows_deleted == {t: n for t, n in before.items() if n}


def test_the_application_role_reaches_other_tenants_partitions_neither_directly_nor_by_dropping(
        session, due, as_app_role):
    tenant, other = due
    from privacy_saas import rls
    rls.scope_to_tenant(other.id)
    assert as_app_role.exec_driver_sql("SELECT count(*) FROM usage_events").scalar() == 6
    # Even with rights on every table (as the RLS fixture grants), a partition applies the same policy.
    name = partitions.partition_name(tenant.id)
    assert as_app_role.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar() == 0
    with pytest.raises(sa.exc.DBAPIError, match="permission denied"), as_app_role.begin_nested():
        as_app_role.exec_driver_sql(f"SELECT usage_events_drop_partition('{tenant.id}')")
    # Nor can it fire the partition-making trigger function from a trigger of its own.
    as_app_role.exec_driver_sql("CREATE TEMP TABLE mine (id uuid)")
    with pytest.raises(sa.exc.DBAPIError, match="permission denied"), as_app_role.begin_nested():
        as_app_role.exec_driver_sql("CREATE TRIGGER mine AFTER INSERT ON mine FOR EACH ROW "
                                    "EXECUTE FUNCTION tenants_add_usage_partition()")


def test_two_tenants_created_at_once_both_get_their_partition(app, committed):
    """A transaction that wrote registered_users creates a tenant while another tenant's creation waits.

    Attaching a partition locks registered_users (SHARE ROW EXCLUSIVE) until commit, so the second
    creation waits for the first. With a foreign key to tenants too, it would also lock tenants, and
    the two would deadlock.
    """
    from privacy_saas.processor.tenants.models import Tenant

    def tenant(slug):
        return Tenant(slug=slug, name=slug, region="eu", contract_start=date(2025, 1, 1), end_action="delete",
                      status="active")

    errors, ids = [], {}

    def create_waiting():
        try:
            with app.app_context():
                db.session.add(waiting := tenant("waiting"))
                db.session.commit()
                ids["waiting"] = waiting.id
                db.session.remove()
        except Exception as error:  # reported below
            errors.append(error)

    # As a tenant-file apply does: this transaction writes registered_users (here: holds the same lock)...
    db.session.execute(sa.text("LOCK TABLE registered_users IN ROW EXCLUSIVE MODE"))
    thread = threading.Thread(target=create_waiting)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not db.session.scalar(sa.text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'registered_users'::regclass")):
            time.sleep(0.02)
        # ...then creates a tenant while the other creation waits for registered_users.
        db.session.add(first := tenant("first"))
        db.session.commit()
        ids["first"] = first.id
    finally:
        thread.join(30)
    assert errors == []
    assert set(ids) == {"first", "waiting"} and all(exists(tenant_id) for tenant_id in ids.values())
