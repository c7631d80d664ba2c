"""Shared fixtures: one app per session, a rolled-back transaction per test.

`PRIVACY_SAAS_TEST_DB=postgres` with DATABASE_URL/REDIS_URL runs on real servers
(make test starts them); otherwise on a temporary SQLite file.
"""
from __future__ import annotations

import base64
import os
import secrets
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from flask.testing import FlaskCliRunner

from privacy_saas import clock
from privacy_saas.extensions import db

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
    from flask_migrate import upgrade

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
    from privacy_saas import create_app

    application = create_app(test_config(tmp_path_factory))
    reset_database(application)
    return application


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
            # The tenants are gone; so go their usage partitions (migration 0011), or they pile up.
            for (name,) in conn.exec_driver_sql("SELECT inhrelid::regclass::text FROM pg_inherits "
                                                "WHERE inhparent = 'usage_events'::regclass").all():
                conn.exec_driver_sql(f"DROP TABLE {name}")
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
    from tests.helpers import RequestContextClient

    return RequestContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def runner(app, session):
    """A CLI runner sharing the test's transaction."""
    app.test_cli_runner_class = CommittingRunner
    return app.test_cli_runner()


@pytest.fixture
def make_tenant(session):
    """Create tenants: make_tenant(slug="acme", contract_end=..., ...)."""
    from privacy_saas.processor.tenants.models import Tenant

    def make(slug: str | None = None, **fields):
        values = {
            "slug": slug or f"t-{uuid.uuid4().hex[:8]}",
            "name": fields.pop("name", "Example Ltd"),
            "region": "eu",
            "contract_start": date(2025, 1, 1),
            "end_action": "delete",
            "status": "active",
        }
        values.update(fields)
        tenant = Tenant(**values)
        session.add(tenant)
        session.flush()
        return tenant

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("acme", name="Acme Ltd")


@pytest.fixture
def make_staff(session):
    """Create staff: make_staff(role="dpo") -> (staff, password)."""
    from privacy_saas.auth import service

    def make(role: str = "admin", email: str | None = None, password: str = "correct horse battery"):
        staff = service.create_staff(email or f"{role}-{uuid.uuid4().hex[:6]}@vendor.example", role, password)
        return staff, password

    return make


@pytest.fixture
def staff(make_staff):
    return make_staff("admin")[0]


@pytest.fixture
def staff_token(session, staff):
    """A bearer token of an admin staff member."""
    from privacy_saas.auth import tokens

    return tokens.issue(kind="staff", name="test", staff_id=staff.id)[1]


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
