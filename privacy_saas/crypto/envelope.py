"""AES-256-GCM field encryption in a small versioned binary envelope.

Layout: format (1 byte) | data key version (uint32 BE) | nonce (12 bytes) | ciphertext+tag.
"""

import json
import os
import struct
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy_saas.crypto.errors import DecryptionError

FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_HEADER = struct.Struct(">BI")
HEADER_BYTES = _HEADER.size
MIN_BLOB_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
_MAX_KEY_VERSION = 0xFFFFFFFF

# Distinct from the key-wrap label in providers.py so a field AAD can never
# be replayed as a key-wrap context or the other way round.
_AAD_LABEL = b"privacy_saas/field/v1"
_LENGTH = struct.Struct(">I")

ValueKind = Literal["str", "json"]


def build_aad(table: str, column: str, scope_id: str, row_id: str) -> bytes:
    """Encode where a field lives as length-prefixed parts, so no two locations collide."""
    parts = [_AAD_LABEL]
    for part in (table, column, scope_id, row_id):
        encoded = part.encode("utf-8")
        parts.append(_LENGTH.pack(len(encoded)))
        parts.append(encoded)
    return b"".join(parts)


def aad_for_rows(table: str, column: str, scope_id: str):
    """Return row_id -> build_aad(table, column, scope_id, row_id), the fixed parts encoded once (bulk reads)."""
    prefix = build_aad(table, column, scope_id, "")[:-_LENGTH.size]

    def for_row(row_id: str) -> bytes:
        encoded = row_id.encode("utf-8")
        return prefix + _LENGTH.pack(len(encoded)) + encoded

    return for_row


def _parse_header(blob: bytes) -> int:
    """Validate the envelope header and return its data key version."""
    if len(blob) < MIN_BLOB_BYTES:
        raise DecryptionError("ciphertext is truncated")
    fmt, key_version = _HEADER.unpack_from(blob)
    if fmt != FORMAT_VERSION:
        raise DecryptionError(f"unknown ciphertext format version {fmt}")
    return key_version


def key_version_of(blob: bytes) -> int:
    """Return the data key version a ciphertext was sealed under."""
    return _parse_header(blob)


class FieldCipher:
    """Seal and open fields under one data key version, reusing one AESGCM context."""

    __slots__ = ("_aead", "_header", "version")

    def __init__(self, key: bytes, version: int) -> None:
        """Prepare the AES-256-GCM context for this data key version."""
        if len(key) != KEY_BYTES:
            raise ValueError(f"data key must be {KEY_BYTES} bytes")
        if not 0 <= version <= _MAX_KEY_VERSION:
            raise ValueError(f"data key version {version} does not fit in 32 bits")
        self._aead = AESGCM(key)
        self._header = _HEADER.pack(FORMAT_VERSION, version)
        self.version = version

    def __repr__(self) -> str:
        return f"FieldCipher(version={self.version})"

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt plaintext bound to aad and to this envelope header."""
        # Random 96-bit nonces are safe up to ~2**32 seals per data key;
        # per-scope keys and rotation keep every key far below that.
        nonce = os.urandom(NONCE_BYTES)
        # The header joins the AAD so the key version byte cannot be swapped;
        # it is fixed length, so plain concatenation stays unambiguous.
        sealed = self._aead.encrypt(nonce, plaintext, self._header + aad)
        return self._header + nonce + sealed

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a blob sealed by this key version for the same aad."""
        key_version = _parse_header(blob)
        if key_version != self.version:
            raise DecryptionError(
                f"ciphertext is for data key version {key_version}, not {self.version}"
            )
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], self._header + aad)
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None


# Module helpers build a fresh FieldCipher per call instead of caching by key:
# a process-wide key cache would keep crypto-shredded keys alive. Hot paths
# hold a FieldCipher in the keyring's TTLCache instead.
def seal(key: bytes, key_version: int, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt plaintext under key, bound to aad."""
    return FieldCipher(key, key_version).seal(plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob with key, checking it was sealed for aad."""
    return FieldCipher(key, key_version_of(blob)).open(blob, aad)


def encode_value(value: Any, kind: ValueKind) -> bytes:
    """Serialise a column value to plaintext bytes."""
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"expected str, got {type(value).__name__}")
        return value.encode("utf-8")
    if kind == "json":
        # Canonical form so equal values always give equal plaintext.
        return json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, sort_keys=True, allow_nan=False
        ).encode("utf-8")
    raise ValueError(f"unknown value kind {kind!r}")


def decode_value(data: bytes, kind: ValueKind) -> Any:
    """Deserialise plaintext bytes back to a column value."""
    if kind not in ("str", "json"):
        raise ValueError(f"unknown value kind {kind!r}")
    try:
        text = data.decode("utf-8")
        return text if kind == "str" else json.loads(text)
    except ValueError:
        # Authenticated data that does not parse means the column kind is wrong;
        # the message must not echo the plaintext.
        raise DecryptionError(f"decrypted value is not valid {kind}") from None
