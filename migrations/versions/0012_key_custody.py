"""Key custody: data keys wrapped by a per-scope key-encryption key held in a key store

data_keys gains kek_version (the scope's KEK version in its key store wraps the row) and
master_version becomes nullable: rows written before this revision keep their master-key
wrapping and stay readable until `privacy-saas keys migrate` moves their scope into a store.
key_custody says which store holds each scope's KEK, since when, and its destruction receipts.
purge_runs.files_deleted becomes a count per kind of file (return exports, outbox mails, other).

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-03 09:00:00

"""
import json

import sqlalchemy as sa
from alembic import op

import privacy_saas.db

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'key_custody',
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('backend', sa.String(length=16), nullable=False),
        sa.Column('key_name', sa.String(length=128), nullable=False),
        sa.Column('since', privacy_saas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('previous', sa.String(length=32), nullable=True),
        sa.Column('destroyed_at', privacy_saas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('receipts', sa.JSON(), nullable=True),
        sa.CheckConstraint("backend IN ('local', 'openbao')", name=op.f('ck_key_custody_backend')),
        sa.PrimaryKeyConstraint('scope', name=op.f('pk_key_custody')),
    )
    with op.batch_alter_table('data_keys') as batch_op:
        batch_op.add_column(sa.Column('kek_version', sa.Integer(), nullable=True))
        batch_op.alter_column('master_version', existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(op.f('ck_data_keys_one_wrapping_key'), '(master_version IS NULL) <> (kek_version IS NULL)')

    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.add_column(sa.Column('files_by_kind', sa.JSON(), nullable=True))
    # What a purge counted before: return exports, the only files it deleted.
    build = 'json_build_object' if op.get_bind().dialect.name == 'postgresql' else 'json_object'
    op.execute(f"UPDATE purge_runs SET files_by_kind = {build}('return_exports', files_deleted)")
    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.drop_column('files_deleted')
        batch_op.alter_column('files_by_kind', new_column_name='files_deleted', existing_type=sa.JSON(),
                              nullable=False)


def _wrap_under_master(bind):
    """Re-wrap every data key held by a key-store KEK under the master key: 0011 knows no key store.

    Needs the running app's keyring (Flask-Migrate runs migrations in its context) and the key stores
    to answer; the KEKs themselves stay in their stores.
    """
    from flask import current_app

    ring = current_app.extensions["privacy_saas.keyring"]
    rows = bind.execute(sa.text(
        "SELECT d.id, d.scope, d.purpose, d.version, d.kek_version, d.wrapped, c.backend FROM data_keys d "
        "JOIN key_custody c ON c.scope = d.scope WHERE d.kek_version IS NOT NULL")).all()
    for row in rows:
        master_version, wrapped = ring.provider.newest_version, None
        if row.wrapped is not None:
            context = f"{row.scope}:{row.purpose}:v{row.version}".encode()
            raw = ring.store_for(row.backend).unwrap(row.scope, row.kek_version, bytes(row.wrapped), context)
            master_version, wrapped = ring.provider.wrap(raw, context)
        # A destroyed row keeps no key: its master_version only fills the column 0011 requires.
        bind.execute(sa.text("UPDATE data_keys SET master_version = :m, wrapped = :w, kek_version = NULL "
                             "WHERE id = :id"), {"m": master_version, "w": wrapped, "id": row.id})


def downgrade():
    bind = op.get_bind()
    _wrap_under_master(bind)
    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.add_column(sa.Column('files_total', sa.Integer(), nullable=True))
    rows = bind.execute(sa.text("SELECT id, files_deleted FROM purge_runs")).all()
    for run_id, kinds in rows:
        counts = kinds if isinstance(kinds, dict) else json.loads(kinds or '{}')
        bind.execute(sa.text("UPDATE purge_runs SET files_total = :n WHERE id = :id"),
                     {"n": sum(counts.values()), "id": run_id})
    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.drop_column('files_deleted')
        batch_op.alter_column('files_total', new_column_name='files_deleted', existing_type=sa.Integer(),
                              nullable=False)
    with op.batch_alter_table('data_keys') as batch_op:
        batch_op.drop_constraint(op.f('ck_data_keys_one_wrapping_key'), type_='check')
        batch_op.alter_column('master_version', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('kek_version')
    op.drop_table('key_custody')
