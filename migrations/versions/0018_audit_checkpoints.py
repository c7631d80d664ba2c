"""audit checkpoints: each chain's head signed with the installation's key

Revision ID: 0018
Revises: 0012
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import privacy_saas.db

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('chain', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('signed_at', privacy_saas.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('chain', 'seq', name=op.f('uq_audit_checkpoints_chain_seq'))
    )
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.create_index('ix_audit_checkpoints_chain_signed_at', ['chain', 'signed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_checkpoints_chain_signed_at')
    op.drop_table('audit_checkpoints')
