"""Per-scope data keys: create, cache unwrapped, rotate, destroy (crypto-shred).

A scope is `tenant:<uuid>` (processor data of one tenant) or `controller` (the
vendor's own data). Unwrapped keys live only in this process's TTL cache, and each
cache entry is re-checked against `data_keys` every few seconds, so a key destroyed
by another process stops working here within `recheck` seconds.
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
from privacy_saas.crypto.errors import KeyDestroyed, KeyUnavailable
from privacy_saas.crypto.models import DataKey
from privacy_saas.crypto.providers import KeyProvider, LocalKeyProvider, new_data_key, parse_master_keys
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

CONTROLLER_SCOPE = "controller"


def tenant_scope(tenant_id: uuid.UUID | str) -> str:
    """Return the key scope of a tenant."""
    return f"tenant:{tenant_id}"


def _context(scope: str, purpose: str, version: int) -> bytes:
    # Binds a wrapped key to its row: a wrapped key copied to another scope will not unwrap.
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


class Keyring:
    """Loads, caches and manages wrapped data keys through a KeyProvider."""

    def __init__(self, provider: KeyProvider, ttl: float = 300.0, recheck: float = 5.0):
        self.provider = provider
        self._cache: TTLCache[str, ScopeKeys] = TTLCache(ttl=ttl, recheck=recheck)

    def __repr__(self) -> str:
        return f"Keyring({self.provider!r}, cached={len(self._cache)})"

    # -- reading --------------------------------------------------------------------------

    def _rows(self, scope: str):
        return db.session.execute(
            sa.select(DataKey.purpose, DataKey.version, DataKey.master_version, DataKey.wrapped,
                      DataKey.destroyed_at).where(DataKey.scope == scope)
        ).all()

    @staticmethod
    def _stamp(rows) -> tuple:
        return tuple(sorted((r.purpose, r.version, r.master_version, r.destroyed_at is None) for r in rows))

    def _load(self, scope: str, rows=None) -> ScopeKeys:
        rows = self._rows(scope) if rows is None else rows
        if not rows:
            raise KeyUnavailable(f"no data key exists for scope {scope}")
        ciphers: dict[int, FieldCipher] = {}
        destroyed: set[int] = set()
        index_key = None
        for row in rows:
            if row.destroyed_at is not None:
                if row.purpose == "data":
                    destroyed.add(row.version)
                continue
            raw = self.provider.unwrap(row.master_version, row.wrapped,
                                       _context(scope, row.purpose, row.version))
            if row.purpose == "data":
                ciphers[row.version] = FieldCipher(raw, row.version)
            else:
                index_key = derive_index_key(raw)
        keys = ScopeKeys(ciphers, max(ciphers) if ciphers else None, frozenset(destroyed), index_key,
                         self._stamp(rows))
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

    def keyed_hash(self, scope: str, value: str) -> bytes:
        """Return a full-length keyed hash of `value` under the scope's index key."""
        keys = self.keys(scope)
        if keys.index_key is None:
            raise KeyDestroyed(f"the index key of {scope} has been destroyed")
        return keyed_hash(keys.index_key, value)

    # -- writing --------------------------------------------------------------------------

    def _add(self, scope: str, purpose: str, version: int) -> DataKey:
        master_version, wrapped = self.provider.wrap(new_data_key(), _context(scope, purpose, version))
        key = DataKey(scope=scope, purpose=purpose, version=version,
                      master_version=master_version, wrapped=wrapped)
        db.session.add(key)
        return key

    def create_scope(self, scope: str) -> None:
        """Create version 1 of the data and index keys of `scope`, unless they exist."""
        exists = db.session.scalar(sa.select(sa.func.count()).select_from(DataKey).where(DataKey.scope == scope))
        if exists:
            return
        self._add(scope, "data", 1)
        self._add(scope, "index", 1)
        db.session.flush()
        self._cache.pop(scope)
        log.info("data keys created for %s", scope)

    def add_version(self, scope: str) -> int:
        """Add a new data key version to `scope` and return it; new writes use it."""
        current = db.session.scalar(
            sa.select(sa.func.max(DataKey.version)).where(DataKey.scope == scope, DataKey.purpose == "data"))
        if current is None:
            raise KeyUnavailable(f"no data key exists for scope {scope}")
        self._add(scope, "data", current + 1)
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

    def destroy_scope(self, scope: str) -> list[str]:
        """Crypto-shred `scope`: destroy every data and index key version."""
        destroyed = self.destroy_versions(scope, purposes=("data", "index"))
        log.warning("data keys of %s destroyed (%d versions)", scope, len(destroyed))
        return destroyed

    def rewrap_all(self) -> int:
        """Re-wrap every live key under the newest master key; returns how many moved."""
        newest = self.provider.newest_version
        moved = 0
        query = sa.select(DataKey).where(DataKey.destroyed_at.is_(None), DataKey.master_version != newest)
        for key in db.session.scalars(query.with_for_update()):
            context = _context(key.scope, key.purpose, key.version)
            raw = self.provider.unwrap(key.master_version, key.wrapped, context)
            key.master_version, key.wrapped = self.provider.wrap(raw, context)
            moved += 1
        db.session.flush()
        self._cache.clear()
        return moved

    def check_master_keys(self) -> None:
        """Unwrap one live key per master version in use; raise KeyUnavailable naming a bad one."""
        inspector = sa.inspect(db.engine)
        if not inspector.has_table(DataKey.__tablename__):
            return
        live = DataKey.destroyed_at.is_(None)
        versions = db.session.scalars(sa.select(DataKey.master_version).where(live).distinct()).all()
        for version in versions:
            row = db.session.execute(
                sa.select(DataKey.scope, DataKey.purpose, DataKey.version, DataKey.wrapped)
                .where(live, DataKey.master_version == version).limit(1)
            ).one()
            self.provider.unwrap(version, row.wrapped, _context(row.scope, row.purpose, row.version))


def init_keyring(app) -> Keyring:
    """Build the app's keyring from PRIVACY_SAAS_MASTER_KEYS."""
    try:
        master_keys = parse_master_keys(app.config["PRIVACY_SAAS_MASTER_KEYS"])
    except ValueError as exc:
        raise RuntimeError(f"PRIVACY_SAAS_MASTER_KEYS is invalid: {exc}") from None
    keyring = Keyring(LocalKeyProvider(master_keys),
                      recheck=app.config.get("PRIVACY_SAAS_KEY_RECHECK_SECONDS", 5.0))
    app.extensions["privacy_saas.keyring"] = keyring
    return keyring


def keyring() -> Keyring:
    """Return the current app's keyring."""
    return current_app.extensions["privacy_saas.keyring"]
