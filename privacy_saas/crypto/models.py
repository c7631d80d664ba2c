"""Wrapped data keys: the only place key material is stored, and only wrapped."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, table
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db

PURPOSES = ("data", "index")
CUSTODY_BACKENDS = ("local", "openbao")


class DataKey(db.Model):
    """One version of a scope's data key (or blind-index key), wrapped under a master key."""

    __tablename__ = "data_keys"
    __table_args__ = (
        sa.UniqueConstraint("scope", "purpose", "version"),
        choice("purpose", "purpose", PURPOSES),
        sa.CheckConstraint("(wrapped IS NULL) = (destroyed_at IS NOT NULL)", name="destroyed_has_no_key"),
        sa.CheckConstraint("(master_version IS NULL) <> (kek_version IS NULL)", name="one_wrapping_key"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="key_management", retention="key_material")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: `tenant:<uuid>` or `controller`.
    scope: Mapped[str] = mapped_column(sa.String(64), index=True, info=not_personal())
    #: `data` encrypts fields; `index` keys the blind indexes (not rotated with the data key).
    purpose: Mapped[str] = mapped_column(sa.String(8), info=not_personal())
    #: Data key version, written into every envelope it seals.
    version: Mapped[int] = mapped_column(sa.Integer, info=not_personal())
    #: Version of the scope's key-encryption key (in its key store, see KeyCustody) that wraps it.
    kek_version: Mapped[int | None] = mapped_column(sa.Integer, info=not_personal())
    #: Master key version that wraps it directly: the layout before key stores (migration 0012),
    #: readable until `privacy-saas keys migrate` moves the scope into a key store.
    master_version: Mapped[int | None] = mapped_column(sa.Integer, info=not_personal())
    #: The wrapped key; NULL once destroyed (crypto-shredded).
    wrapped: Mapped[bytes | None] = mapped_column(sa.LargeBinary, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    destroyed_at: Mapped[datetime | None] = mapped_column(info=not_personal())

    def __repr__(self) -> str:
        return f"<DataKey {self.scope} {self.purpose} v{self.version}>"

    @property
    def key_id(self) -> str:
        """Return a stable public name for this key version (used in certificates)."""
        return f"{self.scope}/{self.purpose}/v{self.version}"


class KeyCustody(db.Model):
    """Which key store holds a scope's key-encryption key, since when; kept after its destruction."""

    __tablename__ = "key_custody"
    __table_args__ = (choice("backend", "backend", CUSTODY_BACKENDS), distribution(VENDOR_LOCAL))
    # The proof of a shred outlives it: certificates and `keys status` read it after the purge.
    __datamap__ = table(scope="operational", purpose="key_management", retention="platform_record")

    #: `tenant:<uuid>` or `controller`.
    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True, info=not_personal())
    #: `local` (key-store file) or `openbao` (transit).
    backend: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    #: The key's name in the store: ids only, e.g. `privacy-saas-tenant-<uuid>`.
    key_name: Mapped[str] = mapped_column(sa.String(128), info=not_personal())
    #: Since when this store's key wraps the scope's data keys: database backups taken before it hold
    #: them wrapped by the custody named in `previous`.
    since: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: The custody before a `keys migrate` (`master:v1`, `local`), or NULL for a scope born in this store.
    previous: Mapped[str | None] = mapped_column(sa.String(32), info=not_personal())
    #: When the store confirmed the key's destruction (from its receipt).
    destroyed_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: The store's receipts, one per store that held a key of this scope (no key material).
    receipts: Mapped[list | None] = mapped_column(sa.JSON, info=not_personal())

    def __repr__(self) -> str:
        return f"<KeyCustody {self.scope} {self.backend}>"


class KeyRotation(db.Model):
    """Progress of re-encrypting a scope's rows from older data key versions to `to_version`."""

    __tablename__ = "key_rotations"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="key_management", retention="platform_record")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    scope: Mapped[str] = mapped_column(sa.String(64), index=True, info=not_personal())
    to_version: Mapped[int] = mapped_column(sa.Integer, info=not_personal())
    #: `table` of the last batch committed, and the last row id it reached (checkpoint).
    table_name: Mapped[str | None] = mapped_column(sa.String(64), info=not_personal())
    #: A cursor over row ids, not a reference: nothing resolves it to a person.
    last_id: Mapped[uuid.UUID | None] = mapped_column(info=not_personal())
    rows_done: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())
    started_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    finished_at: Mapped[datetime | None] = mapped_column(info=not_personal())
