"""What every key store does: one key-encryption key (KEK) per scope, outside the application database."""
from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


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
