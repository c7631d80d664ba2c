"""sub-processors say which data they touch: scopes, data categories, country, tenant regions

The Art. 30 records and each tenant's inventory list, per category, the sub-processors that
receive it and the transfers to third countries; free text (`purpose`, `location`) cannot say
that. Entries made before this revision have none of it and are shown as unclassified.

Revision ID: 0014
Revises: 0011
Create Date: 2027-01-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subprocessors') as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('data_categories', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('tenant_regions', sa.JSON(), nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('subprocessors') as batch_op:
        batch_op.drop_column('tenant_regions')
        batch_op.drop_column('country')
        batch_op.drop_column('data_categories')
        batch_op.drop_column('scopes')
