"""Registered users of a tenant: look up, add, change, disable, remove; admins named in tenant files.

Every change is an instruction of the tenant (the controller) and is audited. Lookups by
e-mail go through the blind index: nothing is decrypted to search. Invitations, CSV imports
and sign-in have modules of their own.
"""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from privacy_saas import audit, clock
from privacy_saas.auth.passwords import hash_password
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.db import insert_now
from privacy_saas.errors import AppError, Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.gates import HOLDING, ensure_readable, ensure_writable
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.identity import (
    email_index,
    external_id_index,
    holds_email,
    index_matches,
    product_address,
    set_emails,
)
from privacy_saas.processor.users.invitations import Invitation, invite_user
from privacy_saas.processor.users.models import RegisteredUser, RegisteredUserEmail
from privacy_saas.processor.users.validation import MAX_EMAIL, check_email, check_emails, check_fields

log = logging.getLogger(__name__)

#: What a data-subject rectification may change.
RECTIFIABLE = ("display_name", "given_name", "family_name")
#: (tenant, blind index) pairs per query when users are looked up across tenants on SQLite.
PAIRS_PER_QUERY = 500


def _lock_tenant(tenant: Tenant) -> None:
    # Serialises admin-count checks of one tenant on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
    db.session.execute(sa.select(Tenant.id).where(Tenant.id == tenant.id).with_for_update())


# --- reading -------------------------------------------------------------------------------

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
    user = db.session.scalar(sa.select(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.email_bidx == email_index(tenant, email)))
    return user if user is None or index_matches(user) else None


def match_email_indexes(pairs) -> list[RegisteredUser]:
    """Return the users matching a (tenant id, blind index) of `pairs`, by tenant, each confirmed by
    `index_matches` as `find_by_email` confirms its one.

    For look-ups across tenants (a DSR, a plan over every tenant file).
    """
    pairs = list(pairs)
    if not pairs:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        # The pairs as two arrays, joined: one statement of two parameters however many tenants
        # (10,000 pairs: 0.14 s, where VALUES lists of a thousand took 1.4 s and ORs 1.6 s).
        wanted = sa.func.unnest(sa.cast([t for t, _ in pairs], postgresql.ARRAY(sa.Uuid)),
                                sa.cast([b for _, b in pairs], postgresql.ARRAY(sa.LargeBinary))
                                ).table_valued("tenant_id", "email_bidx").render_derived(name="wanted")
        found = db.session.scalars(
            sa.select(RegisteredUser).join(wanted, sa.and_(RegisteredUser.tenant_id == wanted.c.tenant_id,
                                                           RegisteredUser.email_bidx == wanted.c.email_bidx))
            .order_by(RegisteredUser.tenant_id)).all()
    else:
        found = []
        for start in range(0, len(pairs), PAIRS_PER_QUERY):
            # SQLite uses the unique (tenant_id, email_bidx) index for an OR of equalities.
            found += db.session.scalars(sa.select(RegisteredUser).where(sa.or_(*(
                sa.and_(RegisteredUser.tenant_id == tenant_id, RegisteredUser.email_bidx == bidx)
                for tenant_id, bidx in pairs[start:start + PAIRS_PER_QUERY]))).order_by(RegisteredUser.tenant_id)).all()
    return [user for user in found if index_matches(user)]


def find_by_user_name(tenant: Tenant, user_name: str) -> RegisteredUser | None:
    """Return the tenant's user with this sign-in name (SCIM userName), found by blind index."""
    ensure_readable(tenant)
    if not user_name or len(user_name) > MAX_EMAIL:
        return None
    user = db.session.scalar(sa.select(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.user_name_bidx == email_index(tenant, user_name)))
    return user if user is None or index_matches(user) else None


def find_by_external_id(tenant: Tenant, external_id: str) -> RegisteredUser | None:
    """Return the tenant's user with this identity-provider id, found by blind index."""
    user = db.session.scalar(sa.select(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id,
        RegisteredUser.external_id_bidx == external_id_index(tenant, external_id)))
    return user if user is None or index_matches(user) else None


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
        stmt = stmt.where(RegisteredUser.external_id_bidx == external_id_index(tenant, external_id))
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
    items, total = page(query(tenant, status=status, role=role, email=email), (page_number - 1) * page_size, page_size)
    if email is not None and not all(index_matches(user) for user in items):
        return [], 0  # the index is unique per tenant: the only row found is not the address
    return items, total


