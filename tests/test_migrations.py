"""Alembic migrations match the models, and go down and up again."""
import pprint
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from privacy_saas import create_app
from privacy_saas.extensions import db
from privacy_saas.processor.usage import partitions
from tests import conftest


def schema_diff(connection) -> list:
    """Return what autogenerate would change to make the database match the models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                          "include_name": partitions.include_name})
    return compare_metadata(context, db.metadata)


def table_names(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        diff = schema_diff(connection)
    assert diff == [], "migrations and models differ:\n" + pprint.pformat(diff)


def test_migrations_cover_every_model_table(app):
    with app.app_context():
        tables = table_names(db.engine)
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


@pytest.fixture
def scratch_app(app, tmp_path_factory):
    """An app on a database of its own, created empty and dropped afterwards.

    Depends on `app` so that PRIVACY_SAAS_INSTANCE already points at a temporary directory.
    """
    config = conftest.test_config(tmp_path_factory)
    if not conftest.ON_POSTGRES:
        path = tmp_path_factory.mktemp("scratch") / "scratch.sqlite3"
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
        yield create_app(config)
        return

    name = f"scratch_{uuid.uuid4().hex[:12]}"
    base_app = create_app(conftest.test_config(tmp_path_factory))
    with base_app.app_context():
        admin_url = db.engine.url
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        config["SQLALCHEMY_DATABASE_URI"] = admin_url.set(database=name).render_as_string(hide_password=False)
        scratch = create_app(config)
        try:
            yield scratch
        finally:
            with scratch.app_context():
                db.engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
        with base_app.app_context():
            db.engine.dispose()


def test_downgrade_to_base_and_upgrade_again(scratch_app):
    model_tables = set(db.metadata.tables)
    with scratch_app.app_context():
        assert table_names(db.engine) & model_tables == set()
        upgrade()
        assert model_tables <= table_names(db.engine)

        downgrade(revision="base")
        assert table_names(db.engine) & model_tables == set()
        with db.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() is None

        upgrade()
        assert model_tables <= table_names(db.engine)
        with db.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() is not None
            diff = schema_diff(connection)
        assert diff == [], "schema after down/up differs from the models:\n" + pprint.pformat(diff)
        db.engine.dispose()


@pytest.mark.postgres
def test_usage_rows_and_grants_survive_partitioning_down_and_up(scratch_app):
    """0011 rebuilds usage_events partitioned by tenant: rows, rights and the drop function follow."""
    from tests.lifecycle.conftest import seed

    role = conftest.APP_ROLE
    kind = "SELECT relkind FROM pg_class WHERE relname = 'usage_events'"
    with scratch_app.app_context():
        upgrade()
        tenant = seed("migrated", users=2, events_per_user=3)
        db.session.commit()
        partition = partitions.partition_name(tenant.id)
        db.session.remove()

        downgrade(revision="0010")
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql(kind).scalar() == "r"
            assert conn.exec_driver_sql(f"SELECT to_regclass('{partition}')").scalar() is None
            assert conn.exec_driver_sql("SELECT count(*) FROM usage_events").scalar() == 6
            conn.exec_driver_sql(f"""DO $$ BEGIN CREATE ROLE {role} NOLOGIN;
                                     EXCEPTION WHEN duplicate_object THEN NULL; END $$""")
            conn.exec_driver_sql(f"GRANT SELECT, INSERT, DELETE ON usage_events TO {role}")

        upgrade()
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql(kind).scalar() == "p"
            assert conn.exec_driver_sql(f'SELECT count(*) FROM ONLY "{partition}"').scalar() == 6
            assert conn.exec_driver_sql(f"""SELECT has_table_privilege('{role}', 'usage_events', 'DELETE'),
                                                   has_table_privilege('{role}', 'usage_events', 'UPDATE'),
                has_function_privilege('{role}', 'usage_events_drop_partition(uuid)', 'EXECUTE')""").one() \
                == (True, False, True)
            diff = schema_diff(conn)
        assert diff == [], pprint.pformat(diff)
        db.engine.dispose()
