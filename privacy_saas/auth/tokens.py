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


def resolve(raw: str) -> ApiToken | None:
    """Return the live token for `raw`, comparing the secret in constant time."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    try:
        token_id = uuid.UUID(hex=parts[1])
    except ValueError:
        return None
    token = db.session.get(ApiToken, token_id)
    expected = token.secret_hash if token is not None else _digest("absent")
    if not hmac.compare_digest(expected, _digest(parts[2])) or token is None:
        return None
    if token.revoked_at is not None:
        return None
    return token


def revoke(token: ApiToken) -> None:
    """Revoke `token` from now on."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()
