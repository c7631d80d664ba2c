"""Shared fixtures: one app per session, a rolled-back transaction per test.

`PRIVACY_SAAS_TEST_DB=postgres` with DATABASE_URL/REDIS_URL runs on real servers
(make test starts them); otherwise on a temporary SQLite file.
"""
from __future__ import annotations

import base64
import functools
import os
import secrets
import uuid

import pytest
from flask.testing import FlaskCliRunner
from flask_migrate import upgrade

from privacy_saas import audit, clock, create_app
from privacy_saas.auth import service as staff_service
from privacy_saas.auth import tokens
from privacy_saas.extensions import db
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.tokens import create_token
from tests.helpers import PASSWORD, RequestContextClient, bearer, csrf_token, new_tenant

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
HAS_REDIS = bool(os.environ.get("REDIS_URL"))
TEST_MASTER_KEYS = "1:" + base64.b64encode(secrets.token_bytes(32)).decode()


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL)")
    skip_redis = pytest.mark.skip(reason="needs Redis (REDIS_URL)")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not HAS_REDIS:
            item.add_marker(skip_redis)


def KEYSTORE_PATH(tmp_path_factory):  # noqa: N802  (a constant of the session, computed)
    """Return the local key-store file every app of this test session shares."""
    return tmp_path_factory.getbasetemp() / "keystore.sqlite3"


def reset_database(app) -> None:
    """Drop everything and run the migrations to head."""
    with app.app_context():
        if ON_POSTGRES:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()


def test_config(tmp_path_factory) -> dict:
    """Return the configuration every test app uses."""
    instance = tmp_path_factory.mktemp("instance")
    config = {
        "TESTING": True,
        "PRIVACY_SAAS_MASTER_KEYS": TEST_MASTER_KEYS,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "OUTBOX_DIR": str(instance / "outbox"),
        "EXPORT_DIR": str(instance / "exports"),
        "PRIVACY_SAAS_SIGNING_KEY_FILE": str(instance / "signing_key.pem"),
        # One key store per test session, as one OpenBao serves the PostgreSQL run: every app of the
        # session (scratch databases, restored copies) finds the same scopes' keys.
        "KEYSTORE_PATH": str(KEYSTORE_PATH(tmp_path_factory)),
    }
    if not ON_POSTGRES:
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'test.sqlite3'}"
    return config


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The application, on a freshly migrated database."""
    os.environ.setdefault("PRIVACY_SAAS_INSTANCE", str(tmp_path_factory.mktemp("default-instance")))
    application = create_app(test_config(tmp_path_factory))
    reset_database(application)
    return application


@pytest.fixture
def key_store_down(app, tmp_path_factory, tmp_path):
    """An app on the test database whose key store does not answer: its local file is not a database."""
    broken = tmp_path / "broken-keystore.sqlite3"
    broken.write_bytes(b"not a database, but the key store's file" * 100)
    outage = create_app({**test_config(tmp_path_factory), "KEYSTORE": "local", "KEYSTORE_PATH": str(broken),
                         "OPENBAO_ADDR": None, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    yield outage
    with outage.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def session(app):
    """A database session whose work is rolled back after the test (commits are savepoints)."""
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield db.session
        finally:
            db.session.remove()
            engines[None] = engine
            transaction.rollback()
            connection.close()


@pytest.fixture
def committed(app):
    """Work that really commits (workers, live servers); every table is emptied afterwards."""
    with app.app_context():
        yield db.session
        db.session.remove()
        truncate_all(app)


def truncate_all(app) -> None:
    """Delete every row of every table."""
    with app.app_context(), db.engine.begin() as conn:
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if ON_POSTGRES:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        else:
            for table in tables:
                conn.exec_driver_sql(f'DELETE FROM "{table}"')


class CommittingRunner(FlaskCliRunner):
    """Commits the test's setup before each command (commands may roll back on error)."""

    def invoke(self, *args, **kwargs):
        db.session.commit()
        return super().invoke(*args, **kwargs)


@pytest.fixture
def client(app, session):
    """A test client sharing the test's transaction; each request has its own app context."""
    return RequestContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def runner(app, session):
    """A CLI runner sharing the test's transaction."""
    app.test_cli_runner_class = CommittingRunner
    return app.test_cli_runner()


# --- tenants, their users and tokens -----------------------------------------------------------

