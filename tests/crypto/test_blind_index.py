import hashlib
import hmac

import pytest

from privacy_saas.crypto import (
    BIDX_BYTES,
    blind_index,
    derive_index_key,
    email_bidx,
    keyed_hash,
    normalise_email,
)

DEK = bytes(range(32))
OTHER_DEK = bytes(range(32, 64))


def test_normalise_email_strips_and_lowercases():
    assert normalise_email("  Ada@Example.COM ") == "ada@example.com"


def test_normalise_email_applies_nfkc():
    # Fullwidth letters and at sign fold to ASCII under NFKC.
    assert normalise_email("\uff21\uff44\uff41\uff20Example.com") == "ada@example.com"
    # Decomposed e + combining acute composes to the precomposed form.
    assert normalise_email("Rene\u0301@example.com") == "ren\u00e9@example.com"
    # Ideographic space is stripped after NFKC turns it into a plain space.
    assert normalise_email("\u3000ada@example.com\u3000") == "ada@example.com"


def test_derive_index_key_is_deterministic_and_purpose_separated():
    key = derive_index_key(DEK)
    assert len(key) == 32
    assert key == derive_index_key(DEK, b"blind-index:email")
    assert key != derive_index_key(DEK, b"blind-index:phone")
    assert key != derive_index_key(OTHER_DEK)
    assert key != DEK


def test_blind_index_matches_equivalent_emails():
    key = derive_index_key(DEK)
    expected = email_bidx(key, "ada@example.com")
    assert len(expected) == BIDX_BYTES == 16
    assert email_bidx(key, "  Ada@Example.COM ") == expected
    assert email_bidx(key, "\uff21\uff44\uff41\uff20Example.com") == expected
    assert blind_index(key, "ada@example.com") == expected


def test_blind_index_differs_across_keys_and_values():
    key = derive_index_key(DEK)
    other = derive_index_key(OTHER_DEK)
    assert email_bidx(key, "ada@example.com") != email_bidx(other, "ada@example.com")
    assert email_bidx(key, "ada@example.com") != email_bidx(key, "bob@example.com")


def test_blind_index_is_not_normalising():
    # blind_index takes an already normalised value; only email_bidx folds.
    key = derive_index_key(DEK)
    assert blind_index(key, "Ada@example.com") != blind_index(key, "ada@example.com")


@pytest.mark.parametrize("value", ["ada@example.com", "", "ü"])
def test_keyed_hash_is_full_hmac(value):
    digest = keyed_hash(DEK, value)
    assert len(digest) == 32
    assert digest == hmac.new(DEK, value.encode("utf-8"), hashlib.sha256).digest()
    assert digest != keyed_hash(OTHER_DEK, value)
