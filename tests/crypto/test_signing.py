import base64
import copy
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from privacy_saas.crypto import (
    canonical_json,
    generate_signing_key,
    load_private_key,
    public_key_pem,
    sign_document,
    verify_document,
)

DOCUMENT = {
    "tenant_id": "8f14e45f-ceea-467f-a0e6-1b1a2b3c4d5e",
    "subject": "data subject 42",
    "erased_at": "2024-05-01T12:00:00Z",
    "tables": ["users", "contacts"],
    "note": "Zoë",
}


def flip_first_bit(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture(scope="module")
def private_key():
    return load_private_key(generate_signing_key())


@pytest.fixture(scope="module")
def signed(private_key):
    return sign_document(private_key, DOCUMENT)


def test_canonical_json():
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'.encode("utf-8")
    with pytest.raises(ValueError):
        canonical_json({"x": float("inf")})


def test_generate_and_load_signing_key():
    pem = generate_signing_key()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = load_private_key(pem)
    assert public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----")
    assert generate_signing_key() != pem


def test_load_private_key_rejects_other_algorithms():
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_private_key(pem)


def test_sign_document_shape(private_key, signed):
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert signed["certificate"] == DOCUMENT
    assert signed["algorithm"] == "Ed25519"
    assert signed["key_id"] == hashlib.sha256(raw).hexdigest()[:16]
    assert len(base64.b64decode(signed["signature"])) == 64


def test_round_trip(private_key, signed):
    pem = public_key_pem(private_key)
    assert verify_document(pem, signed) is True
    assert verify_document(pem.decode("ascii"), signed) is True


def test_certificate_is_detached_from_caller_document(private_key):
    document = {"ids": ("a", "b")}
    signed = sign_document(private_key, document)
    document["ids"] = ("c",)
    assert signed["certificate"] == {"ids": ["a", "b"]}
    assert verify_document(public_key_pem(private_key), signed)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s["certificate"].__setitem__("subject", "someone else"),
        lambda s: s["certificate"].__setitem__("extra", True),
        lambda s: s["certificate"].pop("note"),
        lambda s: s["certificate"]["tables"].append("orders"),
        lambda s: s.__setitem__("algorithm", "RS256"),
        lambda s: s.__setitem__("key_id", "0" * 16),
        lambda s: s.__setitem__("signature", flip_first_bit(s["signature"])),
        lambda s: s.__setitem__("signature", s["signature"][:-4]),
        lambda s: s.__setitem__("signature", "!!not base64!!"),
        lambda s: s.__setitem__("signature", 12345),
        lambda s: s.__setitem__("certificate", ["not", "a", "dict"]),
        lambda s: s.__setitem__("certificate", {"x": float("nan")}),
        lambda s: s.pop("signature"),
        lambda s: s.pop("certificate"),
    ],
)
def test_tampering_returns_false(private_key, signed, tamper):
    changed = copy.deepcopy(signed)
    tamper(changed)
    assert verify_document(public_key_pem(private_key), changed) is False


def test_other_key_returns_false(signed):
    other = load_private_key(generate_signing_key())
    assert verify_document(public_key_pem(other), signed) is False


@pytest.mark.parametrize("pem", [b"garbage", None, 12, "", "é"])
def test_bad_public_key_inputs_return_false(signed, pem):
    assert verify_document(pem, signed) is False


@pytest.mark.parametrize("bad", [None, [], "text", 5, {"certificate": {}}])
def test_bad_signed_inputs_return_false(private_key, bad):
    assert verify_document(public_key_pem(private_key), bad) is False


def test_non_ed25519_public_key_returns_false(signed):
    pem = generate_private_key(SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert verify_document(pem, signed) is False
