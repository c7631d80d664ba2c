"""Registered users signing in to the console: password with lockout, and the session loader."""
from __future__ import annotations

import uuid

from privacy_saas import audit, rls
from privacy_saas.auth import lockout
from privacy_saas.auth.passwords import verify_password
from privacy_saas.errors import NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.processor.users.service import find_by_email


def authenticate(tenant: Tenant, email: str, password: str) -> RegisteredUser | None:
    """Return the user if the password is right and they may sign in now (else None).

    Once the tenant has ended, only its admins may sign in (to read and export).
    """
    if tenant.status in ("purging", "purged"):
        verify_password(None, password)
        return None
    user = find_by_email(tenant, email) if email else None

    def failed(reason: str, **detail) -> None:
        # By user id when the account exists; the typed e-mail is never recorded.
        audit.record("user.login", tenant_id=tenant.id, targets=[user.id] if user else [], outcome="failed",
                     actor=("registered_user", user.id) if user else ("anonymous", None),
                     detail={"reason": reason, **detail})

    if not lockout.check_password(user, password, failed):
        return None
    if user.status != "active" or (not tenant.accepts_writes and user.role != "admin"):
        failed("not_allowed")
        return None
    lockout.signed_in(user)
    audit.record("user.login", tenant_id=tenant.id, targets=[user.id], actor=("registered_user", user.id))
    return user


def sign_in(organisation: str, email: str, password: str) -> RegisteredUser | None:
    """Authenticate at the tenant named `organisation`; an unknown one costs a password check too."""
    try:
        tenant = tenants.get_by_slug(organisation.strip().lower())
    except NotFound:
        verify_password(None, password)
        return None
    return authenticate(tenant, email, password)


def load_session_user(rest: str) -> RegisteredUser | None:
    """Flask-Login loader for `user:<tenant_id>:<user_id>` sessions."""
    tenant_part, _, user_part = rest.partition(":")
    try:
        key = (uuid.UUID(tenant_part), uuid.UUID(user_part))
    except ValueError:
        return None
    rls.scope_to_tenant(key[0])  # the signed-in user's requests work for their tenant only
    user = db.session.get(RegisteredUser, key)
    if user is None or user.status != "active":
        return None
    if user.tenant.status in ("purging", "purged"):
        return None
    if not user.tenant.accepts_writes and user.role != "admin":
        return None
    return user