def find_everywhere(email: str) -> tuple[list[tuple[uuid.UUID, uuid.UUID]], int]:
    """Return (tenant id, user id) of this e-mail's user in every tenant holding data, and how many
    tenants could not be searched (their index key is crypto-shredded)."""
    tenant_ids = db.session.scalars(
        sa.select(Tenant.id).where(Tenant.status.in_(HOLDING)).order_by(Tenant.id)).all()
    # Every tenant has its own index key: one blind index each, the keys read in bulk.
    indexes = keyring().blind_indexes((tenant_scope(tenant_id), email) for tenant_id in tenant_ids)
    pairs = [(tenant_id, bidx) for tenant_id in tenant_ids
             if (bidx := indexes.get((tenant_scope(tenant_id), email))) is not None]
    found = {(user.tenant_id, user.id) for user in match_email_indexes(pairs)}
    # Any other e-mail of the person, or their sign-in name. A row is returned only when its own indexes
    # are its values' and its decrypted addresses hold the one searched (a copied index finds nobody).
    others = {tuple(row) for row in _match_pairs(
        pairs, sa.select(RegisteredUserEmail.tenant_id, RegisteredUserEmail.user_id),
        RegisteredUserEmail.tenant_id, RegisteredUserEmail.value_bidx)}
    others |= {tuple(row) for row in _match_pairs(
        pairs, sa.select(RegisteredUser.tenant_id, RegisteredUser.id), RegisteredUser.tenant_id,
        RegisteredUser.user_name_bidx)}
    for pair in sorted(others - found, key=lambda p: (str(p[0]), str(p[1]))):
        user = db.session.get(RegisteredUser, pair)
        if user is not None and index_matches(user) and holds_email(user, email):
            found.add(pair)
    return sorted(found, key=lambda p: (str(p[0]), str(p[1]))), len(tenant_ids) - len(pairs)


def _match_pairs(pairs: list, stmt: sa.Select, tenant_column, index_column) -> list:
    """Return the rows of `stmt` whose (tenant, index) is one of `pairs`, as match_email_indexes finds them."""
    if not pairs:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        wanted = sa.func.unnest(sa.cast([t for t, _ in pairs], postgresql.ARRAY(sa.Uuid)),
                                sa.cast([b for _, b in pairs], postgresql.ARRAY(sa.LargeBinary))
                                ).table_valued("tenant_id", "bidx").render_derived(name="wanted")
        return db.session.execute(stmt.join(wanted, sa.and_(tenant_column == wanted.c.tenant_id,
                                                            index_column == wanted.c.bidx))).all()
    rows = []
    for start in range(0, len(pairs), PAIRS_PER_QUERY):
        rows += db.session.execute(stmt.where(sa.or_(*(
            sa.and_(tenant_column == tenant_id, index_column == bidx)
            for tenant_id, bidx in pairs[start:start + PAIRS_PER_QUERY])))).all()
    return rows


