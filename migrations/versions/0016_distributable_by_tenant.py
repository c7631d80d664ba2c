"""Distributable by tenant: user_invitations.token_hash indexed, no longer unique across tenants

`privacy-saas db check-distribution` (privacy_saas/distribution.py) found it: on Citus a unique
constraint must include the distribution column, tenant_id. The set-password link does not name
its tenant, so the look-up by hash stays, on a plain index; 256 random bits do not collide.

Revision ID: 0016
Revises: 0018
Create Date: 2026-12-03 09:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_invitations') as batch_op:
        batch_op.drop_constraint('uq_user_invitations_token_hash', type_='unique')
        batch_op.create_index('ix_user_invitations_token_hash', ['token_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('user_invitations') as batch_op:
        batch_op.drop_index('ix_user_invitations_token_hash')
        batch_op.create_unique_constraint('uq_user_invitations_token_hash', ['token_hash'])
