"""SCIM users as identity providers send them: userName apart from e-mails, sealed profile, external id sealed

registered_users gains the sign-in name (user_name_ct, blind index user_name_bidx, unique per tenant), the
full e-mail list (emails_ct, blind indexes in the new registered_user_emails), phone numbers and addresses
(contact_ct), the rest of the core profile (profile_ct) and the enterprise extension (enterprise_ct). The
external id, plaintext until now, is sealed (external_id_ct) and blind-indexed (external_id_bidx, unique per
tenant). email_ct/email_bidx stay: the product's e-mail of the user, now nullable (a userName that is no
address and no e-mail).

Existing rows: userName = the current e-mail, which also becomes the one (primary, work) e-mail. Needs the
running app's keyring (Flask-Migrate runs migrations in its context) to seal the values; rows of a tenant whose
keys are destroyed keep their indexes and no sealed values (nothing can read them any more).

Revision ID: 0019
Revises: 0020
Create Date: 2026-12-03 12:30:00

"""
import uuid
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

import privacy_saas.crypto.fields


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0020'
branch_labels = None
depends_on = None

RLS_TABLE = "registered_user_emails"
POLICY = ("tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid "
          "OR current_setting('app.rls_bypass', true) = 'on'")
#: Domain separation of the external id's keyed hash (privacy_saas.processor.users.service.external_id_index).
EXTERNAL_ID_PREFIX = "scim:externalId:"


@contextmanager
def _no_sqlite_cascades(bind):
    """Recreate registered_users (SQLite's batch mode) with foreign keys off.

    Dropping the old table with foreign keys on would cascade-delete every row that references a user
    (memberships, invitations, usage events). The pragma is ignored inside a transaction, so this commits
    what ran before, as Alembic's documentation of batch mode advises.
    """
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("BEGIN IMMEDIATE")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
    finally:
        raw.execute("COMMIT")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("BEGIN IMMEDIATE")


class _Keys:
    """A tenant scope's keys, read through the migration's own connection.

    The keyring's own look-ups use another connection, which would wait for the locks this migration's
    transaction holds (e.g. on data_keys, when 0012 runs in the same upgrade): a deadlock.
    """

    def __init__(self, bind):
        from flask import current_app

        self.bind, self.ring, self.loaded = bind, current_app.extensions["privacy_saas.keyring"], {}

    def __call__(self, scope: str):
        if scope not in self.loaded:
            rows = self.bind.execute(sa.text(
                "SELECT d.purpose, d.version, d.master_version, d.kek_version, d.wrapped, d.destroyed_at, c.backend "
                "FROM data_keys d LEFT JOIN key_custody c ON c.scope = d.scope WHERE d.scope = :scope"),
                {"scope": scope}).all()
            self.loaded[scope] = self.ring._load(scope, rows)
        return self.loaded[scope]

    def seal(self, scope: str, plaintext: bytes, aad: bytes) -> bytes:
        keys = self(scope)
        if keys.newest is None:
            raise _crypto()[4](f"the data keys of {scope} have been destroyed")
        return keys.ciphers[keys.newest].seal(plaintext, aad)

    def open(self, scope: str, blob: bytes, aad: bytes) -> bytes:
        from privacy_saas.crypto.envelope import key_version_of

        cipher = self(scope).ciphers.get(key_version_of(blob))
        if cipher is None:
            raise _crypto()[4](f"a data key of {scope} is destroyed")
        return cipher.open(blob, aad)

    def index(self, scope: str, value: str, *, email: bool) -> bytes:
        from privacy_saas.crypto.blind_index import email_bidx, keyed_hash

        key = self(scope).index_key
        if key is None:
            raise _crypto()[4](f"the index key of {scope} has been destroyed")
        return email_bidx(key, value) if email else keyed_hash(key, EXTERNAL_ID_PREFIX + value)[:16]


def _crypto():
    from privacy_saas.crypto.envelope import build_aad, decode_value, encode_value, key_version_of
    from privacy_saas.crypto.errors import CryptoError

    return build_aad, decode_value, encode_value, key_version_of, CryptoError


