"""console journeys: tenant files vs console changes, purge progress totals, requests closed with an answer

- `tenants.file_state`: what each tenant file said when last applied, so that `tenants plan` and
  `apply` tell a contract end changed in the console or API (drift) from a file edit. Existing
  tenants start from their current contract end, as if their file had just been applied.
- `purge_runs.rows_total`, `purge_runs.batches`: the tenant's row count when the deletes began and
  the batches committed since, for the purge's progress and ETA.
- `dsr_requests.closed_by`, `dsr_requests.close_reason_ct`: a request closed by staff with a reasoned
  answer (sealed under the controller key, like its notes), or by the purges that answered it.
- `dsr_requests.routed_tenants`: the tenants its instructions went to, so that a request whose
  instructions a purge deleted is closed naming that purge's certificate.

Revision ID: 0020
Revises: 0016b
Create Date: 2026-12-03 12:00:00

"""
import sqlalchemy as sa
from alembic import op

import privacy_saas.crypto.fields

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0016b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tenants') as batch_op:
        batch_op.add_column(sa.Column('file_state', sa.JSON(), nullable=True))
    with op.batch_alter_table('purge_runs') as batch_op:
        batch_op.add_column(sa.Column('rows_total', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('batches', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('dsr_requests') as batch_op:
        batch_op.add_column(sa.Column('closed_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('close_reason_ct', privacy_saas.crypto.fields.Ciphertext(), nullable=True))
        batch_op.add_column(sa.Column('routed_tenants', sa.JSON(), nullable=True))

    # Drift is tracked from here on: each tenant's current contract end counts as what its file said.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE tenants SET file_state = json_build_object('applied', json_build_object("
                   "'contract_end', to_char(contract_end, 'YYYY-MM-DD')), 'kept', json_build_object())")
    else:
        op.execute("UPDATE tenants SET file_state = json_object('applied', json_object("
                   "'contract_end', contract_end), 'kept', json_object())")


def downgrade():
    # Plain DROP COLUMN (SQLite >= 3.35 too): a batch copy of `tenants` would trip the foreign keys of its rows.
    for table, column in (('dsr_requests', 'routed_tenants'), ('dsr_requests', 'close_reason_ct'),
                          ('dsr_requests', 'closed_by'), ('purge_runs', 'batches'), ('purge_runs', 'rows_total'),
                          ('tenants', 'file_state')):
        op.drop_column(table, column)
