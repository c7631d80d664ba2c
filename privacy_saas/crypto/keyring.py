"""Per-scope data keys: create, cache unwrapped, rotate, destroy (crypto-shred).

A scope is `tenant:<uuid>` (processor data of one tenant) or `controller` (the vendor's own
data). Its data keys are stored in `data_keys` wrapped by the scope's key-encryption key (KEK),
which lives in a key store outside the database (keystore/; `key_custody` says which one).
Rows written before key stores existed are wrapped by the master key directly and stay readable
until `privacy-saas keys migrate` moves their scope.

Unwrapped keys live only in this process's TTL cache, and each cache entry is re-checked against
`data_keys` every few seconds, so a key destroyed by another process stops working here within
`recheck` seconds. While an entry is cached the key store is not asked again: a store outage
stops only scopes whose keys are not cached (their reads and writes fail with KeyStoreUnavailable).

The app's keyring is built from the configuration, and checked against the stored keys, at start (startup.py).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from privacy_saas import clock
from privacy_saas.crypto.blind_index import derive_index_key, email_bidx, keyed_hash
from privacy_saas.crypto.cache import TTLCache
from privacy_saas.crypto.envelope import FieldCipher
from privacy_saas.crypto.errors import CryptoError, KeyDestroyed, KeyUnavailable
from privacy_saas.crypto.keystore import KeyStore, LocalKeyStore, Receipt
from privacy_saas.crypto.models import DataKey, KeyCustody
from privacy_saas.crypto.providers import LocalKeyProvider, new_data_key
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

CONTROLLER_SCOPE = "controller"
#: Scopes per query when keys are read in bulk (bound parameters stay well below the drivers' limits).
SCOPES_PER_QUERY = 1000


def tenant_scope(tenant_id: uuid.UUID | str) -> str:
    """Return the key scope of a tenant."""
    return f"tenant:{tenant_id}"


def key_context(scope: str, purpose: str, version: int) -> bytes:
    """Return what a data key's wrapping is bound to: its row (a wrapped key copied to another scope will not unwrap)."""
    return f"{scope}:{purpose}:v{version}".encode()


@dataclass
class ScopeKeys:
    """The unwrapped, live keys of one scope."""

    ciphers: dict[int, FieldCipher]
    newest: int | None
    destroyed: frozenset[int]
    index_key: bytes | None
    stamp: tuple = field(default=())

    def __repr__(self) -> str:
        return f"ScopeKeys(versions={sorted(self.ciphers)}, destroyed={sorted(self.destroyed)})"


@dataclass(frozen=True)
class Shred:
    """What destroying a scope's keys did: the data key ids, and each key store's receipt."""

    key_ids: list[str]
    receipts: list[Receipt]
    custody: str
    #: Master key versions that wrapped the scope's data keys directly (the layout before key stores).
    master_versions: list[int]