def upgrade():
    with op.batch_alter_table('registered_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_name_bidx', sa.LargeBinary(length=16), nullable=True))
        for name in ('user_name_ct', 'emails_ct', 'contact_ct', 'profile_ct', 'enterprise_ct', 'external_id_ct'):
            batch_op.add_column(sa.Column(name, privacy_saas.crypto.fields.Ciphertext(), nullable=True))
        batch_op.add_column(sa.Column('external_id_bidx', sa.LargeBinary(length=16), nullable=True))

    op.create_table('registered_user_emails',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('value_bidx', sa.LargeBinary(length=16), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=True),
    sa.Column('primary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['registered_users.tenant_id', 'registered_users.id'],
                            name='fk_registered_user_emails_user', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_registered_user_emails'))
    )
    with op.batch_alter_table('registered_user_emails', schema=None) as batch_op:
        batch_op.create_index('ix_registered_user_emails_bidx', ['tenant_id', 'value_bidx'], unique=False)
        batch_op.create_index('ix_registered_user_emails_user', ['tenant_id', 'user_id'], unique=False)

    _copy_forward(op.get_bind())

    with _no_sqlite_cascades(op.get_bind()), op.batch_alter_table('registered_users', schema=None) as batch_op:
        batch_op.alter_column('user_name_bidx', existing_type=sa.LargeBinary(length=16), nullable=False)
        batch_op.alter_column('email_bidx', existing_type=sa.LargeBinary(length=16), nullable=True)
        batch_op.drop_constraint('uq_registered_users_tenant_id_external_id', type_='unique')
        batch_op.create_unique_constraint(op.f('uq_registered_users_tenant_id_user_name_bidx'),
                                          ['tenant_id', 'user_name_bidx'])
        batch_op.create_unique_constraint(op.f('uq_registered_users_tenant_id_external_id_bidx'),
                                          ['tenant_id', 'external_id_bidx'])
        batch_op.drop_column('external_id')

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {RLS_TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {RLS_TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {RLS_TABLE} USING ({POLICY}) WITH CHECK ({POLICY})")


@contextmanager
def _rls_bypass(bind):
    """The migrating role owns the tables, and FORCE row-level security (0009) binds owners: without the
    bypass, an owner that is not a superuser would see and copy no rows at all."""
    if bind.dialect.name != "postgresql":
        yield
        return
    bind.execute(sa.text("SELECT set_config('app.rls_bypass', 'on', true)"))
    yield
    bind.execute(sa.text("SELECT set_config('app.rls_bypass', 'off', true)"))


def _copy_forward(bind) -> None:
    """userName = the e-mail, which becomes the primary work e-mail; the external id is sealed and indexed."""
    with _rls_bypass(bind):
        _seal_forward(bind)


def _seal_forward(bind) -> None:
    build_aad, decode_value, encode_value, _key_version_of, CryptoError = _crypto()
    rows = bind.execute(sa.text(
        "SELECT tenant_id, id, email_ct, email_bidx, external_id FROM registered_users")).all()
    if not rows:
        return
    keys = _Keys(bind)
    for row in rows:
        # Raw rows: SQLite returns the UUIDs as 32 hex digits, the AAD and scope need their canonical form.
        tenant_id, user_id = uuid.UUID(str(row.tenant_id)), uuid.UUID(str(row.id))
        scope = f"tenant:{tenant_id}"

        def seal(name, value, kind="str"):
            aad = build_aad("registered_users", name, scope, str(user_id))
            return keys.seal(scope, encode_value(value, kind), aad)

        values = {"id": row.id, "tenant_id": row.tenant_id, "user_name_bidx": row.email_bidx,
                  "user_name_ct": None, "emails_ct": None, "external_id_ct": None, "external_id_bidx": None}
        try:
            email = None
            if row.email_ct is not None:
                blob = bytes(row.email_ct)
                aad = build_aad("registered_users", "email", scope, str(user_id))
                email = decode_value(keys.open(scope, blob, aad), "str")
            if email is not None:
                values["user_name_ct"] = seal("user_name", email)
                values["emails_ct"] = seal("emails", [{"value": email, "type": "work", "primary": True}], "json")
            if row.external_id is not None:
                values["external_id_ct"] = seal("external_id", row.external_id)
                values["external_id_bidx"] = keys.index(scope, row.external_id, email=False)
        except CryptoError:
            pass  # the tenant's keys are destroyed: its rows are unreadable whatever this revision does
        bind.execute(sa.text(
            "UPDATE registered_users SET user_name_bidx = :user_name_bidx, user_name_ct = :user_name_ct, "
            "emails_ct = :emails_ct, external_id_ct = :external_id_ct, external_id_bidx = :external_id_bidx "
            "WHERE tenant_id = :tenant_id AND id = :id").bindparams(
                sa.bindparam("user_name_bidx", type_=sa.LargeBinary),
                sa.bindparam("user_name_ct", type_=sa.LargeBinary),
                sa.bindparam("emails_ct", type_=sa.LargeBinary), sa.bindparam("external_id_ct", type_=sa.LargeBinary),
                sa.bindparam("external_id_bidx", type_=sa.LargeBinary)), values)
        if row.email_bidx is not None:
            bind.execute(sa.text(
                'INSERT INTO registered_user_emails (tenant_id, id, user_id, value_bidx, type, "primary") '
                "VALUES (:tenant_id, :id, :user_id, :bidx, 'work', :primary)").bindparams(
                    sa.bindparam("id", type_=sa.Uuid), sa.bindparam("bidx", type_=sa.LargeBinary),
                    sa.bindparam("primary", type_=sa.Boolean)),
                {"tenant_id": row.tenant_id, "id": uuid.uuid4(), "user_id": row.id, "bidx": row.email_bidx,
                 "primary": True})


def _copy_back(bind) -> None:
    """The external id back in plaintext; users without a product e-mail get their userName as e-mail."""
    with _rls_bypass(bind):
        _open_back(bind)


def _open_back(bind) -> None:
    build_aad, decode_value, encode_value, _key_version_of, CryptoError = _crypto()
    rows = bind.execute(sa.text(
        "SELECT tenant_id, id, email_ct, email_bidx, user_name_ct, user_name_bidx, external_id_ct "
        "FROM registered_users")).all()
    if not rows:
        return
    keys = _Keys(bind)
    for row in rows:
        tenant_id, user_id = uuid.UUID(str(row.tenant_id)), uuid.UUID(str(row.id))
        scope = f"tenant:{tenant_id}"

        def open_(name, blob):
            blob = bytes(blob)
            aad = build_aad("registered_users", name, scope, str(user_id))
            return decode_value(keys.open(scope, blob, aad), "str")

        values = {"tenant_id": row.tenant_id, "id": row.id, "external_id": None, "email_ct": row.email_ct,
                  "email_bidx": row.email_bidx}
        try:
            if row.external_id_ct is not None:
                values["external_id"] = open_("external_id", row.external_id_ct)
            if row.email_bidx is None and row.user_name_ct is not None:
                name = open_("user_name", row.user_name_ct)
                aad = build_aad("registered_users", "email", scope, str(user_id))
                values["email_ct"] = keys.seal(scope, encode_value(name, "str"), aad)
                values["email_bidx"] = row.user_name_bidx
        except CryptoError:
            pass
        if values["email_bidx"] is None:
            values["email_bidx"] = row.user_name_bidx
        bind.execute(sa.text(
            "UPDATE registered_users SET external_id = :external_id, email_ct = :email_ct, email_bidx = :email_bidx "
            "WHERE tenant_id = :tenant_id AND id = :id").bindparams(
                sa.bindparam("email_ct", type_=sa.LargeBinary), sa.bindparam("email_bidx", type_=sa.LargeBinary)),
            values)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {RLS_TABLE}")
    with op.batch_alter_table('registered_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))
    _copy_back(bind)
    with _no_sqlite_cascades(bind), op.batch_alter_table('registered_users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_registered_users_tenant_id_external_id_bidx'), type_='unique')
        batch_op.drop_constraint(op.f('uq_registered_users_tenant_id_user_name_bidx'), type_='unique')
        batch_op.create_unique_constraint('uq_registered_users_tenant_id_external_id', ['tenant_id', 'external_id'])
        batch_op.alter_column('email_bidx', existing_type=sa.LargeBinary(length=16), nullable=False)
        for name in ('external_id_bidx', 'external_id_ct', 'enterprise_ct', 'profile_ct', 'contact_ct', 'emails_ct',
                     'user_name_ct', 'user_name_bidx'):
            batch_op.drop_column(name)
    with op.batch_alter_table('registered_user_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_registered_user_emails_user')
        batch_op.drop_index('ix_registered_user_emails_bidx')
    op.drop_table('registered_user_emails')
