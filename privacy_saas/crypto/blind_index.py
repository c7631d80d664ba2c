"""Blind indexes: keyed hashes that allow equality lookups on encrypted fields."""

import hashlib
import hmac
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BIDX_BYTES = 16
INDEX_KEY_BYTES = 32
# Fixed, public salt: HKDF only needs it for domain separation here because
# the input key material (a data key) is already uniformly random.
_HKDF_SALT = b"privacy_saas/blind-index/v1"


def normalise_email(value: str) -> str:
    """Fold an email address to the form its blind index is computed over."""
    # NFKC first so fullwidth and compatibility characters match their ASCII forms.
    return unicodedata.normalize("NFKC", value).strip().lower()


def derive_index_key(dek: bytes, purpose: bytes = b"blind-index:email") -> bytes:
    """Derive a per-purpose index key from a data key with HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=INDEX_KEY_BYTES, salt=_HKDF_SALT, info=purpose
    ).derive(dek)


def blind_index(index_key: bytes, normalised: str) -> bytes:
    """Return the truncated HMAC-SHA256 of an already normalised value."""
    # 16 bytes keeps index columns small while collisions stay negligible.
    return hmac.digest(index_key, normalised.encode("utf-8"), hashlib.sha256)[:BIDX_BYTES]


def email_bidx(index_key: bytes, raw_email: str) -> bytes:
    """Normalise an email address and return its blind index."""
    return blind_index(index_key, normalise_email(raw_email))


def keyed_hash(key: bytes, value: str) -> bytes:
    """Return the full HMAC-SHA256 of value, e.g. for a suppression list."""
    return hmac.digest(key, value.encode("utf-8"), hashlib.sha256)
