"""Set-password invitations: a one-time link (72 h), mailed to the user; only its hash is stored."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from privacy_saas import audit, clock, mail
from privacy_saas.auth import lockout
from privacy_saas.auth.passwords import hash_password
from privacy_saas.errors import NotFound
from privacy_saas.extensions import db
from privacy_saas.links import external_url
from privacy_saas.processor.tenants.gates import ensure_readable, ensure_writable
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.models import RegisteredUser, UserInvitation
from privacy_saas.processor.users.validation import check_fields

INVITATION_TTL = timedelta(hours=72)
#: The console page the link opens (the secret follows in its path).
SET_PASSWORD_PAGE = "tenant_console.set_password"


@dataclass(frozen=True)
class Invitation:
    """A freshly issued set-password link: shown once to the inviting admin and mailed."""

    url: str
    expires_at: datetime


def _token_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def invite_user(tenant: Tenant, user: RegisteredUser, *, actor=None) -> Invitation:
    """Issue a one-time set-password link (72 h), mail it, and return it; older links stop working."""
    ensure_writable(tenant)
    now = clock.now()
    db.session.execute(sa.update(UserInvitation).where(
        UserInvitation.tenant_id == tenant.id, UserInvitation.user_id == user.id,
        UserInvitation.used_at.is_(None)).values(used_at=now))
    secret = secrets.token_urlsafe(32)
    invitation = UserInvitation(tenant_id=tenant.id, user_id=user.id, token_hash=_token_hash(secret),
                                created_at=now, expires_at=now + INVITATION_TTL)
    db.session.add(invitation)
    db.session.flush()
    url = external_url(SET_PASSWORD_PAGE, secret=secret)
    sign_in = external_url("tenant_console.login", organisation=tenant.slug)
    greeting = f"Hello {user.display_name}," if user.display_name else "Hello,"
    # Short lines and each link alone on its line: the mail goes out 7bit/8bit, never folded inside a URL.
    mail.send(mail.Message(
        tenant_id=tenant.id,
        to=user.email,
        subject=f"Your {tenant.name} account: set your password",
        body=(f"{greeting}\n\nAn administrator of {tenant.name} added you\n({user.email}).\n\n"
              f"Set your password within 72 hours, using this link once:\n\n{url}\n\n"
              f"Then sign in with your e-mail address. Organisation: {tenant.slug}\n"
              f"(the short name of {tenant.name}). Sign-in page:\n\n{sign_in}\n\n"
              "If you did not expect this e-mail, ignore it.\n"),
    ))
    audit.record("user.invite", tenant_id=tenant.id, targets=[user.id, invitation.id], actor=actor,
                 detail={"ttl_hours": int(INVITATION_TTL.total_seconds() // 3600)})
    return Invitation(url=url, expires_at=invitation.expires_at)


def find_invitation(secret: str) -> tuple[UserInvitation, RegisteredUser, Tenant]:
    """Return the live invitation for a link secret, or raise NotFound (used, expired or unknown)."""
    invitation = db.session.scalar(sa.select(UserInvitation).where(
        UserInvitation.token_hash == _token_hash(secret or "")))
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= clock.now():
        raise NotFound("this link is invalid, expired or already used", code="invitation_invalid")
    user = db.session.get(RegisteredUser, (invitation.tenant_id, invitation.user_id))
    if user is None or user.status != "active":
        raise NotFound("this link is invalid, expired or already used", code="invitation_invalid")
    tenant = user.tenant
    if not tenant.accepts_writes and user.role != "admin":
        ensure_writable(tenant)
    ensure_readable(tenant)
    return invitation, user, tenant


def set_password(secret: str, password: str) -> RegisteredUser:
    """Consume an invitation: set the user's password; the link cannot be used again."""
    invitation, user, tenant = find_invitation(secret)
    check_fields({"password": password})
    # Claim the link atomically, so two concurrent uses cannot both succeed.
    claimed = db.session.execute(sa.update(UserInvitation).where(
        UserInvitation.tenant_id == invitation.tenant_id, UserInvitation.id == invitation.id,
        UserInvitation.used_at.is_(None)).values(used_at=clock.now()))
    if claimed.rowcount != 1:
        raise NotFound("this link is invalid, expired or already used", code="invitation_invalid")
    user.password_hash = hash_password(password)
    lockout.unlock(user)
    user.touch()
    audit.record("user.password_set", tenant_id=tenant.id, targets=[user.id], actor=("registered_user", user.id))
    return user
