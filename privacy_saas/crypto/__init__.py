"""DB-free cryptographic core: field envelopes, key wrapping, blind indexes, signing."""

from privacy_saas.crypto.blind_index import (
    BIDX_BYTES,
    blind_index,
    derive_index_key,
    email_bidx,
    keyed_hash,
    normalise_email,
)
from privacy_saas.crypto.cache import TTLCache
from privacy_saas.crypto.envelope import (
    FORMAT_VERSION,
    FieldCipher,
    build_aad,
    decode_value,
    encode_value,
    key_version_of,
    open_sealed,
    seal,
)
from privacy_saas.crypto.errors import CryptoError, DecryptionError, KeyDestroyed, KeyStoreUnavailable, KeyUnavailable
from privacy_saas.crypto.providers import (
    KeyProvider,
    LocalKeyProvider,
    generate_master_key_spec,
    load_master_keys_file,
    new_data_key,
    parse_master_keys,
)
from privacy_saas.crypto.signing import (
    canonical_json,
    generate_signing_key,
    load_private_key,
    public_key_pem,
    sign_document,
    verify_document,
)

__all__ = [
    "BIDX_BYTES",
    "FORMAT_VERSION",
    "CryptoError",
    "DecryptionError",
    "FieldCipher",
    "KeyDestroyed",
    "KeyProvider",
    "KeyStoreUnavailable",
    "KeyUnavailable",
    "LocalKeyProvider",
    "TTLCache",
    "blind_index",
    "build_aad",
    "canonical_json",
    "decode_value",
    "derive_index_key",
    "email_bidx",
    "encode_value",
    "generate_master_key_spec",
    "generate_signing_key",
    "key_version_of",
    "keyed_hash",
    "load_master_keys_file",
    "load_private_key",
    "new_data_key",
    "normalise_email",
    "open_sealed",
    "parse_master_keys",
    "public_key_pem",
    "seal",
    "sign_document",
    "verify_document",
]
