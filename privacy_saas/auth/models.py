"""Vendor staff accounts and API tokens."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from privacy_saas import clock
from privacy_saas.db import choice, uuid_pk
from privacy_saas.extensions import db

STAFF_ROLES = ("support", "account_manager", "dpo", "admin")
TOKEN_KINDS = ("staff", "tenant")


class Staff(db.Model):
    """A vendor employee who uses the staff console and API."""

    __tablename__ = "staff"
    __table_args__ = (choice("role", "role", STAFF_ROLES),)

    id: Mapped[uuid.UUID] = uuid_pk()
    #: Work e-mail, the sign-in name (vendor's own employee data, not tenant data).
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    #: support, account_manager, dpo or admin.
    role: Mapped[str] = mapped_column(sa.String(32))
    #: argon2id hash.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    #: Disabled staff cannot sign in and their tokens stop working.
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    #: Consecutive failed sign-ins, reset on success.
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: Sign-in refused until then after too many failures.
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.role}>"

    # Flask-Login protocol; the session id names the principal kind.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"staff:{self.id}"


class ApiToken(db.Model):
    """A bearer token for the API: a staff member's, or a tenant's (acts for that tenant only)."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        choice("kind", "kind", TOKEN_KINDS),
        sa.CheckConstraint(
            "(kind = 'staff' AND staff_id IS NOT NULL AND tenant_id IS NULL) OR "
            "(kind = 'tenant' AND tenant_id IS NOT NULL AND staff_id IS NULL)",
            name="owner",
        ),
    )

    #: Public part of the token; the secret part is only stored hashed.
    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(sa.String(16))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: A label chosen by whoever created it ("okta provisioning").
    name: Mapped[str] = mapped_column(sa.String(100))
    #: SHA-256 of the secret part (high-entropy, so a fast hash is right here).
    secret_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: The tenant a tenant token acts for, loaded with the token: every tenant request needs both.
    tenant = relationship("Tenant", lazy="joined", viewonly=True)

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.kind}>"
