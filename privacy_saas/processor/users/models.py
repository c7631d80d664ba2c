"""Registered users: the people of a tenant who use the vendor's web app."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, person_state, personal, table
from privacy_saas.db import choice, new_id
from privacy_saas.distribution import TENANT, distribution
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db

ROLES = ("admin", "member")
STATUSES = ("active", "disabled")


class RegisteredUser(EncryptedModel, db.Model):
    """A tenant's user; personal fields are sealed under the tenant's data key."""

    __tablename__ = "registered_users"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "user_name_bidx"),
        sa.UniqueConstraint("tenant_id", "email_bidx"),
        sa.UniqueConstraint("tenant_id", "external_id_bidx"),
        sa.Index("ix_registered_users_tenant_status_role", "tenant_id", "status", "role"),
        choice("role", "role", ROLES),
        choice("status", "status", STATUSES),
        distribution(TENANT),
    )
    __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")

    #: The tenant; leads the primary key (and would be the distribution column).
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=person_id("registered_user"))
    #: HMAC of the normalised sign-in name (SCIM userName) under the tenant's index key: unique per tenant.
    user_name_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary(16), info=personal(
        "technical_ids", subject="registered_user", plaintext_because=(
            "a keyed hash (blind index) of the sign-in name: SCIM `userName eq` and uniqueness match it without "
            "decrypting; irreversible without the tenant's index key, which the purge destroys")))
    user_name_ct: Mapped[bytes | None] = ciphertext_column("user_name_ct",
                                                           personal("identity", subject="registered_user"))
    #: HMAC of the normalised product e-mail (primary, else work, else userName when it is an address);
    #: unique per tenant so sign-in, invitations and DSR look-ups name one person. NULL: no address known.
    email_bidx: Mapped[bytes | None] = mapped_column(sa.LargeBinary(16), info=personal(
        "technical_ids", subject="registered_user", plaintext_because=(
            "a keyed hash (blind index) of the e-mail: sign-in, SCIM and DSR look-ups match it without decrypting; "
            "irreversible without the tenant's index key, which the purge destroys")))
    email_ct: Mapped[bytes | None] = ciphertext_column("email_ct",
                                                       personal("contact_details", subject="registered_user"))
    #: Every e-mail the identity provider sent (SCIM `emails`: value, type, primary, display), as a JSON list;
    #: registered_user_emails holds their blind indexes.
    emails_ct: Mapped[bytes | None] = ciphertext_column("emails_ct",
                                                        personal("contact_details", subject="registered_user"))
    #: SCIM phoneNumbers, ims and addresses, as JSON {"phoneNumbers": [...], "ims": [...], "addresses": [...]}.
    contact_ct: Mapped[bytes | None] = ciphertext_column("contact_ct",
                                                         personal("contact_details", subject="registered_user"))
    #: The rest of the SCIM core profile as JSON: nickName, profileUrl, title, userType, preferredLanguage, locale,
    #: timezone, photos, roles, entitlements and the name parts beyond given and family name.
    profile_ct: Mapped[bytes | None] = ciphertext_column("profile_ct", personal("identity", subject="registered_user"))
    #: The SCIM enterprise extension as JSON: employeeNumber, costCenter, organization, division, department,
    #: manager.
    enterprise_ct: Mapped[bytes | None] = ciphertext_column("enterprise_ct",
                                                            personal("identity", subject="registered_user"))
    display_name_ct: Mapped[bytes | None] = ciphertext_column("display_name_ct",
                                                              personal("identity", subject="registered_user"))
    given_name_ct: Mapped[bytes | None] = ciphertext_column("given_name_ct",
                                                            personal("identity", subject="registered_user"))
    family_name_ct: Mapped[bytes | None] = ciphertext_column("family_name_ct",
                                                             personal("identity", subject="registered_user"))
    #: admin (manages the tenant's users) or member.
    role: Mapped[str] = mapped_column(sa.String(16), default="member", info=person_state("registered_user"))
    #: active or disabled (a disabled user stays, cannot sign in).
    status: Mapped[str] = mapped_column(sa.String(16), default="active", info=person_state("registered_user"))
    #: Keyed hash of the identity provider's id for the user (SCIM externalId, case-exact): `externalId eq`
    #: and per-tenant uniqueness without decrypting.
    external_id_bidx: Mapped[bytes | None] = mapped_column(sa.LargeBinary(16), info=personal(
        "technical_ids", subject="registered_user", plaintext_because=(
            "a keyed hash (blind index) of the identity provider's id: SCIM filters on it and it is unique per "
            "tenant; irreversible without the tenant's index key, which the purge destroys")))
    #: The identity provider's id, sealed: Entra ID maps mailNickname (often the e-mail's local part) by default.
    external_id_ct: Mapped[bytes | None] = ciphertext_column("external_id_ct",
                                                             personal("technical_ids", subject="registered_user"))
    #: argon2id hash; NULL for users who sign in through their identity provider.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), info=personal(
        "credentials", subject="registered_user",
        plaintext_because="an argon2id hash: one-way by design, and checked at every sign-in"))
    #: Bumped on every change: the SCIM ETag / meta.version.
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1", info=not_personal())
    #: Consecutive failed sign-ins, reset on success.
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0",
                                               info=person_state("registered_user"))
    #: Sign-in refused until then after too many failures.
    locked_until: Mapped[datetime | None] = mapped_column(info=person_state("registered_user"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state("registered_user"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now,
                                                 info=person_state("registered_user"))
    #: Art. 18 restriction: no new usage data is ingested for this user while set.
    processing_restricted: Mapped[bool] = mapped_column(sa.Boolean, default=False,
                                                        info=person_state("registered_user"))
    last_login_at: Mapped[datetime | None] = mapped_column(info=person_state("registered_user", "usage"))
    disabled_at: Mapped[datetime | None] = mapped_column(info=person_state("registered_user"))

    user_name = Encrypted("str")
    email = Encrypted("str")
    emails = Encrypted("json")
    contact = Encrypted("json")
    profile = Encrypted("json")
    enterprise = Encrypted("json")
    external_id = Encrypted("str")
    display_name = Encrypted("str")
    given_name = Encrypted("str")
    family_name = Encrypted("str")

    #: The user's tenant, which a signed-in user acts for (read-only: tenant_id is the column).
    tenant = relationship("Tenant", viewonly=True)

    #: The set-password link issued with this user by the current call (never stored).
    invitation = None

    def __repr__(self) -> str:
        return f"<RegisteredUser {self.tenant_id}/{self.id} {self.role} {self.status}>"

    # Flask-Login protocol; the session id names the principal kind and the tenant.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def get_id(self) -> str:
        return f"user:{self.tenant_id}:{self.id}"

    def touch(self) -> None:
        """Record a change: a new version (ETag) and update time."""
        self.version = (self.version or 0) + 1
        self.updated_at = clock.now()

    def disable(self) -> None:
        """Disable the user: stays readable, cannot sign in."""
        if self.status == "disabled":
            raise InvalidTransition("the user is already disabled")
        self.status = "disabled"
        self.disabled_at = clock.now()

    def enable(self) -> None:
        """Enable a disabled user."""
        if self.status == "active":
            raise InvalidTransition("the user is already active")
        self.status = "active"
        self.disabled_at = None


class RegisteredUserEmail(db.Model):
    """The blind index of one of a user's e-mails (SCIM `emails`): filters and DSR look-ups never decrypt.

    Rewritten with the user's e-mail list; the addresses themselves are sealed in registered_users.emails_ct.
    """

    __tablename__ = "registered_user_emails"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["registered_users.tenant_id", "registered_users.id"],
                                ondelete="CASCADE", name="fk_registered_user_emails_user"),
        sa.Index("ix_registered_user_emails_bidx", "tenant_id", "value_bidx"),
        sa.Index("ix_registered_user_emails_user", "tenant_id", "user_id"),
        distribution(TENANT),
    )
    __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    user_id: Mapped[uuid.UUID] = mapped_column(info=person_id("registered_user"))
    #: HMAC of the normalised address under the tenant's index key.
    value_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary(16), info=personal(
        "technical_ids", subject="registered_user", plaintext_because=(
            "a keyed hash (blind index) of an e-mail: `emails.value eq` and DSR look-ups match it without "
            "decrypting; irreversible without the tenant's index key, which the purge destroys")))
    #: The SCIM type (work, home, other...), lower-cased: `emails[type eq "work"]` filters on it.
    type: Mapped[str | None] = mapped_column(sa.String(32), info=person_state("registered_user"))
    #: Whether the identity provider marked this address primary.
    primary: Mapped[bool] = mapped_column(sa.Boolean, default=False, info=person_state("registered_user"))


class UserGroup(db.Model):
    """A group of a tenant's users (SCIM Groups); the `admins` group is virtual and maps to the role."""

    __tablename__ = "user_groups"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "external_id"), distribution(TENANT))
    __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    #: An organisational label ("Engineering"); group names are not about a person, so stored plain
    #: and filterable.
    display_name: Mapped[str] = mapped_column(sa.String(255), info=not_personal())
    #: The identity provider's id for this group.
    external_id: Mapped[str | None] = mapped_column(sa.String(255), info=not_personal())
    #: Bumped on every change: the SCIM ETag / meta.version.
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1", info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now, info=not_personal())

    #: Stored groups never map to a role; only the virtual admins group does.
    is_admins = False

    def touch(self) -> None:
        """Record a change: a new version (ETag) and update time."""
        self.version = (self.version or 0) + 1
        self.updated_at = clock.now()


