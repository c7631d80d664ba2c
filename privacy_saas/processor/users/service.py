"""Registered users of a tenant: look up, add, change, disable, remove, sign in, invite.

Every change is an instruction of the tenant (the controller) and is audited. Lookups by
e-mail go through the blind index: nothing is decrypted to search.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from marshmallow import ValidationError, validate

from privacy_saas import audit, clock
from privacy_saas.auth.passwords import hash_password, verify_password
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.errors import AppError, Conflict, Forbidden, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.tenants.gates import ensure_readable, ensure_writable
from privacy_saas.processor.usage import partitions
from privacy_saas.processor.users.models import ROLES, STATUSES, RegisteredUser, UserInvitation

log = logging.getLogger(__name__)

MAX_EMAIL = 254
MAX_NAME = 200
MIN_PASSWORD_LENGTH = 12
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
INVITATION_TTL = timedelta(hours=72)
#: Where the console serves the set-password page; the secret follows.
SET_PASSWORD_PATH = "/console/t/set-password/"
_is_email = validate.Email(error="not a valid e-mail address")


def _lock_tenant(tenant: Tenant) -> None:
    # Serialises admin-count checks of one tenant on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
    db.session.execute(sa.select(Tenant.id).where(Tenant.id == tenant.id).with_for_update())


# --- reading -------------------------------------------------------------------------------

def email_index(tenant: Tenant, email: str) -> bytes:
    """Return the blind index of `email` in the tenant's scope."""
    return keyring().email_index(tenant_scope(tenant.id), email)


def get(tenant: Tenant, user_id) -> RegisteredUser:
    """Return the tenant's user `user_id`; another tenant's (or no) user is NotFound."""
    ensure_readable(tenant)
    user = db.session.get(RegisteredUser, (tenant.id, user_id)) if user_id is not None else None
    if user is None:
        raise NotFound("no such user")
    return user


def find_by_email(tenant: Tenant, email: str) -> RegisteredUser | None:
    """Return the tenant's user with this e-mail, found by blind index."""
    ensure_readable(tenant)
    if not email or len(email) > MAX_EMAIL:
        return None
    return db.session.scalar(sa.select(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.email_bidx == email_index(tenant, email)))


def find_by_external_id(tenant: Tenant, external_id: str) -> RegisteredUser | None:
    """Return the tenant's user with this identity-provider id."""
    return db.session.scalar(sa.select(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.external_id == external_id))


def query(tenant: Tenant, *, status: str | None = None, role: str | None = None,
          email: str | None = None, external_id: str | None = None) -> sa.Select:
    """Return the select of the tenant's users matching every given filter, oldest first."""
    ensure_readable(tenant)
    stmt = sa.select(RegisteredUser).where(RegisteredUser.tenant_id == tenant.id)
    if status:
        stmt = stmt.where(RegisteredUser.status == status)
    if role:
        stmt = stmt.where(RegisteredUser.role == role)
    if email is not None:
        stmt = stmt.where(RegisteredUser.email_bidx == email_index(tenant, email))
    if external_id is not None:
        stmt = stmt.where(RegisteredUser.external_id == external_id)
    return stmt.order_by(RegisteredUser.id)


def page(stmt: sa.Select, offset: int, limit: int) -> tuple[list, int]:
    """Return one page of `stmt` and the total count."""
    items = list(db.session.scalars(stmt.offset(offset).limit(limit))) if limit > 0 else []
    if offset == 0 and len(items) < limit:
        return items, len(items)  # a short first page is the whole result: no count query
    # count(*) over the same FROM/WHERE, not over a subquery of every column (index-only on PostgreSQL).
    total = db.session.scalar(stmt.with_only_columns(sa.func.count(), maintain_column_froms=True).order_by(None))
    return items, total


