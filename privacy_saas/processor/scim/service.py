"""SCIM protocol over the users and groups services: resources, filters, PATCH, errors.

The SCIM layer never touches personal data itself: it maps SCIM attributes onto
`users.service` / `users.groups` calls, and `userName eq` / `emails.value eq` filters onto
the blind index (no decryption to search).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

import sqlalchemy as sa

from privacy_saas.crypto.errors import CryptoError
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.scim.filters import InvalidFilter, normalise_attr, parse_filter
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser, UserGroup, UserGroupMember

log = logging.getLogger(__name__)

DEFAULT_COUNT = 100


class ScimError(Exception):
    """An error answered as a SCIM Error body (RFC 7644 §3.12)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict:
        body = {"schemas": [d.ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


#: Our error codes mapped to SCIM status and scimType.
_SCIM_TYPES = {
    "user_exists": "uniqueness", "external_id_exists": "uniqueness", "group_exists": "uniqueness",
    "invalid_input": "invalidValue", "invalid_member": "invalidValue", "immutable": "mutability",
}


def from_app_error(exc: AppError) -> ScimError:
    """Translate a service error into a SCIM error."""
    detail = exc.message
    if exc.errors:
        detail += ": " + "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                                   for k, v in exc.errors.items())
    status = exc.status
    if exc.code == "invalid_input" and status != 400:
        status = 400
    return ScimError(status, detail, _SCIM_TYPES.get(exc.code))


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


# --- rendering -----------------------------------------------------------------------------

def _ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def etag(version) -> str:
    """Return the weak ETag of a resource version."""
    return f'W/"{version}"'


def user_resource(base: str, user: RegisteredUser, groups: list, admins_id: uuid.UUID) -> dict:
    """Return the SCIM User resource of `user`."""
    location = f"{base}/Users/{user.id}"
    meta = {"resourceType": "User", "created": _ts(user.created_at), "lastModified": _ts(user.updated_at),
            "location": location, "version": etag(user.version)}
    try:
        email, display_name = user.email, user.display_name
        given_name, family_name = user.given_name, user.family_name
    except CryptoError:
        log.warning("user %s of tenant %s cannot be decrypted", user.id, user.tenant_id)
        return {"schemas": [d.USER], "id": str(user.id), "active": user.status == "active", "meta": meta}
    resource = {"schemas": [d.USER], "id": str(user.id)}
    if user.external_id is not None:
        resource["externalId"] = user.external_id
    resource["userName"] = email
    name = {k: v for k, v in (("givenName", given_name), ("familyName", family_name)) if v is not None}
    if name:
        resource["name"] = name
    if display_name is not None:
        resource["displayName"] = display_name
    resource["active"] = user.status == "active"
    if "@" in email:
        resource["emails"] = [{"value": email, "type": "work", "primary": True}]
    member_of = [{"value": str(gid), "$ref": f"{base}/Groups/{gid}", "display": name, "type": "direct"}
                 for gid, name in groups]
    if user.role == "admin":
        member_of.insert(0, {"value": str(admins_id), "$ref": f"{base}/Groups/{admins_id}",
                             "display": groups_service.ADMINS, "type": "direct"})
    if member_of:
        resource["groups"] = member_of
    resource["meta"] = meta
    return resource


def group_resource(base: str, group, members: list) -> dict:
    """Return the SCIM Group resource of `group`."""
    resource = {"schemas": [d.GROUP], "id": str(group.id), "displayName": group.display_name}
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    if members:
        resource["members"] = [{"value": str(m), "$ref": f"{base}/Users/{m}", "type": "User"} for m in members]
    resource["meta"] = {"resourceType": "Group", "created": _ts(group.created_at),
                        "lastModified": _ts(group.updated_at), "location": f"{base}/Groups/{group.id}",
                        "version": etag(group.version)}
    return resource


def _split_attrs(values) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid_value("attributes must be a list of attribute names")
    return [v.strip() for v in values if v.strip()]


def _attr_key(name: str, core_urn: str) -> tuple[str, str | None]:
    path = normalise_attr(name, core_urn)
    top, _, sub = path.partition(".")
    return top, sub or None


def project(resource: dict, core_urn: str, attributes=None, excluded=None) -> dict:
    """Apply `attributes` / `excludedAttributes` (id and schemas are always returned)."""
    attributes, excluded = _split_attrs(attributes), _split_attrs(excluded)
    if not attributes and not excluded:
        return resource
    always = {"id", "schemas"}
    if attributes:
        wanted: dict[str, set | None] = {}
        for name in attributes:
            top, sub = _attr_key(name, core_urn)
            if sub is None:
                wanted[top] = None
            elif wanted.get(top, set()) is not None:
                wanted.setdefault(top, set()).add(sub)
        out = {}
        for key, value in resource.items():
            lowered = key.lower()
            if key in always:
                out[key] = value
            elif lowered in wanted:
                subs = wanted[lowered]
                out[key] = value if subs is None else _keep_subs(value, subs)
        return out
    dropped: dict[str, set | None] = {}
    for name in excluded:
        top, sub = _attr_key(name, core_urn)
        if sub is None:
            dropped[top] = None
        elif dropped.get(top, set()) is not None:
            dropped.setdefault(top, set()).add(sub)
    out = {}
    for key, value in resource.items():
        subs = dropped.get(key.lower(), False)
        if key in always or subs is False:
            out[key] = value
        elif subs is not None:
            out[key] = _drop_subs(value, subs)
    return out


def _keep_subs(value, subs: set):
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() in subs}
    if isinstance(value, list):
        return [_keep_subs(v, subs) for v in value]
    return value


def _drop_subs(value, subs: set):
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() not in subs}
    if isinstance(value, list):
        return [_drop_subs(v, subs) for v in value]
    return value


