"""Exceptions raised by the crypto core; messages never carry key material."""
from privacy_saas.errors import Unavailable


class CryptoError(Exception):
    """Base class for every crypto failure."""


class DecryptionError(CryptoError):
    """Ciphertext is tampered, truncated, of unknown format, or bound to other AAD or key."""


class KeyDestroyed(CryptoError):
    """The data key version needed has been destroyed (crypto-shredded)."""


class KeyUnavailable(CryptoError):
    """A master key version is missing or cannot unwrap the data key."""


class KeyStoreUnavailable(Unavailable):
    """The key store did not answer (down, sealed, timed out, refused the token): retry later.

    Deliberately not a CryptoError: nothing is wrong with the data. Code that shows a record whose
    CryptoError says it cannot be read ("undecryptable"), or skips it, must not do so during an
    outage: this propagates to the request or job boundary (503, or a retried job).
    """

    service = "the key store"
