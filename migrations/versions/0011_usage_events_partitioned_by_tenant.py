"""usage_events partitioned by tenant on PostgreSQL: the purge drops a partition instead of deleting rows

See privacy_saas/processor/usage/partitions.py. The table is rebuilt: the old one is renamed, the
partitioned one created with the same columns, constraints, indexes, row-level security and
grants, one partition made per tenant that is active or ended (or still has rows), the rows
copied and counted, the old table dropped. Its foreign key to tenants goes, on SQLite too: the one
to registered_users implies it, and attaching a partition locks every table a foreign key names.

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
    -- ATTACH locks the table the foreign key references, registered_users, in SHARE ROW EXCLUSIVE
    -- mode: its writers wait until the tenant-creating transaction ends. Taken here first, before
    -- ATTACH locks usage_events: a creation waiting for registered_users then holds nothing that
    -- another creation (by a transaction that wrote registered_users) needs. (The table has no
    -- foreign key to tenants, which the one to registered_users implies: that would lock tenants,
    -- whose row each creating transaction has just inserted, and two of them would deadlock.)
    LOCK TABLE registered_users IN SHARE ROW EXCLUSIVE MODE;
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
-- (NULL when it has no partition). SHARE on the partition stops its writers while counting. The
-- caller's lock_timeout should stay below deadlock_timeout: DROP then waits for ACCESS EXCLUSIVE
-- on usage_events, and a generic plan writing another tenant's rows holds usage_events while it
-- waits for this partition; the drop gives up first and tries again. The owner (this function)
-- is exempt from the partition's row-level security (ENABLE, not FORCE), so the count is whole.
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

-- A trigger fires whoever inserts; EXECUTE is checked only when a trigger is created, which
-- nobody else may do with these.
REVOKE ALL ON FUNCTION usage_events_add_partition(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenants_add_usage_partition() FROM PUBLIC;
REVOKE ALL ON FUNCTION usage_events_drop_partition(uuid) FROM PUBLIC;

CREATE TRIGGER tenants_add_usage_partition AFTER INSERT ON tenants
FOR EACH ROW EXECUTE FUNCTION tenants_add_usage_partition();
"""

# Roles that held rights on the old table keep them on the new one; on upgrade, those that could
# delete usage events may drop the partition of a tenant being purged.
COPY_GRANTS = """
DO $$
DECLARE
    g record;
    who text;
BEGIN
    -- Every grant on the table, whoever made it (information_schema shows only the current role's).
    FOR g IN SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                    a.privilege_type, a.is_grantable
             FROM pg_class c, aclexplode(c.relacl) a
             WHERE c.oid = '{source}'::regclass AND a.grantee <> c.relowner
    LOOP
        who := CASE WHEN g.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(g.grantee) END;
        EXECUTE format('GRANT %s ON usage_events TO %s%s', g.privilege_type, who,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        IF g.privilege_type = 'DELETE' AND g.grantee <> 'PUBLIC' AND {may_drop} THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION usage_events_drop_partition(uuid) TO %s', who);
        END IF;
    END LOOP;
END $$;
"""
COLUMNS = "tenant_id, id, user_id, kind, occurred_at, detail_ct"
#: Locks one new partition holds until the migration commits: table, TOAST table and index, three indexes,
#: with some to spare.
LOCKS_PER_PARTITION = 8


