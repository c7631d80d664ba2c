"""Tenant API tokens checked without a database round trip, and revoked everywhere at once.

Each process keeps the tenant tokens it has seen (the secret's hash, the token's tenant and a snapshot
of that tenant's row) for TOKEN_CACHE_SECONDS at most. The secret is still compared in constant time
on every request; what the cache saves is the look-up of the token and its tenant.

An entry is trusted only while nothing that could change its answer was written since it was read:
every UPDATE, DELETE or TRUNCATE of `api_tokens`, `tenants` or `staff` that goes through one of the
application's engines (ORM flushes and Core statements alike) moves the generation of every process
on that database, and an entry is tagged with the generation read *before* its database read, so a
revocation committed meanwhile still invalidates it. How other processes learn of the write:

- SQLite (one host by construction): a signal file beside the database, `<db>.authgen`, which the
  writer appends a byte to after its commit; its (inode, size, mtime) is the generation, one stat per
  request. An in-memory database has no other process.
- PostgreSQL: the writing transaction sends NOTIFY on `privacy_saas_auth` (delivered at commit, dropped
  on rollback); each process LISTENs in a daemon thread and counts notifications. While that listener
  is not connected (starting, broken, reconnecting, or not verified to receive) no entry is trusted:
  every request reads the database, as it does with the cache off.

The writing process moves its own generation at the write and again once its transaction is over
(at the connection's next statement or its return to the pool, both after the commit). Writes made
outside the application (psql, another program) are only seen when the TTL runs out.
"""
from __future__ import annotations

import copy
import logging
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import make_transient_to_detached

from privacy_saas.auth.models import ApiToken
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

#: Notification channel shared by every process of one PostgreSQL database.
CHANNEL = "privacy_saas_auth"
#: application_name of each process's listening connection (pg_stat_activity).
LISTENER_NAME = "privacy_saas token cache"
#: Most tokens a process keeps; past it the cache starts again empty (only live tokens are ever stored).
MAX_ENTRIES = 10_000
#: The signal file starts afresh (a new inode) once it has grown to this many bytes.
SIGNAL_FILE_LIMIT = 4096

#: A statement that may change what a cached token answers: the tables a token, its tenant or its
#: owner live in (DROP covers schema resets and SQLite's table rebuilds).
_WRITE = re.compile(
    r'\s*(?:UPDATE\s+"?(?:api_tokens|tenants|staff)"?\s'
    r'|DELETE\s+FROM\s+"?(?:api_tokens|tenants|staff)"?(?:\s|$)'
    r'|TRUNCATE\b[^;]*\b(?:api_tokens|tenants|staff)\b'
    r'|DROP\s)',
    re.IGNORECASE)
#: Set in a pooled connection's info while its transaction has written a watched table...
_DIRTY = "token_cache_dirty"
#: ... and once that transaction is over, until the generation has moved for it.
_SETTLED = "token_cache_settled"


def writes_watched_table(statement: str) -> bool:
    """Return whether `statement` may change a token, its tenant or its owner."""
    return _WRITE.match(statement) is not None


# --- generations: how a process learns that any process changed a watched row ----------------------


class _Generation:
    """A process's view of one database's writes: a local counter plus what other processes signal."""

    def __init__(self) -> None:
        self.local = 0

    def bump(self) -> None:
        """Invalidate every entry of this process at once (this process wrote)."""
        self.local += 1

    def current(self):
        """Return the generation (any hashable), or None while the signal from other processes is not trusted."""
        return self.local

    def announced(self) -> None:
        """Tell other processes, after this process committed a write to a watched table."""

    def notify(self, cursor) -> None:
        """Signal inside the writing transaction (PostgreSQL)."""


