"""Print microseconds per operation for the field-encryption primitives.

Run from the repository root: python -m bench.crypto_primitives
"""

import os
import timeit

from privacy_saas.crypto import (
    FieldCipher,
    build_aad,
    derive_index_key,
    email_bidx,
    open_sealed,
    seal,
)

# Content does not affect AES-GCM timing; only the length matters.
FIELD = bytes(40)
NUMBER = 50_000
REPEAT = 5


def per_call_us(stmt: str, namespace: dict) -> float:
    """Return the best-of-REPEAT microseconds per call of stmt."""
    return min(timeit.repeat(stmt, globals=namespace, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6


def main() -> None:
    """Time seal/open of a 40-byte field plus the helpers around it."""
    key = os.urandom(32)
    cipher = FieldCipher(key, 1)
    aad = build_aad("users", "email", "8f14e45f-ceea-467f-a0e6-1b1a2b3c4d5e", "123456")
    blob = cipher.seal(FIELD, aad)
    index_key = derive_index_key(key)
    namespace = {
        "cipher": cipher,
        "key": key,
        "aad": aad,
        "blob": blob,
        "field": FIELD,
        "index_key": index_key,
        "seal": seal,
        "open_sealed": open_sealed,
        "build_aad": build_aad,
        "email_bidx": email_bidx,
    }
    rows = [
        ("FieldCipher.seal (40 B)", "cipher.seal(field, aad)"),
        ("FieldCipher.open (40 B)", "cipher.open(blob, aad)"),
        ("seal() module fn (40 B)", "seal(key, 1, field, aad)"),
        ("open_sealed() module fn (40 B)", "open_sealed(key, blob, aad)"),
        ("build_aad", "build_aad('users', 'email', 'tenant', 'row')"),
        ("email_bidx", "email_bidx(index_key, ' Ada@Example.COM ')"),
    ]
    for label, stmt in rows:
        print(f"{label:32s} {per_call_us(stmt, namespace):6.2f} µs")


if __name__ == "__main__":
    main()
