"""PostgreSQL: usage_events in 32 hash partitions by tenant; tenants come and go without DDL."""
import threading
import time
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.db import new_id
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.models import DeletionCertificate, PurgeRun
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.usage import partitions
from tests.lifecycle.conftest import rows_of, seed

pytestmark = pytest.mark.postgres

END = date(2025, 6, 30)
AFTER_RETENTION = date(2026, 7, 1)


def remainder_of(tenant_id) -> int:
    """The hash partition PostgreSQL routes the tenant's rows to."""
    return db.session.scalar(sa.text(
        "SELECT r FROM generate_series(0, :m - 1) r "
        "WHERE satisfies_hash_partition('usage_events'::regclass, :m, r, CAST(:t AS uuid))"),
        {"m": partitions.MODULUS, "t": str(tenant_id)})


def id_beside(tenant_id) -> uuid.UUID:
    """A new tenant id whose rows land in the same partition as `tenant_id`'s."""
    wanted = remainder_of(tenant_id)
    for _ in range(1000):
        candidate = new_id()
        if remainder_of(candidate) == wanted:
            return candidate
    raise AssertionError("no id found in the same partition")


def partitions_holding(tenant_id) -> dict[str, int]:
    return dict(db.session.execute(sa.text(
        "SELECT tableoid::regclass::text, count(*) FROM usage_events WHERE tenant_id = :t GROUP BY 1"),
        {"t": tenant_id}).all())


@pytest.fixture
def seeded(session):
    return seed


@pytest.fixture
def due(seeded):
    """A tenant due for purge, and a live neighbour whose usage sits in the same partition."""
    clock.travel_to(AFTER_RETENTION)
    gone = seeded("gone", users=3, events_per_user=4, status="ended", contract_end=END)
    stays = seeded("stays", users=2, events_per_user=3, id=id_beside(gone.id))
    return gone, stays


def test_usage_events_is_hash_partitioned_in_32_partitions_each_with_the_tenant_policy(session):
    strategy = session.scalar(sa.text(
        "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'usage_events'::regclass"))
    assert strategy == "h"
    rows = session.execute(sa.text("""
        SELECT c.relname, c.relrowsecurity, pg_get_expr(c.relpartbound, c.oid),
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'usage_events'::regclass ORDER BY c.relname""")).all()
    assert [r[0] for r in rows] == [partitions.partition_name(n) for n in range(partitions.MODULUS)]
    assert all(r[1] and r[3] == 1 for r in rows)
    assert rows[5][2] == "FOR VALUES WITH (modulus 32, remainder 5)"
    assert all(partitions.is_partition(r[0]) for r in rows) and not partitions.is_partition("usage_events")


def test_a_tenants_usage_sits_in_one_partition(session, seeded):
    tenant = seeded("acme", users=2, events_per_user=3)
    assert partitions_holding(tenant.id) == {partitions.partition_name(remainder_of(tenant.id)): 6}


def test_creating_a_tenant_changes_no_table_and_locks_no_other_tenants_rows(session):
    relations = session.scalar(sa.text("SELECT count(*) FROM pg_class"))
    session.add(Tenant(slug="fresh", name="Fresh", region="eu", contract_start=date(2025, 1, 1),
                       end_action="delete", status="active"))
    session.flush()
    assert session.scalar(sa.text("SELECT count(*) FROM pg_class")) == relations
    locked = set(session.scalars(sa.text(
        "SELECT relation::regclass::text FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' "
        "AND mode NOT IN ('AccessShareLock')")).all())
    assert "registered_users" not in locked and "usage_events" not in locked


def test_the_purge_deletes_the_tenants_usage_and_not_its_partition_neighbours(session, due):
    tenant, neighbour = due
    before, neighbour_before = rows_of(tenant.id), rows_of(neighbour.id)
    assert remainder_of(tenant.id) == remainder_of(neighbour.id)
    assert purge.purge_tenant(tenant.id, batch=5) == "purged"
    assert sum(rows_of(tenant.id).values()) == 0
    assert rows_of(neighbour.id) == neighbour_before
    assert partitions_holding(neighbour.id) == {partitions.partition_name(remainder_of(neighbour.id)): 6}
    [cert] = session.scalars(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant.id)).all()
    assert cert.document["certificate"]["rows_deleted"]["usage_events"] == before["usage_events"] == 12


def test_a_long_reader_of_usage_events_does_not_hold_up_a_purge(session, due):
    """With a partition per tenant, the purge's DROP needed the whole table to itself: it waited for every reader."""
    tenant, _ = due
    with session.get_bind().engine.connect() as reader:  # another connection than the test's
        reader.exec_driver_sql("SELECT count(*) FROM usage_events")  # holds ACCESS SHARE until it ends
        session.execute(sa.text("SET LOCAL lock_timeout = '2s'"))  # a wait fails the test, not hangs it
        assert purge.purge_tenant(tenant.id) == "purged"
        reader.rollback()
    assert sum(rows_of(tenant.id).values()) == 0


def test_two_purges_in_the_same_partition_do_not_wait_for_each_other(app, committed):
    """One purge's open batch transaction holds its rows; another tenant's purge, same partition, goes on."""
    clock.travel_to(AFTER_RETENTION)
    first = seed("first", users=3, events_per_user=4, status="ended", contract_end=END)
    second = seed("second", users=3, events_per_user=4, status="ended", contract_end=END, id=id_beside(first.id))
    first_id, second_id = first.id, second.id
    db.session.commit()
    db.session.remove()
    errors, holding, release = [], threading.Event(), threading.Event()

    def first_purge_mid_batch():
        try:
            with app.app_context(), db.engine.connect() as conn:
                # What a purge batch holds until its commit: the tenant's usage rows, deleted.
                conn.execute(sa.text("DELETE FROM usage_events WHERE tenant_id = :t"), {"t": first_id})
                holding.set()
                release.wait(10)
                conn.rollback()
        except Exception as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=first_purge_mid_batch)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        assert purge.purge_tenant(second_id) == "purged"
        waited = time.monotonic() - started  # had it waited, it would have been for the release, 10 s
    finally:
        release.set()
        thread.join(15)
    assert errors == [] and waited < 5
    assert sum(rows_of(second_id).values()) == 0
    assert rows_of(first_id)["usage_events"] == 12
    run = db.session.scalar(sa.select(PurgeRun).where(PurgeRun.tenant_id == second_id))
    assert run.rows_deleted["usage_events"] == 12


def test_the_application_role_reaches_other_tenants_usage_neither_through_the_table_nor_a_partition(
        session, due, as_app_role):
    tenant, other = due
    from privacy_saas import rls
    rls.scope_to_tenant(other.id)
    assert as_app_role.exec_driver_sql("SELECT count(*) FROM usage_events").scalar() == 6
    # Even with rights on every table (as the RLS fixture grants), a partition applies the same policy:
    # the two tenants share this one, and only the scoped tenant's rows show.
    name = partitions.partition_name(remainder_of(tenant.id))
    assert as_app_role.exec_driver_sql(f'SELECT count(DISTINCT tenant_id), count(*) FROM "{name}"').one() == (1, 6)
