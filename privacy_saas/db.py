"""Declarative base, naming conventions and shared column types."""
from __future__ import annotations

from collections.abc import Callable
import contextlib
import contextvars
import sqlite3
import time
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, make_transient_to_detached, mapped_column, registry
from uuid6 import uuid7

#: Stable constraint names, so Alembic produces the same schema on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """Return a time-ordered UUID (v7), generated in Python so it is known before insert."""
    return uuid7()


class UTCDateTime(sa.types.TypeDecorator):
    """An aware UTC datetime on every database (SQLite stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use privacy_saas.clock.now()")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def insert_now(session: Session, obj) -> None:
    """INSERT a new mapped object at once as one Core statement, then attach it to `session` as persistent.

    What a flush would do, without the unit of work's bookkeeping (a third of a SCIM create's database
    time): column defaults are applied to the object first, so it holds every value it was stored with.
    For plain rows only (no relationships to cascade, no mapper events).
    """
    table = obj.__table__
    values = {}
    for column in table.columns:
        value = obj.__dict__.get(column.key)
        # As a flush: a default for a column never set (and a primary key left None), an explicit None stays.
        if column.default is not None and (column.key not in obj.__dict__ or (value is None and column.primary_key)):
            value = column.default.arg(None) if column.default.is_callable else column.default.arg
            setattr(obj, column.key, value)
        values[column.key] = value
    session.connection().execute(table.insert(), values)
    make_transient_to_detached(obj)
    session.add(obj)


class Base(DeclarativeBase):
    """Base of every model."""

    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), uuid.UUID: sa.Uuid()},
    )


def uuid_pk(info: dict) -> Mapped[uuid.UUID]:
    """Return a primary-key column holding a Python-generated UUIDv7, declared in the data map by `info`."""
    return mapped_column(sa.Uuid(), primary_key=True, default=new_id, info=info)


def choice(name: str, column: str, values) -> sa.CheckConstraint:
    """Return a CHECK constraint limiting `column` to `values`."""
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


# --- SQLite, the embedded default ------------------------------------------------------------

#: How long a transaction waits for SQLite's write lock before "database is locked".
SQLITE_LOCK_TIMEOUT = 30.0
#: Longest pause between two tries for the write lock.
SQLITE_LOCK_POLL = 0.002
#: How transactions begun now begin on SQLite: "write" (IMMEDIATE), "read" or "optimistic" (see below).
_MODE = contextvars.ContextVar("privacy_saas_sqlite_mode", default="write")
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteInReadTransaction(RuntimeError):
    """A statement tried to write inside a transaction begun as read-only (a bug of the caller)."""


class SnapshotMoved(RuntimeError):
    """An optimistic transaction's first write found that another writer committed since its snapshot:
    what it read may be stale, so its work must be done again in a writing transaction."""


@contextlib.contextmanager
def _mode(mode: str):
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def reading():
    """Begin the transactions of this block as readers on SQLite (no effect on PostgreSQL).

    SQLite has one writer at a time, and every transaction here begins IMMEDIATE (it takes the
    write lock up front, so a writer never fails half-way on upgrading its lock). A request that
    only reads needs no such lock: begun DEFERRED it reads its own WAL snapshot while writers go on,
    so readers of several processes run in parallel instead of queueing behind one another. Such a
    transaction must not write (an upgrade fails once another writer has committed since its
    snapshot): a write in it raises `WriteInReadTransaction` before reaching the database.
    """
    return _mode("read")


def optimistically():
    """Begin the transactions of this block as readers that become writers at their first write (SQLite).

    For work that reads, then writes (a SCIM PATCH: load the user, apply, update): the reading runs
    beside other writers, and the write lock is held only from the first write to the commit. At the
    first write the read snapshot ends and the write lock is taken; if another writer committed in
    between (PRAGMA data_version moved), nothing is written and `SnapshotMoved` is raised: the caller
    rolls back and does the work again under `writing()`. Without such a commit the transaction saw
    exactly what a writer holding the lock from its start would have seen, so nothing else changes.
    """
    return _mode("optimistic")


def writing():
    """Begin the transactions of this block as writers (IMMEDIATE on SQLite), inside `reading()` too."""
    return _mode("write")


def is_reading() -> bool:
    """Return whether transactions begun now begin as readers that must not write (inside `reading()`)."""
    return _MODE.get() == "read"


def vouch(conn: sa.Connection, *checks: Callable[[sqlite3.Connection], bool]) -> None:
    """Say that what `conn`'s optimistic transaction read so far may be used even if another writer committed
    since: it is either harmless when a moment old (the caller's token and tenant) or confirmed by `checks`
    (e.g. `unchanged_row`), run under the write lock when the transaction takes it. A read after this
    counts again. Outside an optimistic transaction on SQLite: nothing.
    """
    if conn.info.get("sqlite_mode") == "optimistic":
        conn.info["read"] = False
        conn.info.setdefault("checks", []).extend(checks)


def unchanged_row(table: sa.Table, key: dict, version: int) -> Callable[[sqlite3.Connection], bool]:
    """Return a check for `vouch`: the row of `table` with primary key `key` still has this `version`."""
    where = " AND ".join(f'"{name}" = ?' for name in key)
    statement = f'SELECT "version" FROM "{table.name}" WHERE {where}'
    # As SQLAlchemy's Uuid type stores them on SQLite: 32 hex digits.
    parameters = tuple(value.hex if isinstance(value, uuid.UUID) else value for value in key.values())

    def check(dbapi_connection: sqlite3.Connection) -> bool:
        row = dbapi_connection.execute(statement, parameters).fetchone()
        return row is not None and row[0] == version

    return check


def claim_write_lock(conn: sa.Connection) -> None:
    """Turn `conn`'s optimistic transaction into a writing one now (see `optimistically`); else do nothing.

    Raises SnapshotMoved when another writer committed since the transaction's snapshot and something it
    read is neither vouched for nor confirmed by its checks.
    """
    if conn.info.get("sqlite_mode") != "optimistic" or not conn.in_transaction():
        return
    if conn.in_nested_transaction():
        raise SnapshotMoved("a SAVEPOINT is open: the transaction cannot change from reader to writer")
    dbapi_connection = conn.connection.dbapi_connection
    info = conn.info
    info["sqlite_mode"] = "write"
    dbapi_connection.execute("COMMIT")  # the read snapshot ends; nothing was written in it
    try:
        begin_immediate(dbapi_connection)
    except sqlite3.OperationalError as error:
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
    checks, read = info.pop("checks", []), info.pop("read", True)
    if dbapi_connection.execute("PRAGMA data_version").fetchone()[0] == info.pop("data_version", None):
        return  # nobody committed: all that was read is what the lock holder sees
    if read or not all(check(dbapi_connection) for check in checks):
        raise SnapshotMoved("another writer committed since this transaction's snapshot")


def configure_sqlite(engine: sa.Engine) -> None:
    """Make SQLite behave: foreign keys, WAL, waits instead of 'database is locked', real SAVEPOINTs."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_TIMEOUT * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.info["sqlite_mode"] = _MODE.get()
        dbapi_connection = conn.connection.dbapi_connection
        if mode == "optimistic":
            # Read before the snapshot begins: any commit from now on changes it (claim_write_lock).
            conn.info["data_version"] = dbapi_connection.execute("PRAGMA data_version").fetchone()[0]
            conn.info["read"], conn.info["checks"] = False, []
        if mode != "write":
            dbapi_connection.execute("BEGIN DEFERRED")
            return
        # IMMEDIATE takes the write lock up front, so concurrent writers queue
        # rather than fail half-way with SQLITE_BUSY on lock upgrade.
        try:
            begin_immediate(dbapi_connection)
        except sqlite3.OperationalError as error:
            # As SQLAlchemy wraps errors of statements: callers (the app's 503 handler) catch one kind.
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, error) from error

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before_a_write(conn, _cursor, statement, _parameters, _context, _executemany):
        mode = conn.info.get("sqlite_mode")
        if mode == "write" or mode is None:
            return
        if not statement.lstrip()[:7].upper().startswith(_WRITES):
            conn.info["read"] = True
            return
        if mode == "read" and conn.in_transaction():
            raise WriteInReadTransaction(f"a write in a read-only transaction: {statement.split(None, 3)[:3]}")
        claim_write_lock(conn)


def begin_immediate(dbapi_connection) -> None:
    """BEGIN IMMEDIATE, retried every millisecond or two while another process holds the lock.

    SQLite's own busy handler backs off to 25-100 ms sleeps, so under a few concurrent writers
    the lock sits idle while every waiter sleeps (p99 latencies of 100-250 ms); polling at a
    flat short interval hands it on within about a millisecond. Statements inside the
    transaction keep the normal busy timeout (set at connect).
    """
    deadline = time.monotonic() + SQLITE_LOCK_TIMEOUT
    pause = SQLITE_LOCK_POLL / 4
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, SQLITE_LOCK_POLL)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_TIMEOUT * 1000)}")
