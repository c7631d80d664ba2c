"""Key-encryption keys (master keys) that wrap per-scope data keys."""

import abc
import base64
import binascii
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy_saas.crypto.errors import KeyUnavailable

MASTER_KEY_BYTES = 32
DATA_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16

# Distinct from the field AAD label in envelope.py so the two AAD spaces never overlap.
_WRAP_LABEL = b"privacy_saas/dek-wrap/v1|"
_ENTRY_SEPARATORS = re.compile(r"[,\s]+")


def new_data_key() -> bytes:
    """Return a fresh random 256-bit data key."""
    return os.urandom(DATA_KEY_BYTES)


def parse_master_keys(spec: str) -> dict[int, bytes]:
    """Parse "version:base64key" entries separated by commas or whitespace."""
    keys: dict[int, bytes] = {}
    entries = [entry for entry in _ENTRY_SEPARATORS.split(spec) if entry]
    if not entries:
        raise ValueError("no master keys configured")
    for position, entry in enumerate(entries, start=1):
        # Errors name the entry position or version only: the text of a
        # malformed entry may be key material. `from None` drops the chained
        # int()/base64 errors, whose messages would quote that text.
        version_text, sep, encoded = entry.partition(":")
        if not sep:
            raise ValueError(f"master key entry {position} is not in 'version:base64key' form")
        try:
            version = int(version_text)
        except ValueError:
            raise ValueError(f"master key entry {position} has a non-integer version") from None
        if version < 1:
            raise ValueError(
                f"master key entry {position} has version {version}; versions start at 1"
            )
        if version in keys:
            raise ValueError(f"master key version {version} is given more than once")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ValueError(f"master key version {version} is not valid base64") from None
        if len(key) != MASTER_KEY_BYTES:
            raise ValueError(
                f"master key version {version} must decode to {MASTER_KEY_BYTES} bytes, "
                f"got {len(key)}"
            )
        keys[version] = key
    return keys


def load_master_keys_file(path: str | os.PathLike[str]) -> dict[int, bytes]:
    """Read master keys from a file in the parse_master_keys format."""
    with open(path, encoding="ascii") as handle:
        return parse_master_keys(handle.read())


def generate_master_key_spec(version: int = 1) -> str:
    """Return a new random master key as one "version:base64key" entry."""
    if version < 1:
        raise ValueError("master key versions start at 1")
    return f"{version}:{base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode('ascii')}"


class KeyProvider(abc.ABC):
    """Wrap and unwrap data keys under versioned master keys.

    A KMS (AWS KMS Encrypt/Decrypt with EncryptionContext) or Vault transit
    provider implements this same interface: the master version maps to the
    KMS key or transit key version, and context to the encryption context.
    """

    @property
    @abc.abstractmethod
    def newest_version(self) -> int:
        """Return the master key version new wraps use."""

    @abc.abstractmethod
    def wrap(self, dek: bytes, context: bytes) -> tuple[int, bytes]:
        """Encrypt dek under the newest master key, bound to context."""

    @abc.abstractmethod
    def unwrap(self, master_version: int, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt a wrapped dek with the given master version and context."""


class LocalKeyProvider(KeyProvider):
    """Master keys held in process memory, wrapping with AES-256-GCM (nonce | ct+tag)."""

    def __init__(self, master_keys: Mapping[int, bytes]) -> None:
        """Prepare one AES-GCM context per master key version."""
        if not master_keys:
            raise ValueError("no master keys configured")
        for version, key in master_keys.items():
            if len(key) != MASTER_KEY_BYTES:
                raise ValueError(f"master key version {version} must be {MASTER_KEY_BYTES} bytes")
        self._aeads = {version: AESGCM(key) for version, key in master_keys.items()}
        self._newest = max(self._aeads)

    def __repr__(self) -> str:
        return f"LocalKeyProvider(versions={sorted(self._aeads, reverse=True)})"

    @property
    def newest_version(self) -> int:
        """Return the highest configured master key version."""
        return self._newest

    def wrap(self, dek: bytes, context: bytes) -> tuple[int, bytes]:
        """Encrypt dek under the newest master key, bound to context."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self._newest].encrypt(nonce, dek, _WRAP_LABEL + context)
        return self._newest, nonce + sealed

    def unwrap(self, master_version: int, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt a wrapped dek with the given master version and context."""
        aead = self._aeads.get(master_version)
        if aead is None:
            raise KeyUnavailable(f"master key version {master_version} is not configured")
        if len(wrapped) < _NONCE_BYTES + _TAG_BYTES:
            raise _cannot_unwrap(master_version, context)
        try:
            return aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _WRAP_LABEL + context
            )
        except InvalidTag:
            raise _cannot_unwrap(master_version, context) from None


def _cannot_unwrap(master_version: int, context: bytes) -> KeyUnavailable:
    """Build the error for a wrapped key that this master version cannot open."""
    # Context is a scope id and version such as b"tenant:<uuid>:v3": safe to name.
    described = context.decode("utf-8", "backslashreplace")
    return KeyUnavailable(
        f"master key version {master_version} cannot unwrap data key for {described}"
    )