def list_for(tenant: Tenant, *, status=None, role=None, email=None, page_number: int = 1,
             page_size: int = 50) -> tuple[list[RegisteredUser], int]:
    """Return a page of the tenant's users (filtered by status, role, exact e-mail) and the total."""
    return page(query(tenant, status=status, role=role, email=email),
                (page_number - 1) * page_size, page_size)


def count_active_admins(tenant: Tenant) -> int:
    """Return how many active admins the tenant has."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.role == "admin",
        RegisteredUser.status == "active"))


# --- validation ----------------------------------------------------------------------------

def check_email(email: str | None, *, strict: bool = True) -> str:
    """Return `email` trimmed, or raise AppError; SCIM user names need not be e-mails (strict=False)."""
    value = (email or "").strip()
    errors = []
    if not value:
        errors.append("is required")
    elif len(value) > MAX_EMAIL:
        errors.append(f"must have at most {MAX_EMAIL} characters")
    elif strict:
        try:
            _is_email(value)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise AppError("the e-mail address is invalid", code="invalid_input", errors={"email": errors})
    return value


def _check_fields(values: dict) -> None:
    errors = {}
    for name in ("display_name", "given_name", "family_name"):
        value = values.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
            errors[name] = [f"must be text of at most {MAX_NAME} characters"]
    if "role" in values and values["role"] not in ROLES:
        errors["role"] = [f"must be one of: {', '.join(ROLES)}"]
    if "status" in values and values["status"] not in STATUSES:
        errors["status"] = [f"must be one of: {', '.join(STATUSES)}"]
    external_id = values.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 255):
        errors["external_id"] = ["must be text of 1 to 255 characters"]
    password = values.get("password")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"must have at least {MIN_PASSWORD_LENGTH} characters"]
    if errors:
        raise AppError("the request is invalid", code="invalid_input", errors=errors)


# --- writing -------------------------------------------------------------------------------

def _flush_unique(tenant: Tenant, user: RegisteredUser, email: str | None) -> None:
    """Flush `user`, turning a violated unique constraint (e-mail index, external id) into a Conflict."""
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except sa.exc.IntegrityError:
        if email is not None and find_by_email(tenant, email) is not None:
            raise Conflict("a user with this e-mail exists in this tenant", code="user_exists") from None
        raise Conflict("a user with this external id exists in this tenant", code="external_id_exists") from None


def _check_unique(tenant: Tenant, email: str | None, external_id: str | None, exclude=None) -> None:
    if email is not None:
        other = find_by_email(tenant, email)
        if other is not None and other.id != exclude:
            raise Conflict("a user with this e-mail exists in this tenant", code="user_exists")
    if external_id is not None:
        other = find_by_external_id(tenant, external_id)
        if other is not None and other.id != exclude:
            raise Conflict("a user with this external id exists in this tenant", code="external_id_exists")


def create(tenant: Tenant, *, email: str, display_name: str | None = None, given_name: str | None = None,
           family_name: str | None = None, role: str = "member", external_id: str | None = None,
           password: str | None = None, active: bool = True, strict_email: bool = True,
           invite: bool = False, actor=None) -> RegisteredUser:
    """Add a user to the tenant; with `invite`, issue a set-password link (on `user.invitation`)."""
    ensure_writable(tenant)
    email = check_email(email, strict=strict_email)
    _check_fields({"display_name": display_name, "given_name": given_name, "family_name": family_name,
                   "role": role, "external_id": external_id, "password": password})
    # No look-up first: the (tenant, e-mail index) and (tenant, external id) unique constraints
    # decide, and _flush_unique turns a violation into the same Conflict.
    user = RegisteredUser(
        tenant_id=tenant.id, email=email, email_bidx=email_index(tenant, email), display_name=display_name,
        given_name=given_name, family_name=family_name, role=role, external_id=external_id,
        status="active" if active else "disabled", disabled_at=None if active else clock.now(),
        password_hash=hash_password(password) if password else None, version=1,
    )
    _flush_unique(tenant, user, email)
    audit.record("user.create", tenant_id=tenant.id, targets=[user.id], actor=actor,
                 detail={"role": role, "status": user.status, "scim": external_id is not None})
    log.info("user %s created in tenant %s", user.id, tenant.id)
    user.invitation = invite_user(tenant, user, actor=actor) if invite else None
    return user


def _guard_last_admin(tenant: Tenant, user: RegisteredUser, *, role: str, status: str) -> None:
    """Refuse a change that leaves the tenant with no active admin."""
    if user.role != "admin" or user.status != "active" or (role == "admin" and status == "active"):
        return
    _lock_tenant(tenant)
    if count_active_admins(tenant) <= 1:
        raise Conflict("this is the tenant's last active admin; make another user admin first",
                       code="last_admin")


def update(tenant: Tenant, user: RegisteredUser, *, actor=None, strict_email: bool = True,
           **changes) -> RegisteredUser:
    """Change a user's e-mail, names, role, status or external id (only the keys given)."""
    ensure_writable(tenant)
    allowed = {"email", "display_name", "given_name", "family_name", "role", "status", "external_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise AppError("the request is invalid", code="invalid_input",
                       errors={name: ["cannot be changed"] for name in sorted(unknown)})
    _check_fields({k: v for k, v in changes.items() if k != "email"})
    changed = []
    new_email = None
    if "email" in changes:
        email = check_email(changes.pop("email"), strict=strict_email)
        bidx = email_index(tenant, email)
        if bidx != user.email_bidx:
            # Looked up first, unlike create: begin_nested() in _flush_unique flushes this already
            # modified row outside its SAVEPOINT, so a violation there would fail the whole transaction.
            _check_unique(tenant, email, None, exclude=user.id)
            user.email, user.email_bidx, new_email = email, bidx, email
            changed.append("email")
        elif user.email != email:
            user.email = email
            changed.append("email")
    if changes.get("external_id") is not None and changes["external_id"] != user.external_id:
        _check_unique(tenant, None, changes["external_id"], exclude=user.id)
    status = changes.pop("status", user.status)
    _guard_last_admin(tenant, user, role=changes.get("role", user.role), status=status)
    for name, value in changes.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if status != user.status:
        user.disable() if status == "disabled" else user.enable()
        changed.append("status")
    if not changed:
        return user
    user.touch()
    if "email" in changed or "external_id" in changed:
        _flush_unique(tenant, user, new_email)
    else:
        db.session.flush()  # no unique column changed: no SAVEPOINT needed
    audit.record("user.update", tenant_id=tenant.id, targets=[user.id], actor=actor,
                 detail={"fields": sorted(changed), "role": user.role, "status": user.status})
    return user


