"""usage_events partitioned by tenant on PostgreSQL: the purge drops a partition instead of deleting rows

See privacy_saas/processor/usage/partitions.py. The table is rebuilt: the old one is renamed, the
partitioned one created with the same columns, constraints, indexes, row-level security and
grants, one partition made per tenant that is not purged (or still has rows), the rows copied,
the old table dropped. Nothing changes on SQLite.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:00:00

"""
import sqlalchemy as sa
from alembic import op

import privacy_saas

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

#: As in 0009.
POLICY = ("tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid "
          "OR current_setting('app.rls_bypass', true) = 'on'")
OLD = "usage_events_unpartitioned"
INDEXES = (("ix_usage_events_tenant_occurred", ["tenant_id", "occurred_at"]),
           ("ix_usage_events_tenant_user", ["tenant_id", "user_id"]))

FUNCTIONS = """
CREATE FUNCTION usage_events_partition_name(p_tenant uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT 'usage_events_t_' || replace(p_tenant::text, '-', '') $$;

-- Creates the tenant's partition if missing. CREATE TABLE + ATTACH takes SHARE UPDATE EXCLUSIVE on
-- usage_events (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE and stop every reader).
CREATE FUNCTION usage_events_add_partition(p_tenant uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path}
AS $$
DECLARE
    part text := usage_events_partition_name(p_tenant);
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    -- ATTACH locks the tables the foreign keys reference in SHARE ROW EXCLUSIVE mode (writers of
    -- registered_users wait until this transaction ends). Taking registered_users before tenants,
    -- whose row this transaction has just inserted, means a writer of registered_users that then
    -- writes tenants finishes first instead of deadlocking with us.
    LOCK TABLE registered_users, tenants IN SHARE ROW EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE %I (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('ALTER TABLE usage_events ATTACH PARTITION %I FOR VALUES IN (%L)', part, p_tenant);
    -- The application reads through the parent, where the policy applies; a role granted rights on
    -- every table would reach the partition directly, so it carries the policy too.
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING ({policy}) WITH CHECK ({policy})', part);
END $$;

CREATE FUNCTION tenants_add_usage_partition() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path}
AS $$
BEGIN
    PERFORM usage_events_add_partition(NEW.id);
    RETURN NULL;
END $$;

-- Drops the partition of a tenant being purged whose keys are destroyed; returns the rows it held
-- (NULL when it has no partition). SHARE on the partition stops its writers while counting.
CREATE FUNCTION usage_events_drop_partition(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path}
AS $$
DECLARE
    part text := usage_events_partition_name(p_tenant);
    n bigint;
BEGIN
    IF to_regclass(part) IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant AND status = 'purging') THEN
        RAISE EXCEPTION 'tenant % is not being purged', p_tenant USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT 1 FROM data_keys WHERE scope = 'tenant:' || p_tenant AND destroyed_at IS NULL) THEN
        RAISE EXCEPTION 'tenant % still has live data keys', p_tenant USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('LOCK TABLE %I IN SHARE MODE', part);
    EXECUTE format('SELECT count(*) FROM %I', part) INTO n;
    EXECUTE format('DROP TABLE %I', part);
    RETURN n;
END $$;

REVOKE ALL ON FUNCTION usage_events_add_partition(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION usage_events_drop_partition(uuid) FROM PUBLIC;

CREATE TRIGGER tenants_add_usage_partition AFTER INSERT ON tenants
FOR EACH ROW EXECUTE FUNCTION tenants_add_usage_partition();
"""

# Roles that held rights on the old table keep them on the new one; on upgrade, those that could
# delete usage events may drop the partition of a tenant being purged.
COPY_GRANTS = """
DO $$
DECLARE g record;
BEGIN
    FOR g IN SELECT grantee, privilege_type FROM information_schema.role_table_grants
             WHERE table_schema = current_schema() AND table_name = '{source}'
               AND grantee <> (SELECT tableowner FROM pg_tables
                               WHERE schemaname = current_schema() AND tablename = '{source}')
    LOOP
        EXECUTE format('GRANT %s ON usage_events TO %I', g.privilege_type, g.grantee);
        IF g.privilege_type = 'DELETE' AND {may_drop} THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION usage_events_drop_partition(uuid) TO %I', g.grantee);
        END IF;
    END LOOP;
END $$;
"""


def _create_table(name: str, **options) -> None:
    op.create_table(name,
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', privacy_saas.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail_ct', privacy_saas.crypto.fields.Ciphertext(), nullable=True),
    sa.CheckConstraint("kind IN ('session', 'page_view', 'report_download', 'email_delivered', 'email_opened', 'email_clicked')", name=op.f('ck_usage_events_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['registered_users.tenant_id', 'registered_users.id'], name=op.f('fk_usage_events_tenant_id_registered_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_events_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_usage_events')),
    **options
    )
    for index, columns in INDEXES:
        op.create_index(index, name, columns, unique=False)
    op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {name} USING ({POLICY}) WITH CHECK ({POLICY})")


def _set_aside(table: str) -> None:
    """Rename a usage_events table and the indexes whose names the new one needs."""
    op.execute(f"ALTER TABLE usage_events RENAME TO {table}")
    for index in ("pk_usage_events", *(name for name, _ in INDEXES)):
        op.execute(f"ALTER INDEX {index} RENAME TO {index.replace('usage_events', table)}")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside(OLD)
    _create_table("usage_events", postgresql_partition_by="LIST (tenant_id)")
    # Functions resolve names in pg_catalog (implicitly first), then this schema, where they also create
    # tables, and pg_temp last: whoever calls them, wherever their search_path points.
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(FUNCTIONS.format(path=f"{schema}, pg_temp", policy=POLICY.replace("'", "''")))
    op.execute(COPY_GRANTS.format(source=OLD, may_drop="true"))
    op.execute(f"""SELECT usage_events_add_partition(id) FROM tenants
                   WHERE status <> 'purged' OR id IN (SELECT DISTINCT tenant_id FROM {OLD})""")
    op.execute(f"INSERT INTO usage_events SELECT * FROM {OLD}")
    op.execute(f"DROP TABLE {OLD}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER tenants_add_usage_partition ON tenants")
    _set_aside("usage_events_partitioned")
    _create_table("usage_events")
    op.execute(COPY_GRANTS.format(source="usage_events_partitioned", may_drop="false"))
    op.execute("INSERT INTO usage_events SELECT * FROM usage_events_partitioned")
    op.execute("DROP TABLE usage_events_partitioned CASCADE")
    for function in ("tenants_add_usage_partition()", "usage_events_drop_partition(uuid)",
                     "usage_events_add_partition(uuid)", "usage_events_partition_name(uuid)"):
        op.execute(f"DROP FUNCTION {function}")
