"""Ed25519 signatures for deletion certificates."""

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"
_KEY_ID_HEX_CHARS = 16


def generate_signing_key() -> bytes:
    """Return a new Ed25519 private key as unencrypted PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("signing key is not an Ed25519 private key")
    return key


def public_key_pem(private: Ed25519PrivateKey) -> bytes:
    """Return the SubjectPublicKeyInfo PEM of a private key's public half."""
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def canonical_json(obj: Any) -> bytes:
    """Serialise obj to the one byte string that gets signed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _key_id(public: Ed25519PublicKey) -> str:
    """Return a short fingerprint of a public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:_KEY_ID_HEX_CHARS]


def sign_document(private_key: Ed25519PrivateKey, document: dict[str, Any]) -> dict[str, Any]:
    """Sign the canonical JSON of document and wrap it with signature metadata."""
    payload = canonical_json(document)
    return {
        # Re-parse the signed bytes so the returned certificate is exactly what
        # was signed (tuples become lists, later caller mutation is not shared).
        "certificate": json.loads(payload),
        "signature": base64.b64encode(private_key.sign(payload)).decode("ascii"),
        "algorithm": ALGORITHM,
        "key_id": _key_id(private_key.public_key()),
    }


def verify_document(public_key_pem: bytes | str, signed: dict[str, Any]) -> bool:
    """Return True only if signed carries a valid signature by this public key."""
    # Input comes from outside (uploaded or stored certificates), so every
    # malformed shape must yield False rather than an exception.
    try:
        pem = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
        public = serialization.load_pem_public_key(pem)
        if not isinstance(public, Ed25519PublicKey) or not isinstance(signed, dict):
            return False
        document = signed["certificate"]
        if not isinstance(document, dict) or signed.get("algorithm") != ALGORITHM:
            return False
        key_id = signed.get("key_id")
        if not isinstance(key_id, str) or not hmac.compare_digest(key_id, _key_id(public)):
            return False
        signature = base64.b64decode(signed["signature"], validate=True)
        public.verify(signature, canonical_json(document))
    except (
        InvalidSignature,
        UnsupportedAlgorithm,
        ValueError,  # includes binascii.Error and UnicodeEncodeError
        TypeError,
        KeyError,
        RecursionError,
    ):
        return False
    return True
