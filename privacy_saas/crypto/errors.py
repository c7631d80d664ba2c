"""Exceptions raised by the crypto core; messages never carry key material."""


class CryptoError(Exception):
    """Base class for every crypto failure."""


class DecryptionError(CryptoError):
    """Ciphertext is tampered, truncated, of unknown format, or bound to other AAD or key."""


class KeyDestroyed(CryptoError):
    """The data key version needed has been destroyed (crypto-shredded)."""


class KeyUnavailable(CryptoError):
    """A master key version is missing or cannot unwrap the data key."""


class KeyStoreUnavailable(CryptoError):
    """The key store did not answer (down, sealed, timed out, refused the token): retry later."""
