"""purge_runs.rows_before goes: the purge no longer counts before deleting

The certificate's counts are each batch's DELETE row count, committed with the batch, so
a full count of the tenant's rows before the first delete was an extra pass for a
progress total only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.drop_column('rows_before')


def downgrade():
    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.add_column(sa.Column('rows_before', sa.JSON(), nullable=True))
