"""The vendor's Ed25519 signing key and deletion certificate signing/verification."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import current_app

from privacy_saas.crypto.signing import (
    generate_signing_key,
    load_private_key,
    public_key_pem,
    sign_document,
    verify_document,
)

log = logging.getLogger(__name__)


def signing_key():
    """Return the vendor's private signing key (dev: generated once under instance/, loudly)."""
    cached = current_app.extensions.get("privacy_saas.signing_key")
    if cached is not None:
        return cached
    path = Path(current_app.config["PRIVACY_SAAS_SIGNING_KEY_FILE"])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(generate_signing_key())
        log.warning("DEVELOPMENT certificate signing key generated at %s; configure "
                    "PRIVACY_SAAS_SIGNING_KEY_FILE in production", path)
    key = load_private_key(path.read_bytes())
    current_app.extensions["privacy_saas.signing_key"] = key
    return key


def public_pem() -> bytes:
    """Return the PEM public key that verifies this installation's certificates."""
    return public_key_pem(signing_key())


def sign(document: dict) -> dict:
    """Return `document` signed by the vendor key."""
    return sign_document(signing_key(), document)


def verify(signed: dict, public_key: bytes | str | None = None) -> bool:
    """Return whether `signed` carries a valid signature (by default of this installation's key)."""
    return verify_document(public_key or public_pem(), signed)