class UserGroupMember(db.Model):
    """Membership of a user in a group; goes with either of them."""

    __tablename__ = "user_group_members"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "group_id"], ["user_groups.tenant_id", "user_groups.id"],
                                ondelete="CASCADE", name="fk_user_group_members_group"),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["registered_users.tenant_id", "registered_users.id"],
                                ondelete="CASCADE", name="fk_user_group_members_user"),
        sa.UniqueConstraint("tenant_id", "group_id", "user_id"),
        sa.Index("ix_user_group_members_user", "tenant_id", "user_id"),
        distribution(TENANT),
    )
    __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    group_id: Mapped[uuid.UUID] = mapped_column(info=not_personal())
    user_id: Mapped[uuid.UUID] = mapped_column(info=person_id("registered_user"))


class UserInvitation(db.Model):
    """A one-time set-password link; only the SHA-256 of its secret is stored."""

    __tablename__ = "user_invitations"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["registered_users.tenant_id", "registered_users.id"],
                                ondelete="CASCADE", name="fk_user_invitations_user"),
        sa.Index("ix_user_invitations_user", "tenant_id", "user_id"),
        distribution(TENANT),
    )
    __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    user_id: Mapped[uuid.UUID] = mapped_column(info=person_id("registered_user"))
    #: SHA-256 of the secret part of the link (high-entropy, so a fast hash is right). Indexed but not
    #: unique: 256 random bits do not collide, and a uniqueness without tenant_id could not be enforced
    #: once the table is distributed by tenant (the link does not name its tenant).
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), index=True, info=personal(
        "credentials", subject="registered_user",
        plaintext_because="a SHA-256 of a one-time 256-bit secret: one-way, and looked up when the link is used"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state("registered_user"))
    expires_at: Mapped[datetime] = mapped_column(info=person_state("registered_user"))
    #: Set when the link is used, or superseded by a newer invitation.
    used_at: Mapped[datetime | None] = mapped_column(info=person_state("registered_user"))