@pytest.fixture
def make_tenant(session):
    """Create tenants without keys: make_tenant(slug=None, **fields)."""
    return functools.partial(new_tenant, keys=False)


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("acme", name="Acme Ltd")


#: Entries in the `audit_chain` fixture's chain.
AUDIT_ENTRIES = 6


@pytest.fixture
def audit_chain(session, tenant):
    """A tenant chain of AUDIT_ENTRIES committed entries; returns its name."""
    for n in range(AUDIT_ENTRIES):
        audit.record("user.update", tenant_id=tenant.id, targets=[tenant.id], detail={"n": n}, actor=("cli", None))
    session.commit()
    return audit.scope_of(tenant.id)


@pytest.fixture
def make_keyed_tenant(session):
    """Create tenants with their data and index keys: make_keyed_tenant(slug=None, **fields)."""

    def make(slug: str | None = None, **fields):
        keyed = new_tenant(slug, **fields)
        # Commits are savepoints here: an error response's rollback keeps the fixtures.
        session.commit()
        return keyed

    return make


@pytest.fixture
def org(make_keyed_tenant):
    return make_keyed_tenant("acme", name="Acme Ltd")


@pytest.fixture
def other_org(make_keyed_tenant):
    return make_keyed_tenant("globex", name="Globex Corp")


@pytest.fixture
def make_user(session):
    """Create users through the service: make_user(tenant, email=None, role="member", password=None, **fields)."""

    def make(tenant, email: str | None = None, role: str = "member", **fields):
        fields.setdefault("display_name", "Test User")
        fields.setdefault("actor", ("test", None))
        user = users.create(tenant, email=email or f"u-{uuid.uuid4().hex[:8]}@example.com", role=role, **fields)
        session.commit()
        return user

    return make


@pytest.fixture
def org_admin(org, make_user):
    return make_user(org, "admin@acme.example", role="admin", password=PASSWORD, display_name="Ada Admin")


@pytest.fixture
def make_token(session):
    """Issue a tenant token: make_token(tenant) -> plaintext."""

    def make(tenant, name: str = "test"):
        plaintext = create_token(tenant, name, actor=("test", None))[1]
        session.commit()
        return plaintext

    return make


@pytest.fixture
def org_token(org, make_token):
    return make_token(org)


@pytest.fixture
def other_token(other_org, make_token):
    return make_token(other_org)


# --- staff -------------------------------------------------------------------------------------

@pytest.fixture
def make_staff(session):
    """Create staff: make_staff(role="dpo") -> (staff, password)."""

    def make(role: str = "admin", email: str | None = None, password: str = "correct horse battery"):
        staff = staff_service.create_staff(email or f"{role}-{uuid.uuid4().hex[:6]}@vendor.example", role, password)
        return staff, password

    return make


@pytest.fixture
def staff(make_staff):
    return make_staff("admin")[0]


@pytest.fixture
def staff_token(session, staff):
    """A bearer token of an admin staff member."""
    return tokens.issue(kind="staff", name="test", staff_id=staff.id)[1]


@pytest.fixture
def role_headers(session, make_staff):
    """Return bearer headers for a new staff member of `role`: role_headers("dpo")."""

    def make(role: str) -> dict:
        member, _password = make_staff(role)
        token = tokens.issue(kind="staff", name="test", staff_id=member.id)[1]
        session.commit()
        return bearer(token)

    return make


@pytest.fixture
def console_login(client, session, make_staff):
    """Sign a new staff member of `role` in to the console (through the real form); returns them."""

    def login(role: str):
        member, password = make_staff(role)
        session.commit()
        page = client.get("/console/login").get_data(as_text=True)
        response = client.post("/console/login", data={"csrf_token": csrf_token(page), "email": member.email,
                                                       "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return member

    return login


APP_ROLE = "privacy_app"


@pytest.fixture
def as_app_role(session):
    """PostgreSQL: run the rest of the test's transaction as an ordinary role (superusers ignore RLS)."""
    conn = session.connection()
    conn.exec_driver_sql(f"""DO $$ BEGIN CREATE ROLE {APP_ROLE} NOLOGIN;
                             EXCEPTION WHEN duplicate_object THEN NULL; END $$""")
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    conn.exec_driver_sql(f"SET LOCAL ROLE {APP_ROLE}")
    return conn
