import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy_saas.crypto import (
    FORMAT_VERSION,
    DecryptionError,
    FieldCipher,
    build_aad,
    decode_value,
    encode_value,
    key_version_of,
    open_sealed,
    seal,
)
from privacy_saas.crypto.envelope import HEADER_BYTES, MIN_BLOB_BYTES, NONCE_BYTES, TAG_BYTES

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
AAD = build_aad("users", "email", "tenant-1", "row-1")


def flip_bit(blob: bytes, index: int) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("value", ["ada@example.com", "", "Zoë 🔐 東京", "x" * 1000])
def test_str_round_trip(value):
    blob = seal(KEY, 3, encode_value(value, "str"), AAD)
    assert decode_value(open_sealed(KEY, blob, AAD), "str") == value


@pytest.mark.parametrize(
    "value", [{"b": 1, "a": ["ü", None, True]}, [], {}, "", 0, 1.5, None, {"name": "Ünïcödé"}]
)
def test_json_round_trip(value):
    blob = seal(KEY, 1, encode_value(value, "json"), AAD)
    assert decode_value(open_sealed(KEY, blob, AAD), "json") == value


def test_json_encoding_is_canonical():
    assert encode_value({"b": 1, "a": "é"}, "json") == '{"a":"é","b":1}'.encode("utf-8")
    assert encode_value({"a": 1, "b": 2}, "json") == encode_value({"b": 2, "a": 1}, "json")


def test_codec_rejects_bad_kind_and_types():
    with pytest.raises(ValueError):
        encode_value("x", "xml")
    with pytest.raises(ValueError):
        decode_value(b"x", "xml")
    with pytest.raises(TypeError):
        encode_value(b"bytes", "str")
    with pytest.raises(ValueError):
        encode_value(float("nan"), "json")


def test_undecodable_plaintext_raises_decryption_error():
    with pytest.raises(DecryptionError):
        decode_value(b"\xff\xfe", "str")
    with pytest.raises(DecryptionError):
        decode_value(b"not json", "json")


def test_envelope_layout():
    blob = seal(KEY, 0x01020304, b"0123456789", AAD)
    assert blob[0] == FORMAT_VERSION == 1
    assert blob[1:5] == b"\x01\x02\x03\x04"
    assert len(blob) == HEADER_BYTES + NONCE_BYTES + 10 + TAG_BYTES


def test_nonces_are_fresh():
    blobs = {seal(KEY, 1, b"same", AAD) for _ in range(50)}
    assert len(blobs) == 50


def test_key_version_of():
    assert key_version_of(seal(KEY, 7, b"x", AAD)) == 7
    assert key_version_of(seal(KEY, 2**32 - 1, b"", AAD)) == 2**32 - 1
    with pytest.raises(DecryptionError):
        key_version_of(b"\x01\x00\x00")
    with pytest.raises(DecryptionError):
        key_version_of(b"\x02" + seal(KEY, 7, b"x", AAD)[1:])


@pytest.mark.parametrize(
    "region, index",
    [
        ("format", 0),
        ("key version", 4),
        ("nonce", HEADER_BYTES),
        ("nonce end", HEADER_BYTES + NONCE_BYTES - 1),
        ("ciphertext", HEADER_BYTES + NONCE_BYTES),
        ("ciphertext end", HEADER_BYTES + NONCE_BYTES + 39),
        ("tag", -TAG_BYTES),
        ("tag end", -1),
    ],
)
def test_any_flipped_bit_is_rejected(region, index):
    blob = seal(KEY, 1, b"a" * 40, AAD)
    with pytest.raises(DecryptionError):
        open_sealed(KEY, flip_bit(blob, index), AAD)


def test_swapped_key_version_is_rejected_even_with_matching_key():
    # The version is authenticated: relabelling a blob as another version fails
    # even when the caller resolves that version to the same key bytes.
    blob = seal(KEY, 1, b"secret", AAD)
    relabelled = blob[:1] + (2).to_bytes(4, "big") + blob[5:]
    assert key_version_of(relabelled) == 2
    with pytest.raises(DecryptionError):
        open_sealed(KEY, relabelled, AAD)


