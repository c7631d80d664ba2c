"""Groups of a tenant's users (provisioned by SCIM). The `admins` group is not stored: its
members are the users whose role is admin, so adding or removing members changes roles.
"""
from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa

from privacy_saas import audit
from privacy_saas.errors import AppError, Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.gates import ensure_readable, ensure_writable
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser, UserGroup, UserGroupMember

ADMINS = "admins"
MAX_GROUP_NAME = 255
_ADMINS_NAMESPACE = uuid.UUID("6f1c1f43-52a4-4c8e-9f57-3b1f1b7a0a11")


class AdminsGroup:
    """The virtual group mapping to role `admin`."""

    display_name = ADMINS
    external_id = None

    def __init__(self, tenant: Tenant, member_ids: list):
        self.tenant_id = tenant.id
        self.id = admins_group_id(tenant)
        self.member_ids = member_ids
        self.created_at = tenant.created_at
        self.updated_at = tenant.updated_at
        digest = hashlib.sha256(b"".join(sorted(m.bytes for m in member_ids))).hexdigest()[:16]
        self.version = digest

    is_admins = True


def admins_group_id(tenant: Tenant) -> uuid.UUID:
    """Return the stable id of the tenant's `admins` group."""
    return uuid.uuid5(_ADMINS_NAMESPACE, str(tenant.id))


def _admin_ids(tenant: Tenant) -> list:
    return list(db.session.scalars(sa.select(RegisteredUser.id).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.role == "admin").order_by(RegisteredUser.id)))


def admins_group(tenant: Tenant) -> AdminsGroup:
    """Return the `admins` group with its current members."""
    return AdminsGroup(tenant, _admin_ids(tenant))


def get(tenant: Tenant, group_id):
    """Return the tenant's group (or the admins group); another tenant's is NotFound."""
    ensure_readable(tenant)
    if group_id == admins_group_id(tenant):
        return admins_group(tenant)
    group = db.session.get(UserGroup, (tenant.id, group_id)) if group_id is not None else None
    if group is None:
        raise NotFound("no such group")
    return group


def member_ids(tenant: Tenant, group) -> list:
    """Return the ids of the group's members, oldest first."""
    if group.is_admins:
        return group.member_ids
    return list(db.session.scalars(sa.select(UserGroupMember.user_id).where(
        UserGroupMember.tenant_id == tenant.id, UserGroupMember.group_id == group.id)
        .order_by(UserGroupMember.user_id)))


_member_t, _group_t = UserGroupMember.__table__, UserGroup.__table__
#: Built once: every SCIM User rendered asks for its groups (statement construction cost more than the query).
_GROUPS_OF = (
    sa.select(_member_t.c.user_id, _group_t.c.id, _group_t.c.display_name)
    .join(_group_t, sa.and_(_group_t.c.tenant_id == _member_t.c.tenant_id, _group_t.c.id == _member_t.c.group_id))
    .where(_member_t.c.tenant_id == sa.bindparam("tenant_id"),
           _member_t.c.user_id.in_(sa.bindparam("user_ids", expanding=True))))


def groups_of(tenant: Tenant, user_ids: list) -> dict:
    """Return {user id: [(group id, display name), ...]} for these users (the admins group is the caller's)."""
    out: dict = {uid: [] for uid in user_ids}
    if not user_ids:
        return out
    rows = db.session.connection().execute(_GROUPS_OF, {"tenant_id": tenant.id, "user_ids": list(user_ids)})
    for user_id, group_id, name in rows:
        out[user_id].append((group_id, name))
    return out


def query(tenant: Tenant) -> sa.Select:
    """Return the select of the tenant's stored groups (the admins group is listed separately)."""
    ensure_readable(tenant)
    return sa.select(UserGroup).where(UserGroup.tenant_id == tenant.id).order_by(UserGroup.id)


def _check(display_name, external_id) -> str:
    errors = {}
    if not isinstance(display_name, str) or not 0 < len(display_name.strip()) <= MAX_GROUP_NAME:
        errors["displayName"] = [f"must be text of 1 to {MAX_GROUP_NAME} characters"]
    if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 255):
        errors["externalId"] = ["must be text of 1 to 255 characters"]
    if errors:
        raise AppError("the request is invalid", code="invalid_input", errors=errors)
    if display_name.strip().lower() == ADMINS:
        raise Conflict("the admins group exists and maps to the admin role", code="group_exists")
    return display_name.strip()


def _check_external_id(tenant: Tenant, external_id, exclude=None) -> None:
    if external_id is None:
        return
    other = db.session.scalar(sa.select(UserGroup.id).where(
        UserGroup.tenant_id == tenant.id, UserGroup.external_id == external_id))
    if other is not None and other != exclude:
        raise Conflict("a group with this external id exists in this tenant", code="external_id_exists")


def _resolve_members(tenant: Tenant, ids, *, skip_unknown: bool = False) -> tuple[list, list[str]]:
    """Return the user ids and the ids skipped: any that is not a user of this tenant is refused (the same
    answer for both), or with `skip_unknown` left out and returned."""
    wanted, skipped = set(), []
    for raw in ids:
        try:
            wanted.add(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            if not skip_unknown:
                raise AppError("a member is not a user of this tenant", code="invalid_member") from None
            skipped.append(str(raw)[:64])
    if not wanted:
        return [], skipped
    found = set(db.session.scalars(sa.select(RegisteredUser.id).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.id.in_(wanted))))
    if found != wanted:
        if not skip_unknown:
            raise AppError("a member is not a user of this tenant", code="invalid_member")
        skipped.extend(sorted(str(m) for m in wanted - found))
    return sorted(found), skipped


