"""SQLite write transactions queue for the lock by polling, not by SQLite's backing-off busy handler."""
import sqlite3
import threading

import pytest

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
