"""The embedded key store: KEKs in a SQLite file of their own, each version wrapped by the master key.

Never the application database. Destroying a key deletes its rows with `secure_delete` (SQLite
overwrites the freed bytes) in rollback-journal mode (no WAL keeps old pages), and leaves a
tombstone: name, versions, when.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy_saas import clock
from privacy_saas.crypto.errors import DecryptionError, KeyDestroyed, KeyStoreUnavailable, KeyUnavailable
from privacy_saas.crypto.keystore.base import Inventory, KeyState, KeyStore, Receipt
from privacy_saas.crypto.providers import LocalKeyProvider

log = logging.getLogger(__name__)

KEK_BYTES = 32
_NONCE_BYTES = 12
# Distinct from the master wrap label (providers.py) and the field label (envelope.py).
_KEK_WRAP_LABEL = b"privacy_saas/kek-wrap/v1|"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keks (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    master_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS destroyed (
    name TEXT PRIMARY KEY,
    versions TEXT NOT NULL,
    destroyed_at TEXT NOT NULL
);
"""


class LocalKeyStore(KeyStore):
    """KEKs in a SQLite file of their own, each version wrapped by the master key."""

    backend = "local"

    def __init__(self, path: str | os.PathLike[str], master: LocalKeyProvider, prefix: str = "privacy-saas"):
        super().__init__(prefix)
        self.path = Path(path)
        self.master = master
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"LocalKeyStore({str(self.path)!r})"

    def describe(self) -> str:
        return f"local key-store file {self.path}"

    # -- the file -----------------------------------------------------------------------------

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        """Return this process's connection (None if the file does not exist and `create` is False)."""
        # A connection does not survive fork (RQ forks a work horse per job): one per process.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if not self.path.exists():
            if not create:
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 before SQLite opens it: the file holds wrapped keys.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            # Rollback journal, not WAL: a WAL keeps old page images (a destroyed key) until a
            # checkpoint that readers can hold off; the journal's pre-images go with its commit.
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise KeyStoreUnavailable(f"the local key-store file {self.path} cannot be opened: {error}") from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _read(self, sql: str, params=()) -> list:
        with self._lock:
            conn = self._connect(create=False)
            if conn is None:
                return []
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise KeyStoreUnavailable(f"the local key-store file {self.path} cannot be read: {error}") from None

    def _write(self, work):
        """Run work(conn) in one IMMEDIATE transaction; return its result."""
        with self._lock:
            conn = self._connect(create=True)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as error:
                raise KeyStoreUnavailable(f"the local key-store file {self.path} cannot be written: {error}") from None

    @staticmethod
    def _master_context(name: str, version: int) -> bytes:
        return f"{name}:kek:v{version}".encode()

    def _new_version(self, conn: sqlite3.Connection, name: str, version: int) -> None:
        master_version, wrapped = self.master.wrap(os.urandom(KEK_BYTES), self._master_context(name, version))
        conn.execute("INSERT INTO keks (name, version, master_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?)",
                     (name, version, master_version, wrapped, clock.now().isoformat()))

    def _tombstone(self, name: str) -> tuple[tuple[int, ...], datetime] | None:
        rows = self._read("SELECT versions, destroyed_at FROM destroyed WHERE name = ?", (name,))
        if not rows:
            return None
        return tuple(json.loads(rows[0][0])), datetime.fromisoformat(rows[0][1])

    def _kek(self, scope: str, version: int) -> AESGCM:
        name = self.key_name(scope)
        rows = self._read("SELECT master_version, wrapped FROM keks WHERE name = ? AND version = ?", (name, version))
        if not rows:
            if self._tombstone(name) is not None:
                raise KeyDestroyed(f"the key-encryption key of {scope} has been destroyed")
            raise KeyUnavailable(f"key-encryption key {name} v{version} is not in the {self.describe()}")
        master_version, wrapped = rows[0]
        return AESGCM(self.master.unwrap(master_version, wrapped, self._master_context(name, version)))

    # -- KeyStore -----------------------------------------------------------------------------

    def create(self, scope: str) -> None:
        name = self.key_name(scope)

        def work(conn):
            if conn.execute("SELECT 1 FROM destroyed WHERE name = ?", (name,)).fetchone():
                raise KeyDestroyed(f"the key-encryption key of {scope} was destroyed; it is never re-created")
            if not conn.execute("SELECT 1 FROM keks WHERE name = ?", (name,)).fetchone():
                self._new_version(conn, name, 1)

        self._write(work)

    def _newest(self, scope: str) -> int:
        name = self.key_name(scope)
        rows = self._read("SELECT max(version) FROM keks WHERE name = ?", (name,))
        if not rows or rows[0][0] is None:
            if self._tombstone(name) is not None:
                raise KeyDestroyed(f"the key-encryption key of {scope} has been destroyed")
            raise KeyUnavailable(f"key-encryption key {name} is not in the {self.describe()}")
        return rows[0][0]

    def wrap(self, scope: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        version = self._newest(scope)
        nonce = os.urandom(_NONCE_BYTES)
        return version, nonce + self._kek(scope, version).encrypt(nonce, key, _KEK_WRAP_LABEL + context)

    def unwrap_many(self, scope: str, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes]:
        keks: dict[int, AESGCM] = {}
        plain = []
        for version, wrapped, context in items:
            kek = keks.get(version) or keks.setdefault(version, self._kek(scope, version))
            try:
                plain.append(kek.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _KEK_WRAP_LABEL + context))
            except InvalidTag:
                raise DecryptionError(f"key-encryption key v{version} of {scope} cannot unwrap "
                                      f"{context.decode('utf-8', 'backslashreplace')}") from None
        return plain

    def rotate(self, scope: str) -> int:
        name = self.key_name(scope)
        newest = self._newest(scope)
        self._write(lambda conn: self._new_version(conn, name, newest + 1))
        return newest + 1

    def rewrap(self, scope: str, version: int, wrapped: bytes, context: bytes) -> tuple[int, bytes]:
        # The KEKs are in this process either way: unwrap and wrap again.
        return self.wrap(scope, self.unwrap(scope, version, wrapped, context), context)

    def destroy(self, scope: str, known_versions: Sequence[int] = ()) -> Receipt:
        name = self.key_name(scope)

        def work(conn):
            earlier = conn.execute("SELECT versions, destroyed_at FROM destroyed WHERE name = ?", (name,)).fetchone()
            if earlier:
                return tuple(json.loads(earlier[0])), datetime.fromisoformat(earlier[1])
            held = tuple(v for (v,) in conn.execute("SELECT version FROM keks WHERE name = ? ORDER BY version",
                                                    (name,)))
            versions = held or tuple(sorted(set(known_versions)))
            # secure_delete=ON: SQLite zeroes the deleted cells and freed pages in the file itself.
            conn.execute("DELETE FROM keks WHERE name = ?", (name,))
            now = clock.now()
            conn.execute("INSERT INTO destroyed (name, versions, destroyed_at) VALUES (?, ?, ?)",
                         (name, json.dumps(list(versions)), now.isoformat()))
            return versions, now

        versions, destroyed_at = self._write(work)
        if self._read("SELECT count(*) FROM keks WHERE name = ?", (name,))[0][0]:
            raise KeyStoreUnavailable(f"{name} is still in the {self.describe()} after its deletion")
        log.warning("key-encryption key %s destroyed in the %s", name, self.describe())
        return Receipt(self.backend, name, versions, destroyed_at)

    def state(self, scope: str) -> KeyState | None:
        name = self.key_name(scope)
        versions = tuple(v for (v,) in self._read("SELECT version FROM keks WHERE name = ? ORDER BY version",
                                                  (name,)))
        if versions:
            return KeyState(self.backend, name, versions)
        tombstone = self._tombstone(name)
        if tombstone is None:
            return None
        return KeyState(self.backend, name, tombstone[0], tombstone[1])

    def inventory(self) -> Inventory:
        return Inventory(live={n for (n,) in self._read("SELECT DISTINCT name FROM keks")},
                         destroyed={n for (n,) in self._read("SELECT name FROM destroyed")})

    def ping(self) -> None:
        self._read("SELECT 1")

    # -- the master key -------------------------------------------------------------------------

    def rewrap_master(self) -> int:
        """Re-wrap every KEK version under the newest master key; return how many moved."""
        newest = self.master.newest_version

        def work(conn):
            rows = conn.execute("SELECT name, version, master_version, wrapped FROM keks WHERE master_version != ?",
                                (newest,)).fetchall()
            for name, version, master_version, wrapped in rows:
                context = self._master_context(name, version)
                raw = self.master.unwrap(master_version, wrapped, context)
                conn.execute("UPDATE keks SET master_version = ?, wrapped = ? WHERE name = ? AND version = ?",
                             (*self.master.wrap(raw, context), name, version))
            return len(rows)

        if self._connect(create=False) is None:
            return 0
        return self._write(work)

    def check_master(self) -> None:
        """Unwrap one KEK per master version in use; raise KeyUnavailable naming a bad one."""
        for master_version, name, version, wrapped in self._read(
                "SELECT master_version, name, version, wrapped FROM keks GROUP BY master_version"):
            self.master.unwrap(master_version, wrapped, self._master_context(name, version))
