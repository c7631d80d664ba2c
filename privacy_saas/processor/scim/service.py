"""SCIM changes and searches over the users and groups services.

The SCIM layer never touches personal data itself: it maps SCIM attributes onto
`users.service` / `users.groups` calls.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from privacy_saas.extensions import db
from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.scim import patch
from privacy_saas.processor.scim.attributes import (
    ENTERPRISE,
    GROUP_ATTRS,
    CONTACT_KEYS,
    PROFILE_KEYS,
    PROFILE_NAME_PARTS,
    READ_ONLY,
)
from privacy_saas.processor.scim.patch import state_from_body, user_state
from privacy_saas.processor.scim.errors import ScimError, invalid_syntax, invalid_value
from privacy_saas.processor.scim.filters import (
    admins_match,
    as_uuid,
    groups_where,
    normalise_attr,
    parse_filter,
    users_where,
)
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users import identity
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser

_MEMBERS = next(a for a in GROUP_ATTRS if a.name == "members")
_MEMBER_PATH = re.compile(r"(?i:members)\[(.+)\]")


def get_user(tenant: Tenant, user_id: str) -> RegisteredUser:
    """Return the tenant's user with the id in a SCIM path (not an id at all: 404 too)."""
    return users.get(tenant, as_uuid(user_id))


def get_group(tenant: Tenant, group_id: str):
    """Return the tenant's group (or the admins group) with the id in a SCIM path."""
    return groups_service.get(tenant, as_uuid(group_id))


# --- searches ----------------------------------------------------------------------------------

def search_users(tenant: Tenant, filter_text: str | None, start: int, count: int) -> tuple[list, int]:
    """Return a page of users matching the SCIM filter, and the total."""
    stmt = users.query(tenant)
    if not filter_text:
        return users.page(stmt, start - 1, count)
    items, total = users.page(stmt.where(users_where(tenant, parse_filter(filter_text))), start - 1, count)
    found = [user for user in items if identity.index_matches(user)]
    return found, total - (len(items) - len(found))


def search_groups(tenant: Tenant, filter_text: str | None, start: int, count: int) -> tuple[list, int]:
    """Return a page of groups (the admins group first) matching the filter, and the total."""
    stmt = groups_service.query(tenant)
    admins = groups_service.admins_group(tenant)
    include_admins = True
    if filter_text:
        tree = parse_filter(filter_text)
        stmt = stmt.where(groups_where(tree))
        include_admins = admins_match(tree, admins)
    offset = start - 1
    head = []
    if include_admins:
        if offset == 0 and count > 0:
            head, count = [admins], count - 1
        else:
            offset -= 1
    stored_total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    stored = list(db.session.scalars(stmt.offset(max(offset, 0)).limit(count))) if count > 0 else []
    return head + stored, stored_total + (1 if include_admins else 0)


# --- users -------------------------------------------------------------------------------------

def _user_fields(state: dict) -> dict:
    """Return the users service's fields for a SCIM state."""
    name = state.get("name") or {}
    profile = {k: state[k] for k in PROFILE_KEYS if k in state}
    name_parts = {k: name[k] for k in PROFILE_NAME_PARTS if k in name}
    if name_parts:
        profile["name"] = name_parts
    contact = {k: state[k] for k in CONTACT_KEYS if state.get(k)}
    return {"user_name": state["userName"], "emails": state.get("emails") or [],
            "display_name": state.get("displayName"), "given_name": name.get("givenName"),
            "family_name": name.get("familyName"), "external_id": state.get("externalId"),
            "profile": profile or None, "contact": contact or None, "enterprise": state.get(ENTERPRISE) or None,
            "status": "active" if state["active"] else "disabled"}


def _reformatted(before: dict, after: dict) -> dict:
    """Keep name.formatted in step when a request changes the name's parts but not the formatted name."""
    old, new = before.get("name") or {}, after.get("name") or {}
    parts = ("givenName", "middleName", "familyName")
    if "formatted" in new and new.get("formatted") == old.get("formatted") \
            and any(old.get(p) != new.get(p) for p in parts):
        formatted = " ".join(new[p] for p in parts if new.get(p))
        after = {**after, "name": {**new, "formatted": formatted}} if formatted else after
    return after


def _save(tenant: Tenant, user: RegisteredUser, before: dict, after: dict) -> RegisteredUser:
    old, new = _user_fields(before), _user_fields(after)
    changes = {k: v for k, v in new.items() if v != old[k]}
    return users.update(tenant, user, strict_email=False, **changes) if changes else user


def create_user(tenant: Tenant, body: dict) -> RegisteredUser:
    """Create a user from a SCIM body; SCIM users sign in through their IdP (no password here)."""
    fields = _user_fields(state_from_body(body))
    active = fields.pop("status") == "active"
    return users.create(tenant, **fields, active=active, strict_email=False, alone=True)


