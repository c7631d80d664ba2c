"""sub-processors and their changes keep the category words that name no data-map category

POST /api/v1/subprocessors and /api/v1/subprocessors/changes take ordinary words for the data
categories ("E-mail addresses", "Voice recordings"): the known ones are read as data-map categories,
the others are kept as given in data_category_labels and shown beside them. Rows before this
revision have none.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 12:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('subprocessors', 'subprocessor_changes'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('data_category_labels', sa.JSON(), nullable=False, server_default='[]'))


def downgrade():
    for table in ('subprocessor_changes', 'subprocessors'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('data_category_labels')
