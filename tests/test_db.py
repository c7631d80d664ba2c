"""SQLite write transactions queue for the lock by polling, not by SQLite's backing-off busy handler."""
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from privacy_saas import db
from privacy_saas.db import begin_immediate


def _connect(path):
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def test_waits_for_the_lock_then_begins_and_restores_the_busy_timeout(tmp_path):
    path = tmp_path / "db.sqlite3"
    holder, waiter = _connect(path), _connect(path)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    began = threading.Event()

    def wait_for_lock():
        begin_immediate(waiter)
        began.set()

    thread = threading.Thread(target=wait_for_lock)
    thread.start()
    assert not began.wait(0.1)  # the holder still has the write lock
    holder.execute("COMMIT")
    assert began.wait(10)
    thread.join(10)
    # The waiter holds the write lock now and sees the holder's committed row.
    assert waiter.execute("SELECT n FROM t").fetchall() == [(1,)]
    waiter.execute("INSERT INTO t VALUES (2)")
    waiter.execute("COMMIT")
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == int(db.SQLITE_LOCK_TIMEOUT * 1000)


def test_gives_up_with_database_is_locked_after_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_LOCK_TIMEOUT", 0.05)
    path = tmp_path / "db.sqlite3"
    holder, waiter = _connect(path), _connect(path)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(waiter)
    assert not waiter.in_transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 50
    holder.execute("ROLLBACK")


def _engine(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    db.configure_sqlite(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    return engine


def test_a_read_transaction_reads_its_snapshot_while_another_process_holds_the_write_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_LOCK_TIMEOUT", 0.2)
    path = tmp_path / "db.sqlite3"
    engine = _engine(path)
    holder = _connect(path)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    with db.reading(), engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0  # the last committed state
        connection.rollback()
    # A writer in the same situation waits for the lock (and here gives up after the timeout).
    with pytest.raises((sa.exc.OperationalError, sqlite3.OperationalError), match="locked"), \
            engine.connect() as connection:
        connection.exec_driver_sql("SELECT count(*) FROM t")
    holder.execute("COMMIT")


def test_a_write_in_a_read_transaction_is_refused_before_it_reaches_the_database(tmp_path):
    engine = _engine(tmp_path / "db.sqlite3")
    with db.reading(), engine.connect() as connection:
        with pytest.raises(db.WriteInReadTransaction):
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        # writing() inside reading() begins a writer again.
        connection.rollback()
        with db.writing():
            connection.exec_driver_sql("  insert into t values (2)")
            connection.commit()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT n FROM t").scalars().all() == [2]


def test_insert_now_stores_the_row_with_its_defaults_and_attaches_it(session, org):
    from privacy_saas.processor.users.models import UserGroup

    group = UserGroup(tenant_id=org.id, display_name="Sales", external_id=None)
    statements = []
    sa.event.listen(session.connection(), "before_cursor_execute",
                    lambda *args: statements.append(args[2].split(None, 1)[0]))
    db.insert_now(session, group)
    state = sa.inspect(group)
    assert state.persistent and not state.expired_attributes and group.id is not None
    created = group.created_at
    assert (group.version, group.external_id) == (1, None) and created is not None and group.updated_at is not None
    assert statements == ["INSERT"]  # reading its values back costs no SELECT
    session.expire(group)
    assert (group.display_name, group.version, group.created_at) == ("Sales", 1, created)
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        db.insert_now(session, UserGroup(id=group.id, tenant_id=org.id, display_name="Again"))
