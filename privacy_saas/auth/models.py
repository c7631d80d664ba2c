"""Vendor staff accounts and API tokens."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from privacy_saas import clock
from privacy_saas.datamap import not_personal, person_id, personal, table
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db

STAFF_ROLES = ("support", "account_manager", "dpo", "admin")
TOKEN_KINDS = ("staff", "tenant")

#: Why a staff account's attributes are plaintext (the account itself is not sealed: see `email`).
STAFF_ACCOUNT_STATE = ("an attribute of a vendor staff account: read at every sign-in and request to authorise "
                       "and lock out")


def _staff_state(category: str = "record_state") -> dict:
    return personal(category, subject="staff", plaintext_because=STAFF_ACCOUNT_STATE)


class Staff(db.Model):
    """A vendor employee who uses the staff console and API."""

    __tablename__ = "staff"
    __table_args__ = (choice("role", "role", STAFF_ROLES), distribution(VENDOR_LOCAL))
    __datamap__ = table(scope="operational", purpose="staff_access", retention="staff_account",
                        lawful_basis="legitimate_interest")

    id: Mapped[uuid.UUID] = uuid_pk(person_id("staff"))
    #: Work e-mail, the sign-in name (vendor's own employee data, not tenant data).
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, info=personal(
        "contact_details", subject="staff", plaintext_because=(
            "the staff member's work address and sign-in name: looked up, unique, at every sign-in, and shown to "
            "colleagues in the console")))
    #: support, account_manager, dpo or admin.
    role: Mapped[str] = mapped_column(sa.String(32), info=_staff_state())
    #: argon2id hash.
    password_hash: Mapped[str] = mapped_column(sa.String(255), info=personal(
        "credentials", subject="staff", plaintext_because="an argon2id hash: one-way by design, checked at sign-in"))
    #: Disabled staff cannot sign in and their tokens stop working.
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, info=_staff_state())
    #: Consecutive failed sign-ins, reset on success.
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0, info=_staff_state())
    #: Sign-in refused until then after too many failures.
    locked_until: Mapped[datetime | None] = mapped_column(info=_staff_state())
    last_login_at: Mapped[datetime | None] = mapped_column(info=_staff_state("usage"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=_staff_state())

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
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="api_access", retention="api_token",
                        lawful_basis="legitimate_interest")

    #: Public part of the token; the secret part is only stored hashed.
    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    kind: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    staff_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True,
                                                      info=person_id("staff"))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True,
                                                       info=not_personal())
    #: A label chosen by whoever created it ("okta provisioning").
    name: Mapped[str] = mapped_column(sa.String(100), info=not_personal())
    #: SHA-256 of the secret part (high-entropy, so a fast hash is right here).
    secret_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: Written at most every few minutes; for a staff token, when that staff member last used the API.
    last_used_at: Mapped[datetime | None] = mapped_column(info=personal(
        "usage", subject="staff", plaintext_because="shows a token's owner and admins when it was last used, so a "
                                                    "leaked or stale token stands out"))
    revoked_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: The tenant a tenant token acts for, loaded with the token: every tenant request needs both.
    tenant = relationship("Tenant", lazy="joined", viewonly=True)

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.kind}>"
