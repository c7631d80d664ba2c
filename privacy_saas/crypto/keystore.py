"""Key stores: where each scope's key-encryption key (KEK) lives, outside the application database.

Every scope (`tenant:<uuid>`, `controller`) has one KEK in a key store. Its data key and blind-index
key are stored in `data_keys` only wrapped by that KEK, so destroying the KEK in the store shreds
every copy of them at once: the live database, its replicas, dumps and backups.

- `local` (the embedded default): a SQLite file of its own, never the application database, each
  KEK version wrapped by the master key. Destroying a key deletes its rows with `secure_delete`
  (SQLite overwrites the freed bytes) in rollback-journal mode (no WAL keeps old pages), and leaves
  a tombstone: name, versions, when.
- `openbao`: one transit key per scope in OpenBao (or Vault), non-exportable, no plaintext backup,
  derived per context, so a wrapped key is bound to its scope, purpose and version as the local
  store binds it with AAD. The key never leaves the server; wrap, unwrap and rewrap are transit
  calls. Destroyed keys are recorded in a KV register, since transit forgets a deleted key entirely.

Key names carry ids only: `<prefix>-tenant-<uuid>`, `<prefix>-controller`. Nothing here logs or
raises key material; messages name scopes, key names and versions.
"""
from __future__ import annotations

import abc
import base64
import email.utils
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import hvac
import hvac.exceptions
import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy_saas import clock
from privacy_saas.crypto.errors import DecryptionError, KeyDestroyed, KeyStoreUnavailable, KeyUnavailable
from privacy_saas.crypto.providers import LocalKeyProvider

log = logging.getLogger(__name__)

BACKENDS = ("local", "openbao")
KEK_BYTES = 32
_NONCE_BYTES = 12
# Distinct from the master wrap label (providers.py) and the field label (envelope.py).
_KEK_WRAP_LABEL = b"privacy_saas/kek-wrap/v1|"


@dataclass(frozen=True)
class Receipt:
    """What a key store reports after destroying a scope's KEK."""

    backend: str
    key_name: str
    versions: tuple[int, ...]
    #: When the store confirmed the key is gone (its rows overwritten; OpenBao answering 404).
    destroyed_at: datetime
    #: OpenBao: the `Date` of the server's answer to the delete, in its own words.
    store_reported: str | None = None

    def as_dict(self) -> dict:
        """Return the receipt as JSON-ready data (it goes into the signed certificate)."""
        receipt = {"backend": self.backend, "key_name": self.key_name, "versions": list(self.versions),
                   "destroyed_at": self.destroyed_at.isoformat()}
        if self.store_reported:
            receipt["store_reported"] = self.store_reported
        return receipt


@dataclass(frozen=True)
class KeyState:
    """A scope's KEK as its store knows it: live versions, or when it was destroyed."""

    backend: str
    key_name: str
    versions: tuple[int, ...] = ()
    destroyed_at: datetime | None = None

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None


@dataclass
class Inventory:
    """Every key a store holds and every key it has destroyed (names only)."""

    live: set[str] = field(default_factory=set)
    destroyed: set[str] = field(default_factory=set)


