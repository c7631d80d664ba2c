"""usage_events in 32 hash partitions by tenant instead of one partition per tenant (PostgreSQL)

Measured with bench/scale.py from 100 to 10,000 tenants (SCALING.md): a partition per tenant made
creating a tenant 18x slower (the attach reads every partition's bound), a new connection's first
usage write 6x slower (it loads the same map), cost ~115 kB of disk per tenant however small, and
each purge's DROP took an ACCESS EXCLUSIVE lock on usage_events that every tenant's usage and
every other purge queued behind. A fixed set of hash partitions keeps each partition a bounded
share of the table (vacuum, indexes) with none of that: tenants come and go without DDL, and the
purge deletes the tenant's rows in batches inside its partition. 32 is a power of two, so each
partition can later be split in two (modulus 64) without moving the others.

The table is rebuilt as 0011 rebuilt it (its helpers are reused): the old one set aside, the new
one created with the same columns, constraints, indexes, row-level security and grants, the rows
copied and counted, the old one dropped with its per-tenant partitions, the trigger and functions
that made and dropped them. Dropping them takes a lock per partition: past ~400 tenants raise
max_locks_per_transaction first (the upgrade refuses before it changes anything, saying how far).

Revision ID: 0016b
Revises: 0016
Create Date: 2026-12-03 11:00:00

"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016b'
down_revision = '0016'
branch_labels = None
depends_on = None

MODULUS = 32
OLD = "usage_events_by_tenant"


def _revision_0011():
    """Migration 0011's module: its table, grant and copy helpers build the same table again."""
    path = Path(__file__).with_name("0011_usage_events_partitioned_by_tenant.py")
    spec = importlib.util.spec_from_file_location("migration_0011", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_lock_capacity(bind, locks_per_partition: int) -> None:
    """Refuse, before changing anything, when dropping the per-tenant partitions would not fit the lock table."""
    partitions = bind.scalar(sa.text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'usage_events'::regclass"))
    per_transaction, slots = bind.execute(sa.text(
        "SELECT current_setting('max_locks_per_transaction')::int, "
        "current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int")).one()
    needed = (partitions + MODULUS) * locks_per_partition
    if 2 * needed > per_transaction * slots:  # half the table stays for everyone else
        raise RuntimeError(
            f"migration 0016b drops the {partitions} per-tenant partitions of usage_events in one transaction, "
            f"about {needed} locks, and the server's lock table holds {per_transaction * slots}. Set "
            f"max_locks_per_transaction to at least {-(-2 * needed // slots)} (it needs a restart) and run the "
            f"upgrade again; nothing was changed.")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # no partitions on SQLite
    m0011 = _revision_0011()
    # As in 0011: the migrating owner is bound by FORCE row-level security unless it bypasses it.
    op.execute("SELECT set_config('app.rls_bypass', 'on', true)")
    _check_lock_capacity(bind, m0011.LOCKS_PER_PARTITION)
    op.execute("DROP TRIGGER tenants_add_usage_partition ON tenants")
    m0011._set_aside(OLD)
    m0011._create_table("usage_events", tenant_fk=False, postgresql_partition_by="HASH (tenant_id)")
    policy = m0011.POLICY
    for remainder in range(MODULUS):
        name = f"usage_events_p{remainder:02d}"
        op.execute(f"CREATE TABLE {name} PARTITION OF usage_events "
                   f"FOR VALUES WITH (MODULUS {MODULUS}, REMAINDER {remainder})")
        # The application reads through the parent, where the policy applies; a role granted rights on
        # every table would reach a partition directly, so each carries the policy too.
        op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {name} USING ({policy}) WITH CHECK ({policy})")
    op.execute(m0011.COPY_GRANTS.format(source=OLD, may_drop="false"))
    m0011._copy_rows(OLD)
    op.execute(f"DROP TABLE {OLD}")
    for function in ("tenants_add_usage_partition()", "usage_events_drop_partition(uuid)",
                     "usage_events_add_partition(uuid)", "usage_events_partition_name(uuid)"):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("SELECT set_config('app.rls_bypass', 'off', true)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # 0011's upgrade takes any usage_events (plain or, here, hash-partitioned) to one partition per tenant.
    _revision_0011().upgrade()
