"""SCIM changes and searches over the users and groups services.

The SCIM layer never touches personal data itself: it maps SCIM attributes onto
`users.service` / `users.groups` calls.
"""
from __future__ import annotations

import sqlalchemy as sa

from privacy_saas.extensions import db
from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.scim.errors import ScimError, invalid_syntax, invalid_value
from privacy_saas.processor.scim.filters import (
    admins_match,
    as_uuid,
    groups_where,
    is_simple_value_path,
    normalise_attr,
    parse_filter,
    users_where,
)
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser


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
    found = [user for user in items if users.index_matches(user)]
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

def _text(value, name: str, *, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise invalid_value(f"{name} must be a string")
    return value


def _active(value) -> bool:
    """Return a boolean from what IdPs send: true/false, or the strings "True"/"False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value("active must be true or false")


def _user_state(user: RegisteredUser) -> dict:
    return {"username": user.email, "externalid": user.external_id, "displayname": user.display_name,
            "name.givenname": user.given_name, "name.familyname": user.family_name,
            "active": user.status == "active"}


def _state_from_body(body: dict, *, current: dict | None = None) -> dict:
    """Return the user state a POST/PUT body asks for (unknown and read-only attributes are ignored)."""
    if not isinstance(body, dict):
        raise invalid_syntax("the body must be a JSON object")
    state = {"username": None, "externalid": None, "displayname": None, "name.givenname": None,
             "name.familyname": None, "active": current["active"] if current else True}
    for key, value in body.items():
        _set_user_attr(state, key, value, "replace")
    if not state["username"]:
        raise invalid_value("userName is required")
    return state


def _set_user_attr(state: dict, key: str, value, op: str) -> None:
    path = normalise_attr(key, d.USER)
    if "[" in path:
        if not is_simple_value_path(key):
            raise ScimError(400, f"unsupported path {key!r}: the filter must be one 'attribute eq value'",
                            "invalidPath")
        return  # emails[type eq "work"].value and the like: derived or not stored here
    if path == "username":
        if op == "remove":
            raise ScimError(400, "userName is required and cannot be removed", "mutability")
        state["username"] = _text(value, "userName", allow_none=False)
    elif path == "externalid":
        state["externalid"] = None if op == "remove" else _text(value, "externalId")
    elif path == "displayname":
        state["displayname"] = None if op == "remove" else _text(value, "displayName")
    elif path == "active":
        if op == "remove":
            raise ScimError(400, "active is required and cannot be removed", "mutability")
        state["active"] = _active(value)
    elif path == "name":
        if op == "remove" or value is None:
            state["name.givenname"] = state["name.familyname"] = None
            return
        if not isinstance(value, dict):
            raise invalid_value("name must be an object")
        if op == "replace":
            state["name.givenname"] = state["name.familyname"] = None
        for sub, sub_value in value.items():
            _set_user_attr(state, f"name.{sub}", sub_value, "replace")
    elif path in ("name.givenname", "name.familyname"):
        state[path] = None if op == "remove" else _text(value, key)
    # Anything else (emails, groups, password, phoneNumbers, extensions...) is read-only or not
    # stored here; IdPs send such attributes by default, so they are ignored rather than refused.


def _user_changes(before: dict, after: dict) -> dict:
    names = {"username": "email", "externalid": "external_id", "displayname": "display_name",
             "name.givenname": "given_name", "name.familyname": "family_name"}
    changes = {names[k]: after[k] for k in names if after[k] != before[k]}
    if after["active"] != before["active"]:
        changes["status"] = "active" if after["active"] else "disabled"
    return changes


def create_user(tenant: Tenant, body: dict) -> RegisteredUser:
    """Create a user from a SCIM body; SCIM users sign in through their IdP (no password here)."""
    state = _state_from_body(body)
    return users.create(tenant, email=state["username"], display_name=state["displayname"],
                        given_name=state["name.givenname"], family_name=state["name.familyname"],
                        external_id=state["externalid"], active=state["active"], strict_email=False)


def replace_user(tenant: Tenant, user: RegisteredUser, body: dict) -> RegisteredUser:
    """PUT: replace the user's writable attributes."""
    before = _user_state(user)
    changes = _user_changes(before, _state_from_body(body, current=before))
    return users.update(tenant, user, strict_email=False, **changes) if changes else user


def _operations(body) -> list[tuple[str, str | None, object]]:
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list) or not body["Operations"]:
        raise invalid_syntax("a PatchOp body needs a non-empty Operations list")
    ops = []
    for operation in body["Operations"]:
        if not isinstance(operation, dict):
            raise invalid_syntax("each operation must be an object")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "remove", "replace"):
            raise invalid_syntax("op must be add, remove or replace")
        path = operation.get("path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise ScimError(400, "path must be a non-empty string", "invalidPath")
        if op == "remove" and path is None:
            raise ScimError(400, "remove needs a path", "noTarget")
        if op != "remove" and "value" not in operation:
            raise invalid_value(f"{op} needs a value")
        ops.append((op, path.strip() if path else None, operation.get("value")))
    return ops


def _targets(path: str | None, value) -> list[tuple[str, object]]:
    """Return the (attribute, value) pairs one operation sets: its path, or each key of its value."""
    if path is not None:
        return [(path, value)]
    if not isinstance(value, dict):
        raise invalid_value("without a path, the value must be an object of attributes")
    return list(value.items())


def patch_user(tenant: Tenant, user: RegisteredUser, body: dict) -> RegisteredUser:
    """PATCH: apply add/replace/remove operations, with or without path, in order."""
    before = _user_state(user)
    state = dict(before)
    for op, path, value in _operations(body):
        for target, target_value in _targets(path, value):
            _set_user_attr(state, target, target_value, op)
    changes = _user_changes(before, state)
    return users.update(tenant, user, strict_email=False, **changes) if changes else user


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


def _member_filter_value(path: str) -> str | None:
    """Return X from `members[value eq "X"]`, or None for plain `members`."""
    tree = parse_filter(path)
    if tree[0] == "filter" and tree[2][0] == "eq" and normalise_attr(tree[2][1], d.GROUP) == "members.value":
        return str(tree[2][2])
    raise ScimError(400, f"unsupported path {path!r}", "invalidPath")


def patch_group(tenant: Tenant, group, body: dict):
    """PATCH a group: displayName, externalId and members (add, remove by value or filter, replace)."""
    members = list(groups_service.member_ids(tenant, group))
    name, external_id = group.display_name, group.external_id
    for op, path, value in _operations(body):
        for target, target_value in _targets(path, value):
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
                    members = members + [m for m in ids if m not in {str(x) for x in members}]
                elif op == "replace":
                    members = ids
                else:  # remove: all, or those listed in the value (Entra's form)
                    members = [m for m in members if str(m) not in set(ids)] if ids else []
            elif lowered.startswith("members["):
                if op != "remove":
                    raise ScimError(400, "only remove is supported on a member filter path", "invalidPath")
                drop = _member_filter_value(target)
                members = [m for m in members if str(m) != drop]
            elif op != "remove" and lowered in ("id", "meta"):
                raise ScimError(400, f"{target} is read-only", "mutability")
            else:
                raise ScimError(400, f"unknown attribute {target!r}", "invalidPath")
    return groups_service.update(
        tenant, group, display_name=name if name != group.display_name else None,
        external_id=external_id if not group.is_admins else ...,
        members=members)