class _SignalFile(_Generation):
    """SQLite: other processes on this host watch a file beside the database."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.writable = True
        try:
            with open(path, "ab"):
                pass
        except OSError as error:
            # Unsignalled writes would go unseen by the other processes: no entry is ever trusted.
            log.error("token cache off: cannot write its signal file %s (%s)", path, error)
            self.writable = False

    def current(self):
        if not self.writable:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self.local, None
        return self.local, stat.st_ino, stat.st_size, stat.st_mtime_ns

    def announced(self) -> None:
        try:
            if os.path.getsize(self.path) >= SIGNAL_FILE_LIMIT:
                # A new inode, so the generation cannot come back to one seen before.
                fresh = f"{self.path}.{os.getpid()}.tmp"
                with open(fresh, "wb") as fh:
                    fh.write(b".")
                os.replace(fresh, self.path)
            else:
                with open(self.path, "ab") as fh:
                    fh.write(b".")
        except OSError as error:
            log.error("token cache: cannot signal a token change in %s (%s); the cache is now off", self.path, error)
            self.writable = False


class _Listener(_Generation):
    """PostgreSQL: LISTEN in a daemon thread, started lazily in each process (gunicorn forks after import)."""

    #: Seconds one wait for notifications lasts before the thread looks whether it should stop.
    POLL = 1.0
    #: Consecutive failed connections before the thread gives up; a later request starts a new one.
    MAX_FAILURES = 8
    #: Longest pause between two connection attempts, and the least time between two threads.
    MAX_BACKOFF = 5.0

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self.conninfo = conninfo
        self.received = 0
        #: The stop event of the thread whose connection is listening now, if any: a thread that is
        #: ending (stopped, or from before a fork) cannot mark a newer one's connection lost.
        self._live: threading.Event | None = None
        self._nonce = secrets.token_hex(8)
        self._pid = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stopped = False
        self._started_at = 0.0
        self._lock = threading.Lock()

    def current(self):
        thread = self._thread
        if not self._stopped and (self._pid != os.getpid() or thread is None or not thread.is_alive()):
            self._start()
        if not self.connected or self._pid != os.getpid():
            return None
        return self.local, self.received

    @property
    def connected(self) -> bool:
        """Whether this process's current listener is connected and listening."""
        return self._live is not None and self._live is self._stop

    def notify(self, cursor) -> None:
        # Signed with this process, whose own writes already moved its generation (see _run).
        cursor.connection.execute(f"NOTIFY {CHANNEL}, '{self._payload()}'")

    def _payload(self) -> str:
        return f"{os.getpid()}-{self._nonce}"

    def start(self) -> None:
        """Listen again after stop()."""
        self._stopped = False
        self._started_at = 0.0
        self._start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening until start() (no entry is trusted meanwhile) and wait for the thread to end."""
        with self._lock:
            self._stopped = True
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            forked = self._pid != os.getpid()
            if not forked and self._thread is not None and self._thread.is_alive():
                return
            if not forked and time.monotonic() - self._started_at < self.MAX_BACKOFF:
                return  # a thread gave up moments ago
            # After a fork the parent's listening connection belongs to the parent: never touch it here.
            self._pid = os.getpid()
            self._started_at = time.monotonic()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name="token-cache-listener",
                                            daemon=True)
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        failures = 0
        own = self._payload()
        while not stop.is_set() and failures < self.MAX_FAILURES:
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5, keepalives=1,
                                     keepalives_idle=5, keepalives_interval=2, keepalives_count=2,
                                     application_name=LISTENER_NAME) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    _check_delivery(conn, own)
                    # Whatever was signalled while not listening is lost: entries from before are not trusted.
                    self.received += 1
                    self._live = stop
                    failures = 0
                    while not stop.is_set():
                        for notification in conn.notifies(timeout=self.POLL):
                            if notification.payload != own:
                                self.received += 1
                        conn.execute("SELECT 1")  # a dead server shows here, not only at the next notification
            except (psycopg.Error, NotDelivered) as error:
                failures += 1
                log.warning("token cache: listener on %s lost (%s); tokens are read from the database meanwhile",
                            CHANNEL, error if isinstance(error, NotDelivered) else type(error).__name__)
            finally:
                if self._live is stop:
                    self._live = None
                self.received += 1
            stop.wait(min(0.1 * 2 ** failures, self.MAX_BACKOFF))
        if failures >= self.MAX_FAILURES:
            log.error("token cache: listener gave up after %d failures; a later request tries again", failures)


class NotDelivered(Exception):
    """The listening connection does not receive notifications (a pooler in transaction mode)."""


def _check_delivery(conn: psycopg.Connection, payload: str) -> None:
    """Raise NotDelivered unless a notification sent now comes back to `conn`.

    Behind PgBouncer in transaction mode LISTEN and the later reads may land on different server
    connections, and nothing would ever arrive: the cache must then stay off, not trust silence.
    """
    conn.execute(f"NOTIFY {CHANNEL}, '{payload}'")
    for notification in conn.notifies(timeout=2.0):
        if notification.payload == payload:
            return
    raise NotDelivered("a notification sent on the listening connection did not come back to it (a pooler in "
                       "transaction mode? the listener needs a session of its own)")


#: One generation per database, shared by every app of the process on it (and by their engines).
_generations: dict[str, _Generation] = {}
_generations_lock = threading.Lock()


def generation_for(url: sa.engine.URL) -> _Generation:
    """Return this process's generation of the database at `url`."""
    key = url.render_as_string(hide_password=False)
    with _generations_lock:
        found = _generations.get(key)
        if found is None:
            if url.get_backend_name() == "postgresql":
                found = _Listener(url.set(drivername="postgresql").render_as_string(hide_password=False))
            elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
                    and not url.database.startswith("file::memory:"):
                found = _SignalFile(f"{url.database}.authgen")
            else:
                found = _Generation()
            _generations[key] = found
        return found


