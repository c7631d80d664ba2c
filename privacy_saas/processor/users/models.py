"""Registered users: the people of a tenant who use the vendor's web app."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.db import choice, new_id
from privacy_saas.extensions import db

ROLES = ("admin", "member")
STATUSES = ("active", "disabled")


class RegisteredUser(EncryptedModel, db.Model):
    """A tenant's user; personal fields are sealed under the tenant's data key."""

    __tablename__ = "registered_users"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email_bidx"),
        sa.UniqueConstraint("tenant_id", "external_id"),
        choice("role", "role", ROLES),
        choice("status", "status", STATUSES),
    )

    #: The tenant; leads the primary key (and would be the distribution column).
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    #: HMAC of the normalised e-mail under the tenant's index key: lookups never decrypt.
    email_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary(16))
    email_ct: Mapped[bytes | None] = ciphertext_column("email_ct")
    display_name_ct: Mapped[bytes | None] = ciphertext_column("display_name_ct")
    given_name_ct: Mapped[bytes | None] = ciphertext_column("given_name_ct")
    family_name_ct: Mapped[bytes | None] = ciphertext_column("family_name_ct")
    #: admin (manages the tenant's users) or member.
    role: Mapped[str] = mapped_column(sa.String(16), default="member")
    #: active or disabled (a disabled user stays, cannot sign in).
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    #: The identity provider's id for this user (SCIM externalId); not personal on its own.
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    #: argon2id hash; NULL for users who sign in through their identity provider.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    #: Art. 18 restriction: no new usage data is ingested for this user while set.
    processing_restricted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    email = Encrypted("str")
    display_name = Encrypted("str")
    given_name = Encrypted("str")
    family_name = Encrypted("str")

    def __repr__(self) -> str:
        return f"<RegisteredUser {self.tenant_id}/{self.id} {self.role} {self.status}>"