def disable(tenant: Tenant, user: RegisteredUser, *, actor=None) -> RegisteredUser:
    """Disable a user (stays readable, cannot sign in)."""
    return update(tenant, user, status="disabled", actor=actor)


def enable(tenant: Tenant, user: RegisteredUser, *, actor=None) -> RegisteredUser:
    """Enable a disabled user."""
    return update(tenant, user, status="active", actor=actor)


def remove(tenant: Tenant, user: RegisteredUser, *, actor=None) -> None:
    """Erase a user now: the row goes (its usage data, memberships, invitations cascade with it).

    The audit entry keeps only the id, a non-personal tombstone.
    """
    ensure_writable(tenant)
    _guard_last_admin(tenant, user, role="member", status="disabled")
    user_id = user.id
    partitions.plan_for_the_parameters(db.session)  # the cascade into usage_events
    db.session.delete(user)
    db.session.flush()
    audit.record("user.remove", tenant_id=tenant.id, targets=[user_id], actor=actor)
    log.info("user %s removed from tenant %s", user_id, tenant.id)


# --- sign-in -------------------------------------------------------------------------------

def authenticate(tenant: Tenant, email: str, password: str) -> RegisteredUser | None:
    """Return the user if the password is right and they may sign in now (else None).

    Once the tenant has ended, only its admins may sign in (to read and export).
    """
    if tenant.status in ("purging", "purged"):
        verify_password(None, password)
        return None
    user = find_by_email(tenant, email) if email else None
    now = clock.now()

    def failed(reason: str, **detail) -> None:
        # By user id when the account exists; the typed e-mail is never recorded.
        audit.record("user.login", tenant_id=tenant.id, targets=[user.id] if user else [], outcome="failed",
                     actor=("registered_user", user.id) if user else ("anonymous", None),
                     detail={"reason": reason, **detail})

    if user is not None and user.locked_until is not None and user.locked_until > now:
        verify_password(None, password)
        failed("locked")
        return None
    if user is None or not verify_password(user.password_hash, password):
        locked = False
        if user is None:
            verify_password(None, password)
        else:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until = now + LOCKOUT
                user.failed_logins = 0
                locked = True
                log.warning("user %s locked after repeated failed sign-ins", user.id)
        failed("bad_credentials" if user is not None else "unknown_account", locked=locked)
        return None
    if user.status != "active" or (not tenant.accepts_writes and user.role != "admin"):
        failed("not_allowed")
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("user.login", tenant_id=tenant.id, targets=[user.id], actor=("registered_user", user.id))
    return user