def list_response(resources: list, total: int, start: int) -> dict:
    """Return a SCIM ListResponse."""
    return {"schemas": [d.LIST], "totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
            "Resources": resources}


def paging(start_index, count) -> tuple[int, int]:
    """Return (startIndex >= 1, count in 0..MAX_RESULTS) from raw query or body values."""
    try:
        start = int(start_index) if start_index not in (None, "") else 1
        size = int(count) if count not in (None, "") else DEFAULT_COUNT
    except (TypeError, ValueError):
        raise invalid_value("startIndex and count must be integers") from None
    return max(start, 1), min(max(size, 0), d.MAX_RESULTS)


# --- filters -------------------------------------------------------------------------------

def as_uuid(value):
    """Return `value` as a UUID, or None when it is not one (an unknown id, hence a 404)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidFilter("active compares with true or false")


def _as_time(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter("dates are compared with ISO 8601 date-times") from None
    if parsed.tzinfo is None:
        raise InvalidFilter("dates need a time zone (e.g. Z)")
    return parsed


_ORDER = {"gt": "__gt__", "ge": "__ge__", "lt": "__lt__", "le": "__le__", "eq": "__eq__", "ne": "__ne__"}


def _unsupported(op: str, path: str) -> InvalidFilter:
    return InvalidFilter(f"filtering with '{path} {op}' is not supported; personal data is encrypted, "
                         "so userName and emails.value support only eq")


def _user_clause(tenant: Tenant, node, within: str | None = None):
    kind = node[0]
    if kind in ("and", "or"):
        join = sa.and_ if kind == "and" else sa.or_
        return join(_user_clause(tenant, node[1], within), _user_clause(tenant, node[2], within))
    if kind == "not":
        return sa.not_(_user_clause(tenant, node[1], within))
    if kind == "filter":
        if node[1].lower() != "emails":
            raise InvalidFilter(f"filtering inside {node[1]} is not supported")
        return _user_clause(tenant, node[2], "emails")
    path = normalise_attr(node[1], d.USER)
    if kind == "pr":
        if path in ("username", "id", "active", "emails", "emails.value"):
            return sa.true()
        if path == "externalid":
            return RegisteredUser.external_id.is_not(None)
        raise _unsupported("pr", node[1])
    op, value = node[0], node[2]
    if path in ("username", "emails.value"):
        if op != "eq" or not isinstance(value, str):
            raise _unsupported(op, node[1])
        return RegisteredUser.email_bidx == users.email_index(tenant, value)
    if path == "emails.type" and within == "emails" and op == "eq":
        return sa.true() if str(value).lower() == "work" else sa.false()
    if path == "emails.primary" and within == "emails" and op == "eq":
        return sa.true() if value is True else sa.false()
    if path == "externalid" and op in ("eq", "ne"):
        if not isinstance(value, str):
            raise InvalidFilter("externalId compares with a string")
        clause = RegisteredUser.external_id == value
        return clause if op == "eq" else sa.or_(sa.not_(clause), RegisteredUser.external_id.is_(None))
    if path == "active" and op in ("eq", "ne"):
        active = _as_bool(value) if op == "eq" else not _as_bool(value)
        return RegisteredUser.status == ("active" if active else "disabled")
    if path == "id" and op in ("eq", "ne"):
        wanted = as_uuid(value)
        clause = RegisteredUser.id == wanted if wanted is not None else sa.false()
        return clause if op == "eq" else sa.not_(clause)
    if path in ("meta.lastmodified", "meta.created") and op in _ORDER:
        column = RegisteredUser.updated_at if path == "meta.lastmodified" else RegisteredUser.created_at
        return getattr(column, _ORDER[op])(_as_time(value))
    raise _unsupported(op, node[1])


def _group_clause(tenant: Tenant, node, within: str | None = None):
    kind = node[0]
    if kind in ("and", "or"):
        join = sa.and_ if kind == "and" else sa.or_
        return join(_group_clause(tenant, node[1], within), _group_clause(tenant, node[2], within))
    if kind == "not":
        return sa.not_(_group_clause(tenant, node[1], within))
    if kind == "filter":
        if node[1].lower() != "members":
            raise InvalidFilter(f"filtering inside {node[1]} is not supported")
        return _group_clause(tenant, node[2], "members")
    path = normalise_attr(node[1], d.GROUP)
    if kind == "pr":
        if path in ("displayname", "id"):
            return sa.true()
        if path == "externalid":
            return UserGroup.external_id.is_not(None)
        if path == "members":
            return _has_member(None)
        raise InvalidFilter(f"filtering with '{node[1]} pr' is not supported")
    op, value = node[0], node[2]
    if path == "displayname" and op in ("eq", "ne", "sw", "co") and isinstance(value, str):
        column = sa.func.lower(UserGroup.display_name)
        clause = {"eq": column == value.lower(), "ne": column != value.lower(),
                  "sw": column.startswith(value.lower(), autoescape=True),
                  "co": column.contains(value.lower(), autoescape=True)}[op]
        return clause
    if path == "externalid" and op == "eq" and isinstance(value, str):
        return UserGroup.external_id == value
    if path == "id" and op == "eq":
        wanted = as_uuid(value)
        return UserGroup.id == wanted if wanted is not None else sa.false()
    if path in ("members.value", "members") and op == "eq":
        return _has_member(as_uuid(value) or uuid.UUID(int=0))
    raise InvalidFilter(f"filtering with '{node[1]} {op}' is not supported")


def _has_member(user_id):
    exists = sa.select(UserGroupMember.user_id).where(
        UserGroupMember.tenant_id == UserGroup.tenant_id, UserGroupMember.group_id == UserGroup.id)
    if user_id is not None:
        exists = exists.where(UserGroupMember.user_id == user_id)
    return exists.exists()


def _admins_match(tenant: Tenant, node, admins) -> bool:
    """Evaluate a group filter against the virtual admins group."""
    kind = node[0]
    if kind == "and":
        return _admins_match(tenant, node[1], admins) and _admins_match(tenant, node[2], admins)
    if kind == "or":
        return _admins_match(tenant, node[1], admins) or _admins_match(tenant, node[2], admins)
    if kind == "not":
        return not _admins_match(tenant, node[1], admins)
    if kind == "filter":
        return _admins_match(tenant, node[2], admins)
    path = normalise_attr(node[1], d.GROUP)
    if kind == "pr":
        return path in ("displayname", "id") or (path == "members" and bool(admins.member_ids))
    op, value = node[0], node[2]
    if path == "displayname":
        name, value = groups_service.ADMINS, str(value).lower()
        return {"eq": name == value, "ne": name != value, "sw": name.startswith(value), "co": value in name}[op]
    if path == "externalid":
        return False
    if path == "id":
        return as_uuid(value) == admins.id
    if path in ("members.value", "members"):
        return as_uuid(value) in admins.member_ids
    return False


# --- users ---------------------------------------------------------------------------------

def render_users(base: str, tenant: Tenant, items: list) -> list[dict]:
    """Render users with their groups, loaded for the whole page at once."""
    by_user = groups_service.groups_of(tenant, [u.id for u in items])
    admins_id = groups_service.admins_group_id(tenant)
    return [user_resource(base, u, by_user.get(u.id, []), admins_id) for u in items]


def render_user(base: str, tenant: Tenant, user: RegisteredUser, *, new: bool = False) -> dict:
    """Render one user; a user created in this request belongs to no group yet (no query)."""
    if new:
        return user_resource(base, user, [], groups_service.admins_group_id(tenant))
    return render_users(base, tenant, [user])[0]


def search_users(tenant: Tenant, filter_text: str | None, start: int, count: int) -> tuple[list, int]:
    """Return a page of users matching the SCIM filter, and the total."""
    stmt = users.query(tenant)
    if filter_text:
        stmt = stmt.where(_user_clause(tenant, parse_filter(filter_text)))
    return users.page(stmt, start - 1, count)


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
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
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
    after = _state_from_body(body, current=before)
    changes = _user_changes(before, after)
    return users.update(tenant, user, strict_email=False, **changes) if changes else user


def _operations(body) -> list[tuple[str, str | None, object]]:
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list) or not body["Operations"]:
        raise ScimError(400, "a PatchOp body needs a non-empty Operations list", "invalidSyntax")
    ops = []
    for operation in body["Operations"]:
        if not isinstance(operation, dict):
            raise ScimError(400, "each operation must be an object", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "remove", "replace"):
            raise ScimError(400, "op must be add, remove or replace", "invalidSyntax")
        path = operation.get("path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise ScimError(400, "path must be a non-empty string", "invalidPath")
        if op == "remove" and path is None:
            raise ScimError(400, "remove needs a path", "noTarget")
        if op != "remove" and "value" not in operation:
            raise invalid_value(f"{op} needs a value")
        ops.append((op, path.strip() if path else None, operation.get("value")))
    return ops


def patch_user(tenant: Tenant, user: RegisteredUser, body: dict) -> RegisteredUser:
    """PATCH: apply add/replace/remove operations, with or without path, in order."""
    before = _user_state(user)
    state = dict(before)
    for op, path, value in _operations(body):
        if path is None:
            if not isinstance(value, dict):
                raise invalid_value("without a path, the value must be an object of attributes")
            for key, sub_value in value.items():
                _set_user_attr(state, key, sub_value, op)
        else:
            _set_user_attr(state, path, value, op)
    changes = _user_changes(before, state)
    return users.update(tenant, user, strict_email=False, **changes) if changes else user


# --- groups --------------------------------------------------------------------------------

def render_group(base: str, tenant: Tenant, group) -> dict:
    return group_resource(base, group, groups_service.member_ids(tenant, group))


def search_groups(tenant: Tenant, filter_text: str | None, start: int, count: int) -> tuple[list, int]:
    """Return a page of groups (the admins group first) matching the filter, and the total."""
    stmt = groups_service.query(tenant)
    admins = groups_service.admins_group(tenant)
    include_admins = True
    if filter_text:
        tree = parse_filter(filter_text)
        stmt = stmt.where(_group_clause(tenant, tree))
        include_admins = _admins_match(tenant, tree, admins)
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
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    lowered = {normalise_attr(k, d.GROUP): v for k, v in body.items()}
    name = lowered.get("displayname")
    if not isinstance(name, str) or not name.strip():
        raise invalid_value("displayName is required")
    external_id = lowered.get("externalid")
    if external_id is not None and not isinstance(external_id, str):
        raise invalid_value("externalId must be a string")
    return name, external_id, _member_values(lowered.get("members"))


def create_group(tenant: Tenant, body: dict):
    name, external_id, members = _group_body(body)
    return groups_service.create(tenant, name, external_id=external_id, members=members)


def replace_group(tenant: Tenant, group, body: dict):
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
        targets = [(path, value)] if path is not None else None
        if targets is None:
            if not isinstance(value, dict):
                raise invalid_value("without a path, the value must be an object of attributes")
            targets = list(value.items())
        for target, target_value in targets:
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