def _create_table(name: str, *, tenant_fk: bool, **options) -> None:
    op.create_table(name,
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', privacy_saas.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail_ct', privacy_saas.crypto.fields.Ciphertext(), nullable=True),
    sa.CheckConstraint("kind IN ('session', 'page_view', 'report_download', 'email_delivered', 'email_opened', 'email_clicked')", name=op.f('ck_usage_events_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['registered_users.tenant_id', 'registered_users.id'], name=op.f('fk_usage_events_tenant_id_registered_users'), ondelete='CASCADE'),
    *([sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_events_tenant_id_tenants'))]
      if tenant_fk else []),
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


def _copy_rows(source: str) -> None:
    """Copy every usage row from `source` into usage_events, and make sure all of them arrived."""
    op.execute(f"INSERT INTO usage_events ({COLUMNS}) SELECT {COLUMNS} FROM {source}")
    op.execute(f"""DO $$ BEGIN
        IF (SELECT count(*) FROM usage_events) <> (SELECT count(*) FROM {source}) THEN
            RAISE EXCEPTION 'usage_events: rows were not all copied from {source}';
        END IF; END $$""")


def _check_lock_capacity(bind) -> None:
    """Refuse, before changing anything, when the partitions would not fit PostgreSQL's lock table."""
    tenants = bind.scalar(sa.text("SELECT count(*) FROM tenants WHERE status IN ('active', 'ended') "
                                  "OR id IN (SELECT DISTINCT tenant_id FROM usage_events)"))
    per_transaction, slots = bind.execute(sa.text(
        "SELECT current_setting('max_locks_per_transaction')::int, "
        "current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int")).one()
    needed = tenants * LOCKS_PER_PARTITION
    if 2 * needed > per_transaction * slots:  # half the table stays for everyone else
        raise RuntimeError(
            f"migration 0011 creates a partition for each of {tenants} tenants in one transaction, about "
            f"{needed} locks, and the server's lock table holds {per_transaction * slots}. Set "
            f"max_locks_per_transaction to at least {-(-2 * needed // slots)} (it needs a restart) and run the "
            f"upgrade again; nothing was changed.")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        # No partitions; the foreign key to tenants goes as on PostgreSQL (the models have none).
        with op.batch_alter_table('usage_events', schema=None) as batch_op:
            batch_op.drop_constraint('fk_usage_events_tenant_id_tenants', type_='foreignkey')
        return
    # The migrating role owns the tables, and FORCE row-level security (0009) binds owners: without
    # the bypass, an owner that is not a superuser would see, copy and keep no rows at all.
    op.execute("SELECT set_config('app.rls_bypass', 'on', true)")
    _check_lock_capacity(bind)
    _set_aside(OLD)
    _create_table("usage_events", tenant_fk=False, postgresql_partition_by="LIST (tenant_id)")
    # Functions resolve names in pg_catalog (implicitly first), then this schema, where they also create
    # tables, and pg_temp last: whoever calls them, wherever their search_path points.
    schema = bind.scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(FUNCTIONS.format(path=f"{schema}, pg_temp", policy=POLICY.replace("'", "''")))
    op.execute(COPY_GRANTS.format(source=OLD, may_drop="true"))
    # Tenants that may still get usage, and any that has some (a purge half done by batches).
    op.execute(f"""SELECT usage_events_add_partition(id) FROM tenants
                   WHERE status IN ('active', 'ended') OR id IN (SELECT DISTINCT tenant_id FROM {OLD})""")
    _copy_rows(OLD)
    op.execute(f"DROP TABLE {OLD}")
    op.execute("SELECT set_config('app.rls_bypass', 'off', true)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table('usage_events', schema=None) as batch_op:
            batch_op.create_foreign_key('fk_usage_events_tenant_id_tenants', 'tenants', ['tenant_id'], ['id'])
        return
    op.execute("SELECT set_config('app.rls_bypass', 'on', true)")
    op.execute("DROP TRIGGER tenants_add_usage_partition ON tenants")
    _set_aside("usage_events_partitioned")
    _create_table("usage_events", tenant_fk=True)
    op.execute(COPY_GRANTS.format(source="usage_events_partitioned", may_drop="false"))
    _copy_rows("usage_events_partitioned")
    op.execute("DROP TABLE usage_events_partitioned")
    for function in ("tenants_add_usage_partition()", "usage_events_drop_partition(uuid)",
                     "usage_events_add_partition(uuid)", "usage_events_partition_name(uuid)"):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("SELECT set_config('app.rls_bypass', 'off', true)")