class Keyring:
    """Loads, caches and manages a scope's data keys through its key store."""

    def __init__(self, provider: LocalKeyProvider, stores: dict[str, KeyStore], backend: str,
                 ttl: float = 300.0, recheck: float = 5.0, cache_size: int = 1024):
        if backend not in stores:
            raise ValueError(f"key store {backend!r} is not configured")
        self.provider = provider
        self.stores = stores
        self.backend = backend
        self._cache: TTLCache[str, ScopeKeys] = TTLCache(ttl=ttl, recheck=recheck, maxsize=cache_size)

    def __repr__(self) -> str:
        return f"Keyring({self.backend}, {self.provider!r}, cached={len(self._cache)})"

    @property
    def store(self) -> KeyStore:
        """Return the configured key store, where new scopes get their KEK."""
        return self.stores[self.backend]

    def store_for(self, backend: str) -> KeyStore:
        """Return the store named `backend`, or raise KeyUnavailable if this process cannot reach it."""
        store = self.stores.get(backend)
        if store is None:
            raise KeyUnavailable(f"key store {backend!r} is not configured in this process (OPENBAO_ADDR)")
        return store

    # -- reading --------------------------------------------------------------------------

    def _rows(self, scope: str):
        return self._rows_by_scope([scope]).get(scope, [])

    def _rows_by_scope(self, scopes: list[str]) -> dict[str, list]:
        """Return the data_keys rows of each of `scopes` that has any, one query per SCOPES_PER_QUERY."""
        found: dict[str, list] = {}
        for start in range(0, len(scopes), SCOPES_PER_QUERY):
            for row in db.session.execute(
                    sa.select(DataKey.scope, DataKey.purpose, DataKey.version, DataKey.master_version,
                              DataKey.kek_version, DataKey.wrapped, DataKey.destroyed_at, KeyCustody.backend)
                    .outerjoin(KeyCustody, KeyCustody.scope == DataKey.scope)
                    .where(DataKey.scope.in_(scopes[start:start + SCOPES_PER_QUERY]))):
                found.setdefault(row.scope, []).append(row)
        return found

    @staticmethod
    def _stamp(rows) -> tuple:
        return tuple(sorted((r.purpose, r.version, r.master_version or 0, r.kek_version or 0, r.backend or "",
                             r.destroyed_at is None) for r in rows))

    def _unwrap_rows(self, scope: str, rows) -> list[bytes]:
        """Unwrap live rows: master-wrapped ones here, the rest in one call to the scope's store."""
        plain: dict[int, bytes] = {}
        stored = []
        for n, row in enumerate(rows):
            context = key_context(scope, row.purpose, row.version)
            if row.kek_version is None:
                plain[n] = self.provider.unwrap(row.master_version, row.wrapped, context)
            else:
                stored.append((n, (row.kek_version, row.wrapped, context)))
        if stored:
            store = self.store_for(rows[stored[0][0]].backend)
            for (n, _item), raw in zip(stored, store.unwrap_many(scope, [item for _n, item in stored])):
                plain[n] = raw
        return [plain[n] for n in range(len(rows))]

    def _load(self, scope: str, rows=None) -> ScopeKeys:
        rows = self._rows(scope) if rows is None else rows
        if not rows:
            raise KeyUnavailable(f"no data key exists for scope {scope}")
        live = [row for row in rows if row.destroyed_at is None]
        destroyed = frozenset(row.version for row in rows if row.destroyed_at is not None and row.purpose == "data")
        ciphers: dict[int, FieldCipher] = {}
        index_key = None
        for row, raw in zip(live, self._unwrap_rows(scope, live)):
            if row.purpose == "data":
                ciphers[row.version] = FieldCipher(raw, row.version)
            else:
                index_key = derive_index_key(raw)
        keys = ScopeKeys(ciphers, max(ciphers) if ciphers else None, destroyed, index_key, self._stamp(rows))
        self._cache.put(scope, keys)
        return keys

    def keys(self, scope: str) -> ScopeKeys:
        """Return the live keys of `scope`, re-checked against the database every few seconds."""
        hit = self._cache.get(scope)
        if hit is None:
            return self._load(scope)
        keys, needs_recheck = hit
        if needs_recheck:
            rows = self._rows(scope)
            if self._stamp(rows) != keys.stamp:
                return self._load(scope, rows)
            self._cache.mark_checked(scope)
        return keys

    def writer(self, scope: str) -> FieldCipher:
        """Return the cipher new values of `scope` are sealed with (its newest live version)."""
        keys = self.keys(scope)
        if keys.newest is None:
            raise KeyDestroyed(f"the data keys of {scope} have been destroyed")
        return keys.ciphers[keys.newest]

    def reader(self, scope: str, version: int) -> FieldCipher:
        """Return the cipher for data key `version` of `scope`."""
        keys = self.keys(scope)
        cipher = keys.ciphers.get(version)
        if cipher is not None:
            return cipher
        if version in keys.destroyed or keys.newest is None:
            raise KeyDestroyed(f"data key version {version} of {scope} has been destroyed")
        # A version newer than our cache: another process rotated just now.
        keys = self._load(scope)
        if version in keys.ciphers:
            return keys.ciphers[version]
        raise KeyUnavailable(f"data key version {version} of {scope} does not exist")

    def email_index(self, scope: str, email: str) -> bytes:
        """Return the blind index of an e-mail address in `scope`."""
        keys = self.keys(scope)
        if keys.index_key is None:
            raise KeyDestroyed(f"the index key of {scope} has been destroyed")
        return email_bidx(keys.index_key, email)

    def blind_indexes(self, pairs) -> dict[tuple[str, str], bytes]:
        """Return the blind index of each (scope, e-mail) of `pairs` whose scope still has its index key.

        For look-ups across many scopes (a DSR in every tenant, a plan over every tenant file): the
        scopes' keys are re-checked, or loaded, with one query per SCOPES_PER_QUERY scopes, where
        `email_index` asks once per scope. A scope missing from the answer has no live index key.
        """
        pairs = list(pairs)
        keys = {}
        for scope, rows in self._rows_by_scope(sorted({scope for scope, _ in pairs})).items():
            hit = self._cache.get(scope)
            if hit is not None and hit[0].stamp == self._stamp(rows):
                self._cache.mark_checked(scope)
                keys[scope] = hit[0]
            else:
                try:
                    keys[scope] = self._load(scope, rows)
                except CryptoError as error:  # its keys cannot be read here: searchable nowhere
                    log.error("keys of %s could not be loaded: %s", scope, error)
        return {(scope, email): email_bidx(keys[scope].index_key, email)
                for scope, email in pairs if scope in keys and keys[scope].index_key is not None}

    def keyed_hash(self, scope: str, value: str) -> bytes:
        """Return a full-length keyed hash of `value` under the scope's index key."""
        keys = self.keys(scope)
        if keys.index_key is None:
            raise KeyDestroyed(f"the index key of {scope} has been destroyed")
        return keyed_hash(keys.index_key, value)

    # -- writing --------------------------------------------------------------------------

    def custody(self, scope: str) -> KeyCustody | None:
        """Return the custody record of `scope` (None: its keys predate key stores)."""
        return db.session.get(KeyCustody, scope)

    def _add(self, scope: str, purpose: str, version: int, custody: KeyCustody | None) -> DataKey:
        context = key_context(scope, purpose, version)
        if custody is None:
            # A scope still on the old layout stays there whole until `keys migrate` moves it.
            master_version, wrapped = self.provider.wrap(new_data_key(), context)
            key = DataKey(scope=scope, purpose=purpose, version=version, master_version=master_version,
                          wrapped=wrapped)
        else:
            kek_version, wrapped = self.store_for(custody.backend).wrap(scope, new_data_key(), context)
            key = DataKey(scope=scope, purpose=purpose, version=version, kek_version=kek_version, wrapped=wrapped)
        db.session.add(key)
        return key

    def create_scope(self, scope: str) -> None:
        """Create the scope's KEK in the configured store and version 1 of its data and index keys."""
        exists = db.session.scalar(sa.select(sa.func.count()).select_from(DataKey).where(DataKey.scope == scope))
        if exists:
            return
        # The store is not part of this transaction: if it rolls back, the KEK stays behind wrapping
        # nothing (harmless, and a retry reuses it).
        self.store.create(scope)
        custody = KeyCustody(scope=scope, backend=self.backend, key_name=self.store.key_name(scope),
                             since=clock.now())
        db.session.add(custody)
        self._add(scope, "data", 1, custody)
        self._add(scope, "index", 1, custody)
        db.session.flush()
        self._cache.pop(scope)
        log.info("data keys created for %s under %s", scope, custody.key_name)

    def add_version(self, scope: str) -> int:
        """Add a new data key version to `scope` and return it; new writes use it."""
        current = db.session.scalar(
            sa.select(sa.func.max(DataKey.version)).where(DataKey.scope == scope, DataKey.purpose == "data"))
        if current is None:
            raise KeyUnavailable(f"no data key exists for scope {scope}")
        self._add(scope, "data", current + 1, self.custody(scope))
        db.session.flush()
        self._cache.pop(scope)
        return current + 1

    def destroy_versions(self, scope: str, versions=None, purposes=("data",)) -> list[str]:
        """Destroy key versions of `scope` (all when `versions` is None); return their key ids."""
        query = sa.select(DataKey).where(DataKey.scope == scope, DataKey.destroyed_at.is_(None),
                                         DataKey.purpose.in_(purposes))
        if versions is not None:
            query = query.where(DataKey.version.in_(list(versions)))
        destroyed = []
        now = clock.now()
        for key in db.session.scalars(query.with_for_update()):
            key.wrapped = None
            key.destroyed_at = now
            destroyed.append(key.key_id)
        db.session.flush()
        self._cache.pop(scope)
        return destroyed

    def destroy_scope(self, scope: str) -> Shred:
        """Crypto-shred `scope`: destroy its KEK in every store that holds one, then its wrapped keys.

        The stores go first: if one does not answer, KeyStoreUnavailable leaves the database untouched
        and the caller retries; no receipt, no certificate, until every store confirmed.
        """
        custody = self.custody(scope)
        rows = db.session.execute(sa.select(DataKey.kek_version, DataKey.master_version)
                                  .where(DataKey.scope == scope)).all()
        known = sorted({r.kek_version for r in rows if r.kek_version is not None})
        masters = sorted({r.master_version for r in rows if r.master_version is not None})
        receipts = []
        for backend, store in self.stores.items():
            holds = custody is not None and (custody.backend == backend or custody.previous == backend)
            state = store.state(scope) if holds or backend == "local" else None
            if holds or state is not None:
                receipts.append(store.destroy(scope, known if custody and custody.backend == backend else ()))
        if custody is not None:
            custody.destroyed_at = max(r.destroyed_at for r in receipts)
            custody.receipts = [r.as_dict() for r in receipts]
        key_ids = self.destroy_versions(scope, purposes=("data", "index"))
        log.warning("keys of %s destroyed (%d data key versions, %d key-store keys)", scope, len(key_ids),
                    len(receipts))
        return Shred(key_ids, receipts, custody.backend if custody else "master", masters)

    def rotate_kek(self, scope: str) -> tuple[int, int]:
        """Add a KEK version in the scope's store and re-wrap its live keys under it; return (version, rows)."""
        custody = self.custody(scope)
        if custody is None:
            raise KeyUnavailable(f"{scope} has no key-store key yet: run `privacy-saas keys migrate` first")
        store = self.store_for(custody.backend)
        version = store.rotate(scope)
        live = db.session.scalars(sa.select(DataKey).where(DataKey.scope == scope, DataKey.destroyed_at.is_(None))
                                  .with_for_update()).all()
        for key in live:
            key.kek_version, key.wrapped = store.rewrap(scope, key.kek_version, key.wrapped,
                                                        key_context(scope, key.purpose, key.version))
        db.session.flush()
        self._cache.pop(scope)
        return version, len(live)

    def move_scope(self, scope: str, backend: str) -> str | None:
        """Re-wrap every live key of `scope` under its KEK in store `backend`; return the custody it left.

        Returns None when the scope is already there. The KEK it leaves stays where it was (database
        backups taken before the move need it); the scope's purge destroys it with the new one.
        """
        target = self.store_for(backend)
        custody = self.custody(scope)
        if custody is not None and custody.backend == backend:
            return None
        live = db.session.scalars(sa.select(DataKey).where(DataKey.scope == scope, DataKey.destroyed_at.is_(None))
                                  .order_by(DataKey.purpose, DataKey.version).with_for_update()).all()
        masters = sorted({k.master_version for k in live if k.master_version is not None})
        previous = custody.backend if custody is not None else "master:" + ",".join(f"v{v}" for v in masters)
        # The same rows as Keyring._rows sees them (with their custody), in the same order as `live`.
        rows = sorted((r for r in self._rows(scope) if r.destroyed_at is None), key=lambda r: (r.purpose, r.version))
        raws = self._unwrap_rows(scope, rows)
        target.create(scope)
        for key, raw in zip(live, raws):
            key.kek_version, key.wrapped = target.wrap(scope, raw, key_context(scope, key.purpose, key.version))
            key.master_version = None
        if custody is None:
            custody = KeyCustody(scope=scope)
            db.session.add(custody)
        custody.backend, custody.key_name = backend, target.key_name(scope)
        custody.since, custody.previous = clock.now(), previous
        db.session.flush()
        self._cache.pop(scope)
        return previous

    def rewrap_all(self) -> int:
        """Re-wrap under the newest master key what it wraps: old-layout data keys and local KEKs."""
        newest = self.provider.newest_version
        moved = 0
        query = sa.select(DataKey).where(DataKey.destroyed_at.is_(None), DataKey.master_version.is_not(None),
                                         DataKey.master_version != newest)
        for key in db.session.scalars(query.with_for_update()):
            context = key_context(key.scope, key.purpose, key.version)
            raw = self.provider.unwrap(key.master_version, key.wrapped, context)
            key.master_version, key.wrapped = self.provider.wrap(raw, context)
            moved += 1
        db.session.flush()
        moved += self.local_store.rewrap_master()
        self._cache.clear()
        return moved

    @property
    def local_store(self) -> LocalKeyStore:
        return self.stores["local"]


def keyring() -> Keyring:
    """Return the current app's keyring."""
    return current_app.extensions["privacy_saas.keyring"]