@pytest.mark.parametrize("length", [0, 1, HEADER_BYTES, MIN_BLOB_BYTES - 1])
def test_short_blob_is_rejected(length):
    blob = seal(KEY, 1, b"", AAD)
    assert len(blob) == MIN_BLOB_BYTES
    with pytest.raises(DecryptionError, match="truncated"):
        open_sealed(KEY, blob[:length], AAD)


def test_truncated_ciphertext_is_rejected():
    blob = seal(KEY, 1, b"a" * 40, AAD)
    with pytest.raises(DecryptionError):
        open_sealed(KEY, blob[:-1], AAD)
    with pytest.raises(DecryptionError):
        open_sealed(KEY, blob + b"\x00", AAD)


@pytest.mark.parametrize("fmt", [0, 2, 255])
def test_unknown_format_version_is_rejected(fmt):
    blob = bytes([fmt]) + seal(KEY, 1, b"a", AAD)[1:]
    with pytest.raises(DecryptionError, match="format"):
        open_sealed(KEY, blob, AAD)


@pytest.mark.parametrize(
    "other_aad",
    [
        build_aad("users", "email", "tenant-1", "row-2"),
        build_aad("users", "name", "tenant-1", "row-1"),
        build_aad("users", "email", "tenant-2", "row-1"),
        build_aad("contacts", "email", "tenant-1", "row-1"),
        b"",
    ],
    ids=["other row", "other column", "other tenant", "other table", "empty"],
)
def test_wrong_aad_is_rejected(other_aad):
    blob = seal(KEY, 1, b"ada@example.com", AAD)
    with pytest.raises(DecryptionError):
        open_sealed(KEY, blob, other_aad)


def test_wrong_key_is_rejected_without_leaking_key():
    blob = seal(KEY, 1, b"ada@example.com", AAD)
    with pytest.raises(DecryptionError) as caught:
        open_sealed(OTHER_KEY, blob, AAD)
    assert OTHER_KEY.hex() not in str(caught.value)
    assert "ada" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_build_aad_is_unambiguous():
    assert build_aad("a", "bc", "s", "r") != build_aad("ab", "c", "s", "r")
    assert build_aad("t", "c", "s1", "2") != build_aad("t", "c", "s", "12")
    assert build_aad("t", "c", "", "x") != build_aad("t", "c", "x", "")
    assert build_aad("t", "c", "s", "r") == build_aad("t", "c", "s", "r")


def test_field_cipher_round_trip_and_repr():
    cipher = FieldCipher(KEY, 9)
    blob = cipher.seal(b"hello", AAD)
    assert cipher.open(blob, AAD) == b"hello"
    assert open_sealed(KEY, blob, AAD) == b"hello"
    assert repr(cipher) == "FieldCipher(version=9)"
    assert KEY.hex() not in repr(cipher) and repr(KEY) not in repr(cipher)


def test_field_cipher_rejects_blob_of_other_version():
    blob = FieldCipher(KEY, 1).seal(b"hello", AAD)
    with pytest.raises(DecryptionError, match="version 1, not 2"):
        FieldCipher(KEY, 2).open(blob, AAD)


def test_field_cipher_validates_key_and_version():
    with pytest.raises(ValueError) as caught:
        FieldCipher(KEY[:16], 1)
    assert KEY[:16].hex() not in str(caught.value)
    with pytest.raises(ValueError):
        FieldCipher(KEY, -1)
    with pytest.raises(ValueError):
        FieldCipher(KEY, 2**32)


@given(
    plaintext=st.binary(max_size=512),
    version=st.integers(min_value=0, max_value=2**32 - 1),
    key=st.binary(min_size=32, max_size=32),
    parts=st.tuples(st.text(), st.text(), st.text(), st.text()),
)
def test_seal_open_round_trip_property(plaintext, version, key, parts):
    aad = build_aad(*parts)
    blob = seal(key, version, plaintext, aad)
    assert key_version_of(blob) == version
    assert open_sealed(key, blob, aad) == plaintext


@given(value=st.text())
def test_str_codec_round_trip_property(value):
    blob = seal(KEY, 1, encode_value(value, "str"), AAD)
    assert decode_value(open_sealed(KEY, blob, AAD), "str") == value


def test_random_keys_do_not_open_each_other():
    blob = seal(os.urandom(32), 1, b"x", AAD)
    with pytest.raises(DecryptionError):
        open_sealed(os.urandom(32), blob, AAD)
