"""Alembic migrations match the models, and go down and up again."""
import pprint
import uuid
from contextlib import contextmanager
from datetime import date

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

    base_app = create_app(conftest.test_config(tmp_path_factory))
    with base_app.app_context():
        server_url = db.engine.url
        db.engine.dispose()
    with scratch_database(server_url) as url:
        config["SQLALCHEMY_DATABASE_URI"] = url
        scratch = create_app(config)
        try:
            yield scratch
        finally:
            with scratch.app_context():
                db.engine.dispose()


@contextmanager
def scratch_database(server_url, *, owner: str | None = None):
    """Yield the URL of a new PostgreSQL database (owned by, and used as, `owner`: an ordinary role); drop it after."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            if owner:
                conn.exec_driver_sql(f"""DO $$ BEGIN CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS;
                                         EXCEPTION WHEN duplicate_object THEN NULL; END $$""")
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f" OWNER {owner}" if owner else ""))
        url = server_url.set(database=name)
        yield (url.set(username=owner) if owner else url).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


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


def tenant_partition(tenant_id) -> str:
    """The name migration 0011 gave a tenant's own usage partition."""
    return f"usage_events_t_{tenant_id.hex}"


@pytest.mark.postgres
def test_usage_rows_and_grants_survive_each_partitioning_down_and_up(scratch_app):
    """0011 made a partition per tenant, 0016b 32 hash partitions: rows and rights follow both ways."""
    from tests.lifecycle.conftest import seed

    role = conftest.APP_ROLE
    kind = "SELECT relkind FROM pg_class WHERE relname = 'usage_events'"
    strategy = "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'usage_events'::regclass"
    drop_function = "SELECT to_regprocedure('usage_events_drop_partition(uuid)') IS NOT NULL"
    with scratch_app.app_context():
        upgrade()
        tenant = seed("migrated", users=2, events_per_user=3)
        db.session.commit()
        own_partition = tenant_partition(tenant.id)
        db.session.remove()

        downgrade(revision="0016")
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql(strategy).scalar() == "l"
            assert conn.exec_driver_sql(f'SELECT count(*) FROM ONLY "{own_partition}"').scalar() == 6
            assert conn.exec_driver_sql(drop_function).scalar()

        downgrade(revision="0010")
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql(kind).scalar() == "r"
            assert conn.exec_driver_sql(f"SELECT to_regclass('{own_partition}')").scalar() is None
            assert conn.exec_driver_sql("SELECT count(*) FROM usage_events").scalar() == 6
            conn.exec_driver_sql(f"""DO $$ BEGIN CREATE ROLE {role} NOLOGIN;
                                     EXCEPTION WHEN duplicate_object THEN NULL; END $$""")
            conn.exec_driver_sql(f"GRANT SELECT, INSERT, DELETE ON usage_events TO {role}")

        upgrade(revision="0011")
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql(f"""SELECT has_table_privilege('{role}', 'usage_events', 'DELETE'),
                has_function_privilege('{role}', 'usage_events_drop_partition(uuid)', 'EXECUTE')""").one() \
                == (True, True)

        upgrade()
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql(strategy).scalar() == "h"
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_inherits "
                                        "WHERE inhparent = 'usage_events'::regclass").scalar() == 32
            assert conn.exec_driver_sql(f"SELECT to_regclass('{own_partition}')").scalar() is None
            assert conn.exec_driver_sql("SELECT count(DISTINCT tableoid), count(*) FROM usage_events").one() == (1, 6)
            assert conn.exec_driver_sql(f"""SELECT has_table_privilege('{role}', 'usage_events', 'DELETE'),
                                                   has_table_privilege('{role}', 'usage_events', 'UPDATE')""").one() \
                == (True, False)
            assert not conn.exec_driver_sql(drop_function).scalar()
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_trigger "
                                        "WHERE tgname = 'tenants_add_usage_partition'").scalar() == 0
            diff = schema_diff(conn)
        assert diff == [], pprint.pformat(diff)
        db.engine.dispose()


@pytest.mark.postgres
def test_an_owner_that_is_not_a_superuser_moves_every_tenants_usage_through_both_layouts(app, tmp_path_factory):
    """As deployed: the migrating role owns the tables and is bound by their FORCE row-level security."""
    from privacy_saas import rls
    from privacy_saas.crypto.service import destroy_tenant_keys
    from tests.lifecycle.conftest import seed

    with app.app_context():
        server_url = db.engine.url
    with scratch_database(server_url, owner="privacy_owner") as url:
        config = conftest.test_config(tmp_path_factory)
        config["SQLALCHEMY_DATABASE_URI"] = url
        owned = create_app(config)
        with owned.app_context():
            # Seeded with today's models, then taken down to 0010 (0012's downgrade re-wraps the data
            # keys under the master key), since the models no longer fit a 0010 database.
            upgrade()
            rls.lift_for_staff()  # seeding as the owner crosses tenants, as staff do
            active = seed("active", users=2, events_per_user=3)
            ended = seed("ended", users=1, events_per_user=2, status="ended", contract_end=date(2025, 1, 31))
            halfway = seed("halfway", users=1, events_per_user=4, status="ended", contract_end=date(2025, 1, 31))
            halfway.start_purge()
            destroy_tenant_keys(halfway)
            purged = seed("purged", users=0, events_per_user=0, status="ended", contract_end=date(2025, 1, 31))
            purged.start_purge()
            purged.finish_purge()
            db.session.commit()
            tenants = {t.slug: t.id for t in (active, ended, halfway, purged)}
            db.session.remove()
            downgrade(revision="0010")

            # A superuser counts what arrived (autocommit: no lock outlives a query).
            inspector = sa.create_engine(sa.engine.make_url(url).set(username=server_url.username),
                                         isolation_level="AUTOCOMMIT")

            def query(sql, **params):
                with inspector.connect() as conn:
                    return conn.execute(sa.text(sql), params).scalar()

            kind = "SELECT relkind FROM pg_class WHERE relname = 'usage_events'"
            usage = "SELECT count(*) FROM usage_events WHERE tenant_id = :t"
            upgrade(revision="0011")
            assert query(kind) == "p"
            assert {slug for slug, tenant_id in tenants.items()
                    if query("SELECT to_regclass(:p) IS NOT NULL", p=tenant_partition(tenant_id))} \
                == {"active", "ended", "halfway"}
            assert {slug: query(usage, t=tenant_id) for slug, tenant_id in tenants.items()} \
                == {"active": 6, "ended": 2, "halfway": 4, "purged": 0}
            upgrade()
            assert query("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'usage_events'::regclass") \
                == "h"
            assert {slug: query(usage, t=tenant_id) for slug, tenant_id in tenants.items()} \
                == {"active": 6, "ended": 2, "halfway": 4, "purged": 0}

            downgrade(revision="0010")
            assert query(kind) == "r"
            assert {slug: query(usage, t=tenant_id) for slug, tenant_id in tenants.items()} \
                == {"active": 6, "ended": 2, "halfway": 4, "purged": 0}
            upgrade()
            inspector.dispose()
            db.engine.dispose()
