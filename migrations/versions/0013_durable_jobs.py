"""jobs (the transactional outbox of background work) and worker_heartbeats (scheduler liveness)

A job row is written in the transaction of the change that owes it and dispatched to RQ (or
run in-process) after the commit; the row, not Redis, holds its state and retries. Neither
table holds personal data (job arguments are ids) nor carries a foreign key (see the model).

Revision ID: 0013
Revises: 0015
Create Date: 2026-12-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import privacy_saas

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0015'
branch_labels = None
depends_on = None

UNFINISHED = sa.text("finished_at IS NULL")


def upgrade():
    when = privacy_saas.db.UTCDateTime(timezone=True)
    op.create_table(
        'jobs',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('args', sa.JSON(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=True),
        sa.Column('dedupe_key', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=True),
        sa.Column('created_at', when, nullable=False),
        sa.Column('not_before', when, nullable=False),
        sa.Column('dispatched_at', when, nullable=True),
        sa.Column('started_at', when, nullable=True),
        sa.Column('heartbeat_at', when, nullable=True),
        sa.Column('finished_at', when, nullable=True),
        sa.Column('worker', sa.String(length=128), nullable=True),
        sa.Column('progress', sa.JSON(), nullable=True),
        sa.Column('outcome', sa.String(length=300), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'dispatched', 'running', 'done', 'dead')",
                           name=op.f('ck_jobs_status')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    )
    op.create_index('ix_jobs_due', 'jobs', ['status', 'not_before'],
                    postgresql_where=UNFINISHED, sqlite_where=UNFINISHED)
    op.create_index('uq_jobs_dedupe_key', 'jobs', ['dedupe_key'], unique=True,
                    postgresql_where=UNFINISHED, sqlite_where=UNFINISHED)
    op.create_index('ix_jobs_tenant_id', 'jobs', ['tenant_id', 'created_at'])
    op.create_index('ix_jobs_finished', 'jobs', ['status', 'finished_at'])
    op.create_table(
        'worker_heartbeats',
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('started_at', when, nullable=False),
        sa.Column('beat_at', when, nullable=False),
        sa.Column('stopped_at', when, nullable=True),
        sa.Column('sweep_interval', sa.Float(), nullable=True),
        sa.Column('sweep_started_at', when, nullable=True),
        sa.Column('sweep_finished_at', when, nullable=True),
        sa.Column('last_sweep', sa.JSON(), nullable=True),
        sa.Column('dispatched_at', when, nullable=True),
        sa.Column('jobs_dispatched', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('last_error_at', when, nullable=True),
        sa.CheckConstraint("kind IN ('rq', 'in-process')", name=op.f('ck_worker_heartbeats_kind')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats')),
    )


def downgrade():
    op.drop_table('worker_heartbeats')
    op.drop_index('ix_jobs_finished', table_name='jobs')
    op.drop_index('ix_jobs_tenant_id', table_name='jobs')
    op.drop_index('uq_jobs_dedupe_key', table_name='jobs')
    op.drop_index('ix_jobs_due', table_name='jobs')
    op.drop_table('jobs')
