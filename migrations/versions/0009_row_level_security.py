"""row-level security on processor tables (PostgreSQL only; the second tenant fence)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 11:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: Every table with a tenant_id except those the purge keeps (tenants, audit, legal holds,
#: purge runs, certificates, aggregates) and api_tokens (resolved before the tenant is known;
#: staff tokens have no tenant).
TABLES = ("registered_users", "user_groups", "user_group_members", "user_invitations", "tenant_exports",
          "support_requests", "usage_events")
POLICY = ("tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid "
          "OR current_setting('app.rls_bypass', true) = 'on'")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        # FORCE: the table owner is bound too (superusers and BYPASSRLS roles never are).
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
