"""Encrypted model attributes.

A SQLAlchemy bind processor sees one value, never its row, so it cannot bind the
ciphertext to table, column, tenant and row id. Encryption therefore happens in an
attribute descriptor (`Encrypted`) over a binary column whose type (`Ciphertext`)
refuses anything that is not a sealed envelope: plaintext can never reach the database.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import mapped_column

from privacy_saas.crypto.envelope import FORMAT_VERSION, build_aad, decode_value, encode_value, key_version_of
from privacy_saas.crypto.keyring import keyring
from privacy_saas.db import new_id

#: Every (model class, attribute name) holding encrypted values; key rotation walks it.
REGISTRY: list[tuple[type, str]] = []


class Ciphertext(sa.types.TypeDecorator):
    """A binary column that accepts only sealed envelopes."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, (bytes, bytearray, memoryview)) or not value or value[0] != FORMAT_VERSION:
            raise TypeError("refusing to store a value that is not a sealed envelope")
        return bytes(value)

    def process_result_value(self, value, dialect):
        return bytes(value) if value is not None else None


def ciphertext_column(name: str, info: dict):
    """Return the mapped column that stores the envelope of an encrypted attribute (`info`: its data map entry)."""
    return mapped_column(name, Ciphertext(), nullable=True, info=info)


class Encrypted:
    """Descriptor: reads decrypt `<name>_ct`, writes seal into it under the row's scope key."""

    def __init__(self, kind: str = "str"):
        self.kind = kind
        self.name = ""
        self.column = ""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.column = f"{name}_ct"
        REGISTRY.append((owner, name))

    def _aad(self, obj) -> bytes:
        if obj.id is None:
            raise ValueError(f"{type(obj).__name__}.id must be set before {self.name}")
        return build_aad(obj.__tablename__, self.name, obj.key_scope, str(obj.id))

    def __get__(self, obj, owner=None) -> Any:
        if obj is None:
            return self
        blob = getattr(obj, self.column)
        if blob is None:
            return None
        cache = obj.__dict__.setdefault("_plaintexts", {})
        hit = cache.get(self.name)
        if hit is not None and hit[0] is blob:
            return hit[1]
        cipher = keyring().reader(obj.key_scope, key_version_of(blob))
        value = decode_value(cipher.open(blob, self._aad(obj)), self.kind)
        cache[self.name] = (blob, value)
        return value

    def __set__(self, obj, value: Any) -> None:
        if value is None:
            setattr(obj, self.column, None)
            obj.__dict__.setdefault("_plaintexts", {}).pop(self.name, None)
            return
        blob = keyring().writer(obj.key_scope).seal(encode_value(value, self.kind), self._aad(obj))
        setattr(obj, self.column, blob)
        obj.__dict__.setdefault("_plaintexts", {})[self.name] = (blob, value)

    def version_of(self, obj) -> int | None:
        """Return the data key version the stored value is sealed with."""
        blob = getattr(obj, self.column)
        return key_version_of(blob) if blob is not None else None


class EncryptedModel:
    """Mixin: assigns the id first, so encrypted attributes can bind it into their AAD."""

    #: "tenant" (key scope from tenant_id) or "controller".
    __key_scope_kind__ = "tenant"

    def __init__(self, **kwargs):
        # Order matters: id and tenant_id feed the AAD of the encrypted values that follow.
        self.id = kwargs.pop("id", None) or new_id()
        if "tenant_id" in kwargs:
            self.tenant_id = kwargs.pop("tenant_id")
        encrypted = {k: kwargs.pop(k) for k in list(kwargs) if isinstance(getattr(type(self), k, None), Encrypted)}
        super().__init__(**kwargs)
        for name, value in encrypted.items():
            setattr(self, name, value)

    @property
    def key_scope(self) -> str:
        """Return the key scope this row's values are sealed under."""
        if self.__key_scope_kind__ == "controller":
            return "controller"
        return f"tenant:{self.tenant_id}"