class KeyStore(abc.ABC):
    """One key-encryption key per scope, held outside the application database."""

    backend: str = ""

    def __init__(self, prefix: str = "privacy-saas") -> None:
        self.prefix = prefix

    def key_name(self, scope: str) -> str:
        """Return the store's name for the KEK of `scope` (ids only, never personal data)."""
        if scope == "controller":
            return f"{self.prefix}-controller"
        # `tenant:<uuid>`, and other per-tenant scopes of the same shape (`delivery:<uuid>`, notices/).
        kind, _, ident = scope.partition(":")
        if not kind.isalpha() or not kind.islower():
            raise ValueError(f"unknown key scope {scope!r}")
        return f"{self.prefix}-{kind}-{uuid.UUID(ident)}"

    @abc.abstractmethod
    def create(self, scope: str) -> None:
        """Create the KEK of `scope` unless it exists; a destroyed one is never re-created."""

    @abc.abstractmethod
    def wrap(self, scope: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        """Encrypt `key` under the newest KEK version of `scope`, bound to `context`."""

    def unwrap(self, scope: str, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt one wrapped key."""
        return self.unwrap_many(scope, [(version, wrapped, context)])[0]

    @abc.abstractmethod
    def unwrap_many(self, scope: str, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes]:
        """Decrypt (version, wrapped, context) items of one scope, in one round trip where the store can."""

    @abc.abstractmethod
    def rotate(self, scope: str) -> int:
        """Add a KEK version to `scope`; return it. New wraps use it, older versions still unwrap."""

    @abc.abstractmethod
    def rewrap(self, scope: str, version: int, wrapped: bytes, context: bytes) -> tuple[int, bytes]:
        """Re-encrypt a wrapped key under the newest KEK version (in the store where it can)."""

    @abc.abstractmethod
    def destroy(self, scope: str, known_versions: Sequence[int] = ()) -> Receipt:
        """Destroy every version of the KEK of `scope`; idempotent (a second call returns the first receipt)."""

    @abc.abstractmethod
    def state(self, scope: str) -> KeyState | None:
        """Return what the store knows of the KEK of `scope`, or None if it never held it."""

    @abc.abstractmethod
    def inventory(self) -> Inventory:
        """Return the names of every live and every destroyed key (one or two round trips)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise KeyStoreUnavailable unless the store answers."""

    def describe(self) -> str:
        """Say where the store is (no secrets)."""
        return self.backend


# ---------------------------------------------------------------------------------- local ---

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


# -------------------------------------------------------------------------------- OpenBao ---

#: Errors that mean "the store did not answer usefully now": the request may succeed later.
_UNAVAILABLE = (requests.exceptions.RequestException, hvac.exceptions.VaultDown,
                hvac.exceptions.InternalServerError, hvac.exceptions.BadGateway,
                hvac.exceptions.RateLimitExceeded, hvac.exceptions.UnexpectedError)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class OpenBaoKeyStore(KeyStore):
    """One non-exportable transit key per scope in OpenBao (or HashiCorp Vault), through hvac."""

    backend = "openbao"

    def __init__(self, addr: str, token: str, transit_mount: str = "transit", kv_mount: str = "privacy-saas",
                 prefix: str = "privacy-saas", timeout: tuple[float, float] = (1.5, 5.0)):
        super().__init__(prefix)
        self.addr = addr.rstrip("/")
        self._token = token
        self.transit_mount = transit_mount
        self.kv_mount = kv_mount
        self.timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:
        # Never the token.
        return f"OpenBaoKeyStore({self.addr!r}, transit={self.transit_mount!r})"

    def describe(self) -> str:
        return f"OpenBao at {self.addr} (mount {self.transit_mount})"

    def _client(self) -> hvac.Client:
        # requests sessions are neither fork- nor thread-safe: one per thread of each process.
        client = getattr(self._local, "client", None)
        if client is None or self._local.pid != os.getpid():
            # Short timeouts: an outage must fail a request in seconds, not hang it.
            client = hvac.Client(url=self.addr, token=self._token, timeout=self.timeout)
            self._local.client, self._local.pid = client, os.getpid()
        return client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _UNAVAILABLE as error:
            raise KeyStoreUnavailable(f"{self.describe()} did not answer ({what}: {type(error).__name__})") from None
        except hvac.exceptions.Forbidden:
            raise KeyStoreUnavailable(f"{self.describe()} refused the token ({what}: permission denied)") from None

    @property
    def _transit(self):
        return self._client().secrets.transit

    def _tombstone_path(self, name: str) -> str:
        return f"destroyed/{name}"

    def _tombstone(self, name: str) -> tuple[tuple[int, ...], datetime] | None:
        try:
            data = self._call("read register", self._client().secrets.kv.v1.read_secret,
                              self._tombstone_path(name), mount_point=self.kv_mount)["data"]
        except hvac.exceptions.InvalidPath:
            return None
        return tuple(data["versions"]), datetime.fromisoformat(data["destroyed_at"])

    def _read_key(self, name: str) -> dict | None:
        try:
            return self._call("read key", self._transit.read_key, name, mount_point=self.transit_mount)["data"]
        except hvac.exceptions.InvalidPath:
            return None

    def _absent(self, scope: str) -> Exception:
        """The error for a key the store does not hold: destroyed (registered) or unknown."""
        name = self.key_name(scope)
        if self._tombstone(name) is not None:
            return KeyDestroyed(f"the key-encryption key of {scope} has been destroyed")
        return KeyUnavailable(f"key-encryption key {name} is not in {self.describe()}")

    @staticmethod
    def _parse(ciphertext: str) -> tuple[int, bytes]:
        # "vault:v3:base64...": the version is the KEK version that wrapped it.
        _, version, _ = ciphertext.split(":", 2)
        return int(version[1:]), ciphertext.encode("ascii")

    def create(self, scope: str) -> None:
        name = self.key_name(scope)
        if self._tombstone(name) is not None:
            raise KeyDestroyed(f"the key-encryption key of {scope} was destroyed; it is never re-created")
        # Creating an existing key changes nothing, so a retried creation is harmless.
        self._call("create key", self._transit.create_key, name, key_type="aes256-gcm96", derived=True,
                   exportable=False, allow_plaintext_backup=False, mount_point=self.transit_mount)

    def wrap(self, scope: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        name = self.key_name(scope)
        # Transit's encrypt creates a missing key ("upsert"): a destroyed key would come back, fresh and
        # empty. So look first (wraps are rare: scope creation, rotation, migration), and grant the
        # application's token `update` but not `create` on transit/encrypt/* (README).
        if self._read_key(name) is None:
            raise self._absent(scope)
        answer = self._call("encrypt", self._transit.encrypt_data, name, plaintext=_b64(key),
                            context=_b64(context), mount_point=self.transit_mount)
        return self._parse(answer["data"]["ciphertext"])

    def unwrap_many(self, scope: str, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes]:
        name = self.key_name(scope)
        batch = [{"ciphertext": wrapped.decode("ascii"), "context": _b64(context)} for _v, wrapped, context in items]
        try:
            answer = self._call("decrypt", self._transit.decrypt_data, name, ciphertext=batch[0]["ciphertext"],
                                batch_input=batch, mount_point=self.transit_mount)
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath):
            # Transit says 400 "encryption key not found" for a deleted key: tell that apart from a bad wrap.
            if self._read_key(name) is None:
                raise self._absent(scope) from None
            raise DecryptionError(f"{self.describe()} cannot unwrap a data key of {scope}") from None
        results = answer["data"]["batch_results"]
        if any("error" in item and item["error"] for item in results):
            raise DecryptionError(f"{self.describe()} cannot unwrap a data key of {scope}")
        return [base64.b64decode(item["plaintext"]) for item in results]

    def rotate(self, scope: str) -> int:
        name = self.key_name(scope)
        try:
            self._call("rotate", self._transit.rotate_key, name, mount_point=self.transit_mount)
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath):
            raise self._absent(scope) from None
        return self._read_key(name)["latest_version"]

    def rewrap(self, scope: str, version: int, wrapped: bytes, context: bytes) -> tuple[int, bytes]:
        # Transit re-encrypts inside the server: the data key is never in our memory.
        answer = self._call("rewrap", self._transit.rewrap_data, self.key_name(scope),
                            ciphertext=wrapped.decode("ascii"), context=_b64(context), mount_point=self.transit_mount)
        return self._parse(answer["data"]["ciphertext"])

    def destroy(self, scope: str, known_versions: Sequence[int] = ()) -> Receipt:
        name = self.key_name(scope)
        earlier = self._tombstone(name)
        if earlier is not None:
            return Receipt(self.backend, name, earlier[0], earlier[1])
        key = self._read_key(name)
        versions = tuple(sorted(int(v) for v in key["keys"])) if key else tuple(sorted(set(known_versions)))
        reported = None
        if key is not None:
            self._call("allow deletion", self._transit.update_key_configuration, name, deletion_allowed=True,
                       mount_point=self.transit_mount)
            response = self._call("delete key", self._transit.delete_key, name, mount_point=self.transit_mount)
            reported = _http_date(getattr(response, "headers", {}).get("Date"))
        # Confirmed only when the store itself says the key is not there.
        if self._read_key(name) is not None:
            raise KeyStoreUnavailable(f"{name} is still in {self.describe()} after its deletion")
        destroyed_at = clock.now()
        # The register is written after the delete is confirmed: it never claims a live key is gone.
        try:
            self._call("write register", self._client().secrets.kv.v1.create_or_update_secret,
                       self._tombstone_path(name),
                       {"versions": list(versions), "destroyed_at": destroyed_at.isoformat()},
                       mount_point=self.kv_mount)
        except hvac.exceptions.InvalidPath:
            # Deleted, but not registered: the retry finds the key gone and registers it then.
            raise KeyUnavailable(f"{name} is deleted, but the register of destroyed keys (KV mount "
                                 f"{self.kv_mount!r}) does not exist in {self.describe()}") from None
        log.warning("key-encryption key %s destroyed in %s", name, self.describe())
        return Receipt(self.backend, name, versions, destroyed_at, reported)

    def state(self, scope: str) -> KeyState | None:
        name = self.key_name(scope)
        key = self._read_key(name)
        if key is not None:
            return KeyState(self.backend, name, tuple(sorted(int(v) for v in key["keys"])))
        tombstone = self._tombstone(name)
        if tombstone is None:
            return None
        return KeyState(self.backend, name, tombstone[0], tombstone[1])

    def _list(self, what: str, fn, *args, **kwargs) -> list[str]:
        try:
            return self._call(what, fn, *args, **kwargs)["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            return []

    def inventory(self) -> Inventory:
        live = self._list("list keys", self._transit.list_keys, mount_point=self.transit_mount)
        destroyed = self._list("list register", self._client().secrets.kv.v1.list_secrets, "destroyed",
                               mount_point=self.kv_mount)
        prefix = f"{self.prefix}-"
        return Inventory(live={n for n in live if n.startswith(prefix)},
                         destroyed={n for n in destroyed if n.startswith(prefix)})

    def ping(self) -> None:
        health = self._call("health", self._client().sys.read_health_status, method="GET")
        if not isinstance(health, dict) or health.get("sealed") or not health.get("initialized", True):
            raise KeyStoreUnavailable(f"{self.describe()} is sealed or not initialised")


def _http_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(timezone.utc).isoformat()
    except (TypeError, ValueError):
        return None


def build_stores(config: dict, master: LocalKeyProvider) -> dict[str, KeyStore]:
    """Return every key store this configuration can reach: `local` always, `openbao` when OPENBAO_ADDR is set."""
    prefix = config["KEYSTORE_PREFIX"]
    stores: dict[str, KeyStore] = {"local": LocalKeyStore(config["KEYSTORE_PATH"], master, prefix)}
    if config.get("OPENBAO_ADDR"):
        timeout = (float(config["OPENBAO_CONNECT_TIMEOUT"]), float(config["OPENBAO_READ_TIMEOUT"]))
        stores["openbao"] = OpenBaoKeyStore(config["OPENBAO_ADDR"], config.get("OPENBAO_TOKEN") or "",
                                            config["OPENBAO_TRANSIT_MOUNT"], config["OPENBAO_KV_MOUNT"], prefix,
                                            timeout)
    return stores