def create(tenant: Tenant, display_name: str, *, external_id=None, members=(), actor=None) -> UserGroup:
    """Create a group with members (user ids of this tenant)."""
    ensure_writable(tenant)
    name = _check(display_name, external_id)
    _check_external_id(tenant, external_id)
    member_list, _ = _resolve_members(tenant, members)
    group = UserGroup(tenant_id=tenant.id, display_name=name, external_id=external_id, version=1)
    db.session.add(group)
    db.session.flush()
    db.session.add_all(UserGroupMember(tenant_id=tenant.id, group_id=group.id, user_id=m) for m in member_list)
    db.session.flush()
    audit.record("group.create", tenant_id=tenant.id, targets=[group.id], actor=actor,
                 detail={"members": len(member_list)})
    return group


def update(tenant: Tenant, group, *, display_name=None, external_id=..., members=None, skip_unknown=False,
           actor=None):
    """Change a group's name, external id, or (when `members` is given) its exact member list.

    With `skip_unknown`, member ids that are no user of the tenant are left out instead of refusing the
    change; the audit entry names them.
    """
    ensure_writable(tenant)
    resolved, skipped = _resolve_members(tenant, members, skip_unknown=skip_unknown) if members is not None \
        else (None, [])
    if group.is_admins:
        if display_name is not None and display_name.strip().lower() != ADMINS:
            raise AppError("the admins group cannot be renamed", code="immutable")
        if external_id not in (..., None):
            raise AppError("the admins group has no external id", code="immutable")
        if resolved is not None:
            set_admins(tenant, resolved, actor=actor)
        if skipped:
            _record_skipped(tenant, group, skipped, actor)
        return admins_group(tenant)
    changed = []
    if display_name is not None and display_name != group.display_name:
        group.display_name = _check(display_name, None)
        changed.append("displayName")
    if external_id is not ... and external_id != group.external_id:
        _check(group.display_name, external_id)
        _check_external_id(tenant, external_id, exclude=group.id)
        group.external_id = external_id
        changed.append("externalId")
    if resolved is not None:
        wanted = set(resolved)
        current = set(member_ids(tenant, group))
        if wanted != current:
            _change_members(tenant, group, add=wanted - current, remove=current - wanted)
            changed.append("members")
    if changed:
        group.touch()
        db.session.flush()
        detail = {"fields": changed, **({"skipped_members": skipped} if skipped else {})}
        audit.record("group.update", tenant_id=tenant.id, targets=[group.id], actor=actor, detail=detail)
    elif skipped:
        _record_skipped(tenant, group, skipped, actor)
    return group


def _record_skipped(tenant: Tenant, group, skipped: list[str], actor) -> None:
    audit.record("group.update", tenant_id=tenant.id, targets=[group.id], actor=actor,
                 detail={"fields": [], "skipped_members": skipped})


def _change_members(tenant: Tenant, group, *, add=(), remove=()) -> None:
    if remove:
        db.session.execute(sa.delete(UserGroupMember).where(
            UserGroupMember.tenant_id == tenant.id, UserGroupMember.group_id == group.id,
            UserGroupMember.user_id.in_(list(remove))))
    if add:
        db.session.add_all(UserGroupMember(tenant_id=tenant.id, group_id=group.id, user_id=m) for m in add)
    db.session.flush()


def add_members(tenant: Tenant, group, ids, *, actor=None):
    """Add users to a group (already present ones are left)."""
    wanted = set(_resolve_members(tenant, ids)[0])
    return update(tenant, group, members=sorted(wanted | set(member_ids(tenant, group))), actor=actor)


def remove_members(tenant: Tenant, group, ids, *, actor=None):
    """Remove users from a group (absent ones are ignored)."""
    drop = set()
    for raw in ids:
        try:
            drop.add(uuid.UUID(str(raw)))
        except ValueError:
            continue
    return update(tenant, group, members=[m for m in member_ids(tenant, group) if m not in drop], actor=actor)


def set_admins(tenant: Tenant, admin_ids: list, *, actor=None) -> None:
    """Make exactly these users admins (others become members); the last-admin rule applies."""
    wanted = set(admin_ids)
    current = set(_admin_ids(tenant))
    # Promote first, so swapping the only admin for another keeps one at every step.
    for user_id in sorted(wanted - current):
        users.update(tenant, users.get(tenant, user_id), role="admin", actor=actor)
    for user_id in sorted(current - wanted):
        users.update(tenant, users.get(tenant, user_id), role="member", actor=actor)


def remove(tenant: Tenant, group, *, actor=None) -> None:
    """Delete a group (its users stay)."""
    ensure_writable(tenant)
    if group.is_admins:
        raise AppError("the admins group maps to the admin role and cannot be deleted", code="immutable")
    group_id = group.id
    db.session.delete(group)
    db.session.flush()
    audit.record("group.remove", tenant_id=tenant.id, targets=[group_id], actor=actor)