def count_active_admins(tenant: Tenant) -> int:
    """Return how many active admins the tenant has."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.role == "admin",
        RegisteredUser.status == "active"))


# --- writing -------------------------------------------------------------------------------

_UNIQUE = {
    "user_name": ("a user with this userName exists in this tenant", "user_exists"),
    "email": ("a user with this e-mail exists in this tenant", "user_exists"),
    "external_id": ("a user with this external id exists in this tenant", "external_id_exists"),
}


def _finders(tenant: Tenant) -> dict:
    return {"user_name": lambda v: find_by_user_name(tenant, v), "email": lambda v: find_by_email(tenant, v),
            "external_id": lambda v: find_by_external_id(tenant, v)}


def _flush_unique(tenant: Tenant, user: RegisteredUser, unique: dict, *, alone: bool) -> None:
    """Flush a new `user`, turning a violated unique constraint (userName, e-mail, external id) into a Conflict.

    `alone`: the user is the transaction's only change (one SCIM or API create), so a violation may
    roll the whole transaction back; otherwise the row flushes in a SAVEPOINT and only it goes.
    """
    try:
        if alone:
            insert_now(db.session, user)
        else:
            with db.session.begin_nested():
                insert_now(db.session, user)
    except sa.exc.IntegrityError:
        if alone:
            db.session.rollback()
        _check_unique(tenant, unique, exclude=user.id)
        raise Conflict("a user with this userName, e-mail or external id exists in this tenant",
                       code="user_exists") from None


def _check_unique(tenant: Tenant, unique: dict, exclude=None) -> None:
    """Raise Conflict when another user of the tenant holds one of these {field: value} (None: not checked)."""
    finders = _finders(tenant)
    for field_name, value in unique.items():
        if value is None:
            continue
        other = finders[field_name](value)
        if other is not None and other.id != exclude:
            message, code = _UNIQUE[field_name]
            raise Conflict(message, code=code)


def create(tenant: Tenant, *, email: str | None = None, user_name: str | None = None, emails: list | None = None,
           display_name: str | None = None, given_name: str | None = None, family_name: str | None = None,
           role: str = "member", external_id: str | None = None, contact: dict | None = None,
           profile: dict | None = None, enterprise: dict | None = None, password: str | None = None,
           active: bool = True, strict_email: bool = True, invite: bool = False, alone: bool = False,
           actor=None) -> RegisteredUser:
    """Add a user to the tenant; with `invite`, issue a set-password link (on `user.invitation`).

    `alone`: this user is the only change of the caller's transaction (one SCIM or API create): a
    duplicate then rolls the transaction back instead of a SAVEPOINT (one statement pair less per create).

    `email` (the JSON API, imports, the console) is the user's primary work e-mail and, without `user_name`,
    their sign-in name too; SCIM gives `user_name` and the full `emails` list instead.
    """
    ensure_writable(tenant)
    if email is not None:
        email = check_email(email, strict=strict_email)
        if emails is None:
            emails = [{"value": email, "type": "work", "primary": True}]
    user_name = check_email(user_name if user_name is not None else email, strict=False)
    emails = check_emails(emails or [], strict=strict_email)
    check_fields({"display_name": display_name, "given_name": given_name, "family_name": family_name,
                   "role": role, "external_id": external_id, "password": password})
    product_email, email_bidx = product_address(tenant, user_name, emails)
    # No look-up first: the unique constraints (userName, e-mail and external id indexes) decide, and
    # _flush_unique turns a violation into the same Conflict.
    user = RegisteredUser(
        tenant_id=tenant.id, user_name=user_name, user_name_bidx=email_index(tenant, user_name),
        email=product_email, email_bidx=email_bidx, display_name=display_name,
        given_name=given_name, family_name=family_name, role=role, external_id=external_id,
        external_id_bidx=external_id_index(tenant, external_id) if external_id is not None else None,
        contact=contact or None, profile=profile or None, enterprise=enterprise or None, emails=emails or None,
        status="active" if active else "disabled", disabled_at=None if active else clock.now(),
        password_hash=hash_password(password) if password else None, version=1,
    )
    _flush_unique(tenant, user, {"user_name": user_name, "email": product_email, "external_id": external_id},
                  alone=alone)
    set_emails(tenant, user, emails, new=True)
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


def _with_primary(emails: list[dict], email: str, old: str | None) -> list[dict]:
    """Return `emails` with `email` as the primary address (replacing the old product e-mail's entry)."""
    out, placed = [], False
    for entry in emails:
        if not placed and (entry.get("primary") is True or (old is not None and entry.get("value") == old)):
            out.append({**entry, "value": email, "primary": True})
            placed = True
        else:
            out.append({**entry, "primary": False} if entry.get("primary") else entry)
    return out if placed else [{"value": email, "type": "work", "primary": True}, *out]


_UPDATABLE = {"email", "user_name", "emails", "display_name", "given_name", "family_name", "role", "status",
              "external_id", "contact", "profile", "enterprise"}


def update(tenant: Tenant, user: RegisteredUser, *, actor=None, strict_email: bool = True,
           **changes) -> RegisteredUser:
    """Change a user's sign-in name, e-mails, names, profile, role, status or external id (only the keys given).

    `email` sets the primary e-mail (the JSON API's field); a userName that was that e-mail follows it.
    """
    ensure_writable(tenant)
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise AppError("the request is invalid", code="invalid_input",
                       errors={name: ["cannot be changed"] for name in sorted(unknown)})
    check_fields({k: v for k, v in changes.items() if k in ("display_name", "given_name", "family_name", "role",
                                                            "status", "external_id")})
    user_name, emails = user.user_name, user.emails or []
    if "email" in changes:
        email = check_email(changes.pop("email"), strict=strict_email)
        old = user.email
        emails = _with_primary(changes.get("emails", emails), email, old)
        if "user_name" not in changes and old is not None and user_name is not None \
                and user_name.lower() == old.lower():
            changes["user_name"] = email
        changes["emails"] = emails
    # Everything unique is looked up before the row changes: a violation at flush would fail the whole
    # transaction (unlike create, whose new row flushes in a SAVEPOINT).
    changed, unique, sets = [], {}, {}
    if "user_name" in changes:
        user_name = check_email(changes.pop("user_name"), strict=False)
        if user_name != user.user_name:
            bidx = email_index(tenant, user_name)
            if bidx != user.user_name_bidx:
                unique["user_name"] = user_name
            sets.update(user_name=user_name, user_name_bidx=bidx)
            changed.append("user_name")
    new_emails = None
    if "emails" in changes:
        emails = check_emails(changes.pop("emails") or [], strict=strict_email)
        if emails != (user.emails or []):
            new_emails = emails
            changed.append("emails")
    if "user_name" in changed or "emails" in changed:
        email, bidx = product_address(tenant, user_name, emails)
        if email != user.email:
            if bidx != user.email_bidx and email is not None:
                unique["email"] = email
            sets.update(email=email, email_bidx=bidx)
            changed.append("email")
    if "external_id" in changes:
        external_id = changes.pop("external_id")
        if external_id != user.external_id:
            sets.update(external_id=external_id, external_id_bidx=(
                external_id_index(tenant, external_id) if external_id is not None else None))
            if external_id is not None:
                unique["external_id"] = external_id
            changed.append("external_id")
    _check_unique(tenant, unique, exclude=user.id)
    for name, value in sets.items():
        setattr(user, name, value)
    if new_emails is not None:
        set_emails(tenant, user, new_emails, new=False)
    status = changes.pop("status", user.status)
    _guard_last_admin(tenant, user, role=changes.get("role", user.role), status=status)
    for name, value in changes.items():
        if name in ("contact", "profile", "enterprise"):
            value = value or None
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if status != user.status:
        user.disable() if status == "disabled" else user.enable()
        changed.append("status")
    if not changed:
        return user
    user.touch()
    db.session.flush()
    audit.record("user.update", tenant_id=tenant.id, targets=[user.id], actor=actor,
                 detail={"fields": sorted(changed), "role": user.role, "status": user.status})
    return user


def disable(tenant: Tenant, user: RegisteredUser, *, actor=None) -> RegisteredUser:
    """Disable a user (stays readable, cannot sign in)."""
    return update(tenant, user, status="disabled", actor=actor)


def enable(tenant: Tenant, user: RegisteredUser, *, actor=None) -> RegisteredUser:
    """Enable a disabled user."""
    return update(tenant, user, status="active", actor=actor)


def remove(tenant: Tenant, user: RegisteredUser, *, actor=None, on_instruction: bool = False) -> None:
    """Erase a user now: the row goes (its usage data, memberships, invitations cascade with it).

    On the tenant's instruction (an erasure request), an ended tenant's user can be erased too,
    until the purge. The audit entry keeps only the id, a non-personal tombstone.
    """
    ensure_readable(tenant) if on_instruction else ensure_writable(tenant)
    _guard_last_admin(tenant, user, role="member", status="disabled")
    user_id = user.id
    db.session.delete(user)
    db.session.flush()
    audit.record("user.remove", tenant_id=tenant.id, targets=[user_id], actor=actor)
    log.info("user %s removed from tenant %s", user_id, tenant.id)


def rectify(tenant: Tenant, user: RegisteredUser, **names) -> RegisteredUser:
    """Correct a user's names on the tenant's instruction (a data-subject request), until the purge.

    The request's own audit entries record it.
    """
    ensure_readable(tenant)
    unknown = set(names) - set(RECTIFIABLE)
    if unknown:
        raise AppError("the request is invalid", code="invalid_input",
                       errors={name: ["cannot be rectified"] for name in sorted(unknown)})
    check_fields(names)
    changed = sorted(name for name, value in names.items() if getattr(user, name) != value)
    for name in changed:
        setattr(user, name, names[name])
    if changed:
        user.touch()
        db.session.flush()
    return user


def restrict_processing(tenant: Tenant, user: RegisteredUser, restricted: bool = True) -> RegisteredUser:
    """Stop (or resume) ingesting the user's usage data (Art. 18), on the tenant's instruction, until the purge."""
    ensure_readable(tenant)
    user.processing_restricted = restricted
    db.session.flush()
    return user


# --- admins named in tenant files ----------------------------------------------------------

def admins_to_provision(wanted: dict[Tenant, tuple]) -> dict:
    """Return, for each tenant of `wanted` ({tenant: ((email, name), ...)}), the entries not yet its admins.

    One look-up for all the tenants: a plan over every tenant file asks for each of them.
    """
    indexes = keyring().blind_indexes((tenant_scope(tenant.id), email)
                                      for tenant, admins in wanted.items() for email, _name in admins)
    pairs = [(tenant.id, indexes[key]) for tenant, admins in wanted.items() for email, _name in admins
             if (key := (tenant_scope(tenant.id), email)) in indexes]
    admins = {(user.tenant_id, user.email_bidx) for user in match_email_indexes(pairs) if user.role == "admin"}
    return {tenant.id: [(email, name) for email, name in entries
                        if (tenant.id, indexes.get((tenant_scope(tenant.id), email))) not in admins]
            for tenant, entries in wanted.items()}


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
