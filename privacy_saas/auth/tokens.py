"""API token issue, lookup and revocation. A token reads `pst_<id hex>_<secret>`."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from privacy_saas import clock
from privacy_saas.auth.models import ApiToken
from privacy_saas.extensions import db

PREFIX = "pst"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue(*, kind: str, name: str, staff_id=None, tenant_id=None) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is shown once and never stored."""
    secret = secrets.token_urlsafe(32)
    token = ApiToken(kind=kind, name=name, staff_id=staff_id, tenant_id=tenant_id,
                     secret_hash=_digest(secret))
    db.session.add(token)
    db.session.flush()
    return token, f"{PREFIX}_{token.id.hex}_{secret}"


def parse(raw: str) -> tuple[uuid.UUID, str] | None:
    """Return (token id, secret) of a token's text, None if it is not one."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    try:
        return uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        return None


def secret_matches(secret_hash: bytes, secret: str) -> bool:
    """Return whether `secret` hashes to `secret_hash`, in constant time."""
    return hmac.compare_digest(secret_hash, _digest(secret))


def resolve(raw: str) -> ApiToken | None:
    """Return the live token for `raw`, comparing the secret in constant time."""
    parsed = parse(raw)
    return None if parsed is None else lookup(*parsed)


def lookup(token_id: uuid.UUID, secret: str) -> ApiToken | None:
    """Return the live token `token_id` if `secret` is its secret (read from the database)."""
    token = db.session.get(ApiToken, token_id)
    expected = token.secret_hash if token is not None else _digest("absent")
    if not secret_matches(expected, secret) or token is None:
        return None
    if token.revoked_at is not None:
        return None
    return token


def revoke(token: ApiToken) -> None:
    """Revoke `token` from now on."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()
