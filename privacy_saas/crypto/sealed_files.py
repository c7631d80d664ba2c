"""Files sealed chunk-wise under a scope's data key (return exports, subject-access exports).

Each chunk is sealed with associated data naming the file, its index and whether it is
the last one, so chunks cannot be reordered, dropped or truncated unnoticed; a destroyed
scope key (crypto-shred) makes every copy unreadable.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from privacy_saas.crypto.envelope import key_version_of
from privacy_saas.crypto.keyring import keyring

CHUNK = 1024 * 1024

#: aad(index, final) -> the associated data of one chunk.
Aad = Callable[[int, bool], bytes]


def seal_file(scope: str, plain: BinaryIO, target: Path, aad: Aad, chunk_size: int = CHUNK) -> int:
    """Seal the readable `plain` into `target` (written atomically); return the sealed size."""
    cipher = keyring().writer(scope)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as out:
        index = 0
        chunk = plain.read(chunk_size)
        while True:
            following = plain.read(chunk_size)
            final = not following
            sealed = cipher.seal(chunk, aad(index, final))
            out.write(len(sealed).to_bytes(4, "big") + sealed)
            if final:
                break
            chunk, index = following, index + 1
    os.replace(partial, target)
    return target.stat().st_size


def open_file(scope: str, path: Path, aad: Aad) -> Iterator[bytes]:
    """Yield the plaintext chunks of a sealed file (lazily; raises CryptoError on tampering)."""
    with open(path, "rb") as fh:
        index = 0
        while header := fh.read(4):
            sealed = fh.read(int.from_bytes(header, "big"))
            final = fh.peek(1) == b""
            cipher = keyring().reader(scope, key_version_of(sealed))
            yield cipher.open(sealed, aad(index, final))
            index += 1