def verify_password_dummy(password: str) -> None:
    """Spend a password check's time when there is no account (no timing oracle)."""
    verify_password(None, password)


def load_session_user(rest: str) -> RegisteredUser | None:
    """Flask-Login loader for `user:<tenant_id>:<user_id>` sessions."""
    import uuid

    tenant_part, _, user_part = rest.partition(":")
    try:
        key = (uuid.UUID(tenant_part), uuid.UUID(user_part))
    except ValueError:
        return None
    from privacy_saas import rls

    rls.scope_to_tenant(key[0])  # the signed-in user's requests work for their tenant only
    user = db.session.get(RegisteredUser, key)
    if user is None or user.status != "active":
        return None
    if user.tenant.status in ("purging", "purged"):
        return None
    if not user.tenant.accepts_writes and user.role != "admin":
        return None
    return user


# --- invitations ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Invitation:
    """A freshly issued set-password link: shown once to the inviting admin and mailed."""

    url: str
    expires_at: object


def _token_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _public_base() -> str:
    # A configured public URL wins over the request's Host header (no link poisoning).
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost:5000"


def invite_user(tenant: Tenant, user: RegisteredUser, *, actor=None) -> Invitation:
    """Issue a one-time set-password link (72 h), mail it, and return it; older links stop working."""
    import secrets

    from privacy_saas import mail

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
    url = f"{_public_base()}{SET_PASSWORD_PATH}{secret}"
    greeting = f"Hello {user.display_name}," if user.display_name else "Hello,"
    mail.send(mail.Message(
        tenant_id=tenant.id,
        to=user.email,
        subject=f"Your {tenant.name} account: set your password",
        body=(f"{greeting}\n\nAn administrator of {tenant.name} added you ({user.email}).\n"
              f"Set your password within 72 hours, using this link once:\n\n{url}\n\n"
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
    tenant = db.session.get(Tenant, invitation.tenant_id)
    if user is None or tenant is None or user.status != "active":
        raise NotFound("this link is invalid, expired or already used", code="invitation_invalid")
    if not tenant.accepts_writes and user.role != "admin":
        ensure_writable(tenant)
    ensure_readable(tenant)
    return invitation, user, tenant


def set_password(secret: str, password: str) -> RegisteredUser:
    """Consume an invitation: set the user's password; the link cannot be used again."""
    invitation, user, tenant = find_invitation(secret)
    _check_fields({"password": password})
    # Claim the link atomically, so two concurrent uses cannot both succeed.
    claimed = db.session.execute(sa.update(UserInvitation).where(
        UserInvitation.tenant_id == invitation.tenant_id, UserInvitation.id == invitation.id,
        UserInvitation.used_at.is_(None)).values(used_at=clock.now()))
    if claimed.rowcount != 1:
        raise NotFound("this link is invalid, expired or already used", code="invitation_invalid")
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.touch()
    audit.record("user.password_set", tenant_id=tenant.id, targets=[user.id], actor=("registered_user", user.id))
    return user


# --- admins named in tenant files ----------------------------------------------------------

def admins_to_provision(tenant: Tenant, admins) -> list[tuple[str, str]]:
    """Return the (email, name) entries that are not yet admins of the tenant."""
    return [(email, name) for email, name in admins
            if (user := find_by_email(tenant, email)) is None or user.role != "admin"]


def ensure_admins(tenant: Tenant, admins, *, actor=None) -> list[Invitation]:
    """Make every (email, name) an admin of the tenant: new ones are created and invited."""
    invitations = []
    for email, name in admins:
        user = find_by_email(tenant, email)
        if user is None:
            user = create(tenant, email=email, display_name=name, role="admin", invite=True, actor=actor)
            invitations.append(user.invitation)
        elif user.role != "admin":
            update(tenant, user, role="admin", actor=actor)
    return invitations


# --- bulk import ---------------------------------------------------------------------------

@dataclass
class ImportResult:
    """What an import did: counts, and the rejected rows with their line numbers and errors."""

    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    invitations: list = field(default_factory=list)


class CsvError(AppError):
    """The file is not the expected CSV (nothing was imported)."""

    code = "invalid_csv"


def parse_csv(text: str):
    """Yield (line number, {email, name, role}) for each data row of an `email,name,role` CSV."""
    reader = csv.reader(io.StringIO(text))
    seen_data = False
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        if not seen_data and row[0].strip().lower() == "email":
            seen_data = True  # a header line
            continue
        seen_data = True
        cells = [cell.strip() for cell in row]
        values = {"email": cells[0], "name": cells[1] if len(cells) > 1 else "",
                  "role": (cells[2].lower() if len(cells) > 2 else "") or "member"}
        if len(cells) > 3:
            values["_extra"] = True
        yield reader.line_num, values


def import_rows(tenant: Tenant, rows, *, invite: bool = True, actor=None, on_row=None) -> ImportResult:
    """Add each row's user: a bad row is rejected with its line and writes nothing; existing users are left."""
    ensure_writable(tenant)
    result = ImportResult()
    for line, values in rows:
        try:
            if values.get("_extra"):
                raise AppError("the request is invalid", code="invalid_input",
                               errors={"_row": ["expected 3 columns: email,name,role"]})
            email = check_email(values.get("email"))
            _check_fields({"display_name": values.get("name") or None, "role": values.get("role")})
            if find_by_email(tenant, email) is not None:
                result.unchanged += 1
            else:
                with db.session.begin_nested():
                    user = create(tenant, email=email, display_name=values.get("name") or None,
                                  role=values["role"], invite=invite, actor=actor)
                result.created += 1
                if user.invitation is not None:
                    result.invitations.append(user.invitation)
        except AppError as exc:
            result.rejected += 1
            result.errors.append({"line": line, "code": exc.code,
                                  "errors": exc.errors or {"_row": [exc.message]}})
        if on_row is not None:
            on_row(line)
    audit.record("user.import", tenant_id=tenant.id, actor=actor,
                 detail={"created": result.created, "unchanged": result.unchanged, "rejected": result.rejected})
    return result


def import_csv(tenant: Tenant, text: str, **kwargs) -> ImportResult:
    """Import users from `email,name,role` CSV text."""
    try:
        rows = list(parse_csv(text))
    except csv.Error as exc:
        raise CsvError(f"the file is not valid CSV: {exc}") from None
    return import_rows(tenant, rows, **kwargs)
