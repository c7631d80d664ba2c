"""Tenant API tokens: a token acts for one tenant only (JSON API and SCIM)."""
from __future__ import annotations

import sqlalchemy as sa

from privacy_saas import audit
from privacy_saas.auth import tokens
from privacy_saas.auth.models import ApiToken
from privacy_saas.errors import AppError, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.gates import ensure_readable
from privacy_saas.processor.tenants.models import Tenant

MAX_TOKEN_NAME = 100


def list_tokens(tenant: Tenant) -> list[ApiToken]:
    """Return the tenant's tokens, live ones first, newest first."""
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.kind == "tenant", ApiToken.tenant_id == tenant.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def create_token(tenant: Tenant, name: str, *, actor=None) -> tuple[ApiToken, str]:
    """Issue a token for the tenant; the plaintext is returned once and never stored."""
    ensure_readable(tenant)
    name = (name or "").strip()
    if not name or len(name) > MAX_TOKEN_NAME:
        raise AppError("the request is invalid", code="invalid_input",
                       errors={"name": [f"must be 1 to {MAX_TOKEN_NAME} characters"]})
    token, plaintext = tokens.issue(kind="tenant", name=name, tenant_id=tenant.id)
    audit.record("token.create", tenant_id=tenant.id, targets=[token.id], actor=actor)
    return token, plaintext


def revoke_token(tenant: Tenant, token_id, *, actor=None) -> ApiToken:
    """Revoke one of the tenant's tokens; another tenant's token is NotFound."""
    token = db.session.get(ApiToken, token_id) if token_id is not None else None
    if token is None or token.kind != "tenant" or token.tenant_id != tenant.id:
        raise NotFound("no such token")
    if token.revoked_at is None:
        tokens.revoke(token)
        audit.record("token.revoke", tenant_id=tenant.id, targets=[token.id], actor=actor)
    return token