def watch(engine: sa.Engine, generation: _Generation) -> None:
    """Make every write to a watched table through `engine` move `generation` and signal other processes."""

    def settled(info) -> None:
        # The writing transaction is over (committed or rolled back): readers now see its outcome.
        if info.pop(_SETTLED, False):
            generation.bump()
            generation.announced()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after_execute(conn, cursor, statement, _parameters, _context, _executemany):
        info = conn.info
        settled(info)
        if _WRITE.match(statement) is None:
            return
        info[_DIRTY] = True
        generation.bump()
        generation.notify(cursor)

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def _ending(conn):
        # Called just before the database commits: the generation moves at the connection's next
        # statement or when it goes back to the pool, whichever comes first, both after the commit.
        # (A connection lost meanwhile has no info left to read: see _lost.)
        if not conn.invalidated and conn.info.pop(_DIRTY, False):
            conn.info[_SETTLED] = True

    @sa.event.listens_for(engine, "invalidate")
    @sa.event.listens_for(engine, "soft_invalidate")
    def _lost(_dbapi_connection, record, _exception):
        # Its info goes with the connection: whether a commit sent just before got through is unknown.
        if record is not None and (record.info.pop(_DIRTY, False) or record.info.get(_SETTLED)):
            record.info[_SETTLED] = True
            settled(record.info)

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        if record is not None:
            if record.info.pop(_DIRTY, False):  # rolled back on its way to the pool
                record.info[_SETTLED] = True
            settled(record.info)


# --- the cache ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """What a tenant token answers, as read from the database at `generation`."""

    secret_hash: bytes
    tenant_id: uuid.UUID
    last_used_at: datetime | None
    #: The tenant row's column values, to attach a Tenant to a request's session without a query.
    tenant_state: dict
    #: Those of them a request could change in place (JSON), copied for each request.
    mutable: tuple
    generation: object
    expires_at: datetime


class TokenCache:
    """One app's tenant tokens, valid while the database's generation has not moved and for `ttl` at most."""

    def __init__(self, generation: _Generation, ttl: timedelta) -> None:
        self._generation = generation
        self.ttl = ttl
        self._entries: dict[uuid.UUID, Entry] = {}

    def generation(self):
        """Return the generation to tag a database read with (read it before the read), or None: do not cache."""
        return self._generation.current()

    def get(self, token_id: uuid.UUID, generation, now: datetime) -> Entry | None:
        """Return the entry of `token_id` if it is still trusted at `generation`."""
        entry = self._entries.get(token_id)
        if entry is None or generation is None or entry.generation != generation or now >= entry.expires_at:
            return None
        return entry

    def put(self, token: ApiToken, generation, now: datetime) -> None:
        """Remember a live tenant token (its tenant loaded) read from the database at `generation`."""
        if generation is None or token.kind != "tenant" or token.revoked_at is not None:
            return
        if db.session.connection().info.get(_DIRTY):
            return  # this transaction changed a watched row: what it reads is not committed yet
        loaded = sa.inspect(token.tenant).dict
        tenant_state = {attr.key: copy.deepcopy(loaded[attr.key]) for attr in _tenant_mapper().column_attrs
                        if attr.key in loaded}
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        mutable = tuple(name for name, value in tenant_state.items() if isinstance(value, (dict, list)))
        self._entries[token.id] = Entry(token.secret_hash, token.tenant_id, token.last_used_at,
                                        tenant_state, mutable, generation, now + self.ttl)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def tenant(self, entry: Entry):
        """Return the entry's tenant in the request's session, without a query.

        The session's own copy if it holds one; else the snapshot attached as if just loaded: attribute
        reads, status checks and lazy loads work as on a queried row, and a commit expires it as usual.
        """
        session = db.session()
        mapper = _tenant_mapper()
        held = session.identity_map.get(mapper.identity_key_from_primary_key((entry.tenant_id,)))
        if held is not None:
            return held
        tenant = mapper.class_manager.new_instance()
        values = sa.inspect(tenant).dict
        values.update(entry.tenant_state)
        for name in entry.mutable:
            values[name] = copy.deepcopy(values[name])  # JSON: no request changes the snapshot in place
        make_transient_to_detached(tenant)
        session.add(tenant)
        return tenant


def _tenant_mapper() -> sa.orm.Mapper:
    """The Tenant model's mapper, reached through the token's relationship (processor/ is above auth/)."""
    return ApiToken.tenant.property.mapper


def init_app(app: Flask) -> None:
    """Give `app` its token cache (unless TOKEN_CACHE_SECONDS is 0) and watch its engine's writes."""
    seconds = float(app.config.get("TOKEN_CACHE_SECONDS", 0))
    generation = generation_for(db.engine.url)
    # Watched even with the cache off here: other processes of the installation may have it on.
    watch(db.engine, generation)
    app.extensions["token_cache"] = TokenCache(generation, timedelta(seconds=seconds)) if seconds > 0 else None


def for_app() -> TokenCache | None:
    """Return the current app's token cache, None when it is off."""
    return current_app.extensions.get("token_cache")