def replace_user(tenant: Tenant, user: RegisteredUser, body: dict) -> RegisteredUser:
    """PUT: replace the user's writable attributes."""
    before = user_state(user)
    return _save(tenant, user, before, state_from_body(body, active=before["active"]))


def patch_user(tenant: Tenant, user: RegisteredUser, body: dict) -> RegisteredUser:
    """PATCH: apply add/replace/remove operations, with or without path, in order."""
    before = user_state(user)
    after = patch.apply(before, body, str(user.id))
    return _save(tenant, user, before, _reformatted(before, after))


def _text(value, name: str, *, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise invalid_value(f"{name} must be a string")
    return value


# --- groups ------------------------------------------------------------------------------------

def _member_values(value) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise invalid_value("members must be a list of {value: user id}")
    ids = []
    for member in value:
        if not isinstance(member, dict) or "value" not in member:
            raise invalid_value("each member needs a value (a user id)")
        if str(member.get("type", "User")).lower() != "user":
            raise invalid_value("only users can be members")
        ids.append(member["value"])
    return ids


def _group_body(body: dict) -> tuple[str, str | None, list]:
    if not isinstance(body, dict):
        raise invalid_syntax("the body must be a JSON object")
    lowered = {normalise_attr(k, d.GROUP): v for k, v in body.items()}
    name = lowered.get("displayname")
    if not isinstance(name, str) or not name.strip():
        raise invalid_value("displayName is required")
    external_id = lowered.get("externalid")
    if external_id is not None and not isinstance(external_id, str):
        raise invalid_value("externalId must be a string")
    return name, external_id, _member_values(lowered.get("members"))


def create_group(tenant: Tenant, body: dict):
    """Create a group from a SCIM body."""
    name, external_id, members = _group_body(body)
    return groups_service.create(tenant, name, external_id=external_id, members=members)


def replace_group(tenant: Tenant, group, body: dict):
    """PUT: replace the group's name, external id and members."""
    name, external_id, members = _group_body(body)
    return groups_service.update(tenant, group, display_name=name, external_id=external_id, members=members)


def _member_filter_value(path: str) -> str:
    """Return X from `members[value eq "X"]`; any other filter is 400 invalidPath."""
    match = _MEMBER_PATH.fullmatch(path.strip())
    if match is None:
        raise patch.invalid_path(f"unsupported path {path!r}")
    sub, value = patch.value_filter(_MEMBERS, match[1], path)
    if sub.name != "value":
        raise patch.invalid_path(f"unsupported path {path!r}: members are selected by value")
    return str(value)


def _group_targets(group, path: str | None, value) -> list[tuple[str, object]]:
    """Return the (attribute, value) pairs one operation sets; a path-less value may repeat the group's id
    (Okta's rename sends it) and its other read-only attributes."""
    if path is not None:
        return [(path, value)]
    if not isinstance(value, dict):
        raise invalid_value("without a path, the value must be an object of attributes")
    pairs = []
    for key, key_value in value.items():
        lowered = str(key).lower()
        if lowered == "id":
            if str(key_value) != str(group.id):
                raise patch.read_only("id")
        elif lowered not in READ_ONLY:
            pairs.append((str(key), key_value))
    return pairs


def patch_group(tenant: Tenant, group, body: dict):
    """PATCH a group: displayName, externalId and members (add, remove by value or filter, replace).

    Member ids that are no user of the tenant are skipped, not refused: one failed user must not block the
    other memberships of an identity provider's batch (the audit entry names the skipped ids).
    """
    members = [str(m) for m in groups_service.member_ids(tenant, group)]
    name, external_id = group.display_name, group.external_id
    for op, path, value in patch.operations(body):
        for target, target_value in _group_targets(group, path, value):
            lowered = normalise_attr(target, d.GROUP)
            if lowered == "displayname":
                if op == "remove":
                    raise ScimError(400, "displayName is required", "mutability")
                name = _text(target_value, "displayName", allow_none=False)
            elif lowered == "externalid":
                external_id = None if op == "remove" else _text(target_value, "externalId")
            elif lowered == "members":
                ids = [str(v) for v in _member_values(target_value)]
                if op == "add":
                    members = members + [m for m in ids if m not in set(members)]
                elif op == "replace":
                    members = ids
                else:  # remove: all, or those listed in the value (Entra's form)
                    members = [m for m in members if m not in set(ids)] if ids else []
            elif lowered.startswith("members["):
                if op != "remove":
                    raise patch.invalid_path("only remove is supported on a member filter path")
                drop = _member_filter_value(target)
                members = [m for m in members if m != drop]
            elif lowered in READ_ONLY:
                raise patch.read_only(target)
            else:
                raise patch.invalid_path(f"unknown attribute {target!r}")
    return groups_service.update(
        tenant, group, display_name=name if name != group.display_name else None,
        external_id=external_id if not group.is_admins else ...,
        members=members, skip_unknown=True)
