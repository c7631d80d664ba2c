"""A user's SCIM attributes checked and canonicalised, and PATCH (RFC 7644 §3.5.2) applied to them as identity
providers send it.

The state is a dict of canonical attribute names (the enterprise extension under its URN). What Entra ID and
Okta send beside the RFC: capitalised op names (`Replace`), string booleans (`"False"`), value-filter paths
(`emails[type eq "work"].value`, which create the value when none matches: Entra sends `Add`/`Replace` on a
work e-mail the user may not have yet), path-less values with dotted and URN-qualified keys
(`{"name.givenName": ..., "urn:...:enterprise:2.0:User:employeeNumber": ...}`), a manager given as its bare id,
and read-only attributes repeated with their current values (`{"id": <same id>, ...}`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from privacy_saas.processor.scim.attributes import (
    ENTERPRISE,
    ENTERPRISE_BY_NAME,
    MAX_TEXT,
    MAX_VALUES,
    CONTACT_KEYS,
    PROFILE_KEYS,
    READ_ONLY,
    USER,
    USER_BY_NAME,
    Attr,
)
from privacy_saas.processor.scim.errors import ScimError, invalid_syntax, invalid_value
from privacy_saas.processor.scim.filters import InvalidFilter, parse_filter
from privacy_saas.processor.users.models import RegisteredUser

#: externalId is a common attribute (RFC 7643 §3.1), not one of the User schema's; case-exact.
EXTERNAL_ID = Attr("externalId", case_exact=True, description="The identity provider's id")
_CORE = {**USER_BY_NAME, "externalid": EXTERNAL_ID}
#: `attribute`, `attribute.sub`, `attribute[filter]` or `attribute[filter].sub`.
_PATH = re.compile(r"([A-Za-z][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z$][\w$-]*))?", re.S)


def invalid_path(detail: str) -> ScimError:
    """Return a 400 `invalidPath`."""
    return ScimError(400, detail, "invalidPath")


def read_only(name: str) -> ScimError:
    """Return a 400 `mutability` for a change to a read-only attribute."""
    return ScimError(400, f"{name} is read-only", "mutability")


# --- values ------------------------------------------------------------------------------------

def boolean(value, name: str) -> bool:
    """Return a boolean from what IdPs send: true/false, or the strings "True"/"False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value(f"{name} must be true or false")


def _single(attr: Attr, value, name: str):
    if value is None:
        return None
    if attr.type == "complex":
        if isinstance(value, str) and attr.child("value") is not None:
            # Entra sends the manager as its bare id, and "" when the manager is cleared.
            value = {"value": value}
        if not isinstance(value, dict):
            raise invalid_value(f"{name} must be an object")
        out = {}
        for key, sub_value in value.items():
            sub = attr.child(key)
            if sub is None or sub.mutability == "readOnly":
                continue  # not stored (RFC 7644 §3.3: read-only values in a request are ignored)
            sub_value = _single(sub, sub_value, f"{name}.{sub.name}")
            if sub_value is not None:
                out[sub.name] = sub_value
        if not attr.multi and attr.child("value") is not None and not str(out.get("value", "")).strip():
            return None  # a reference without its id (the manager cleared) is no value
        return out
    if attr.type == "boolean":
        return boolean(value, name)
    if not isinstance(value, str):
        raise invalid_value(f"{name} must be a string")
    if len(value) > MAX_TEXT:
        raise invalid_value(f"{name} is limited to {MAX_TEXT} characters")
    return value


def _one_primary(items: list[dict], keep: dict | None = None) -> list[dict]:
    """At most one value is primary (RFC 7643 §2.4): `keep`, else the first marked."""
    chosen = keep if keep is not None else next((i for i in items if i.get("primary") is True), None)
    for item in items:
        if item.get("primary") is True and item is not chosen:
            item["primary"] = False
    return items


def canonical(attr: Attr, value, name: str | None = None, *, whole: bool = False):
    """Return `value` checked against `attr`, with canonical sub-attribute names (unknown ones dropped).

    `whole`: the value is a resource's whole list (POST, PUT), where two primary values are an error
    (RFC 7643 §2.4: "MUST appear no more than once"); a PATCH that marks a new primary demotes the old one.
    """
    name = name or attr.name
    if not attr.multi:
        return _single(attr, value, name)
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_VALUES:
        raise invalid_value(f"{name} must be a list of at most {MAX_VALUES} values")
    items = [item for item in (_single(attr, v, name) for v in value) if item]
    if whole and sum(1 for item in items if item.get("primary") is True) > 1:
        raise invalid_value(f"{name}: at most one value may be primary")
    return _one_primary(items)


def user_state(user: RegisteredUser) -> dict:
    """Return the user's SCIM attributes (canonical names; the enterprise extension under its URN)."""
    profile = user.profile or {}
    name = {k: v for k, v in (("givenName", user.given_name), ("familyName", user.family_name)) if v is not None}
    name.update(profile.get("name") or {})
    state: dict = {"userName": user.user_name}
    for key, value in (("externalId", user.external_id), ("displayName", user.display_name), ("name", name),
                       *((k, profile.get(k)) for k in PROFILE_KEYS), ("active", user.status == "active"),
                       ("emails", user.emails), *((k, (user.contact or {}).get(k)) for k in CONTACT_KEYS),
                       (ENTERPRISE, user.enterprise)):
        if value is not None and value != [] and value != {}:
            state[key] = value
    return state


def state_from_body(body: dict, *, active: bool = True) -> dict:
    """Return the user state a POST or PUT body asks for.

    Read-only attributes (id, meta, groups) and attributes this server neither stores nor advertises
    (password, roles, other extensions) are ignored, as IdPs send them by default.
    """
    state: dict = {"active": active}
    for key, value in body.items():
        if not isinstance(key, str):
            continue
        lowered = key.lower()
        if lowered == ENTERPRISE.lower():
            if value is not None:
                extension = _extension(value)
                if extension:
                    state[ENTERPRISE] = extension
            continue
        if lowered.startswith(USER.lower() + ":"):
            lowered = lowered[len(USER) + 1:]
        attr = _CORE.get(lowered)
        if attr is None or attr.mutability == "readOnly":
            continue
        _put(state, attr, canonical(attr, value, whole=True))
    _require_user_name(state)
    return state


def _require_user_name(state: dict) -> None:
    if not isinstance(state.get("userName"), str) or not state["userName"].strip():
        raise invalid_value("userName is required")


def _extension(value) -> dict:
    if not isinstance(value, dict):
        raise invalid_value(f"{ENTERPRISE} must be an object")
    out: dict = {}
    for key, sub_value in value.items():
        attr = ENTERPRISE_BY_NAME.get(str(key).lower())
        if attr is not None:
            _put(out, attr, canonical(attr, sub_value, f"{ENTERPRISE}:{attr.name}"))
    return out


def _put(holder: dict, attr: Attr, value) -> None:
    if value is None or value == [] or value == {}:
        holder.pop(attr.name, None)
    else:
        holder[attr.name] = value


# --- PATCH -------------------------------------------------------------------------------------

def operations(body) -> list[tuple[str, str | None, object]]:
    """Return the (op, path, value) of a PatchOp body; op names in any case (Entra sends `Replace`)."""
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
            raise invalid_path("path must be a non-empty string")
        if op == "remove" and path is None:
            raise ScimError(400, "remove needs a path", "noTarget")
        if op != "remove" and "value" not in operation:
            raise invalid_value(f"{op} needs a value")
        ops.append((op, path.strip() if path else None, operation.get("value")))
    return ops


def value_filter(attr: Attr, text: str, path: str) -> tuple[Attr, object]:
    """Return (sub-attribute, value) of a value filter `sub eq value`; anything else is 400 invalidPath."""
    try:
        tree = parse_filter(text)
    except InvalidFilter:
        tree = None
    sub = attr.child(tree[1]) if tree is not None and tree[0] == "eq" and "." not in tree[1] else None
    if sub is None or not isinstance(tree[2], (str, bool)):
        raise invalid_path(f"unsupported path {path!r}: the filter must be one 'subAttribute eq value' "
                           f"of {attr.name}")
    return sub, tree[2]


@dataclass(frozen=True)
class Target:
    """Where a PATCH path points."""

    #: None for the core attributes, ENTERPRISE for the extension's.
    container: str | None
    #: None: the whole extension.
    attr: Attr | None
    value_filter: tuple[Attr, object] | None = None
    sub: Attr | None = None


def resolve(path: str) -> Target:
    """Return the target of a PATCH path of a User."""
    text, lowered = path.strip(), path.strip().lower()
    container, names = None, _CORE
    if lowered.startswith(ENTERPRISE.lower()):
        rest = text[len(ENTERPRISE):]
        if not rest:
            return Target(ENTERPRISE, None)
        if not rest.startswith(":"):
            raise invalid_path(f"unknown attribute {path!r}")
        text, container, names = rest[1:], ENTERPRISE, ENTERPRISE_BY_NAME
    elif lowered.startswith(USER.lower() + ":"):
        text = text[len(USER) + 1:]
    match = _PATH.fullmatch(text)
    if match is None:
        raise invalid_path(f"unsupported path {path!r}")
    attr = names.get(match[1].lower())
    if attr is None:
        if container is None and match[1].lower() in READ_ONLY:
            raise read_only(match[1])
        raise invalid_path(f"unknown attribute {path!r}")
    if attr.mutability == "readOnly":
        raise read_only(attr.name)
    found = None
    if match[2] is not None:
        if not attr.multi:
            raise invalid_path(f"{attr.name} is not multi-valued: no value filter")
        found = value_filter(attr, match[2], path)
    sub = None
    if match[3] is not None:
        sub = attr.child(match[3])
        if sub is None:
            raise invalid_path(f"unknown attribute {path!r}")
        if sub.mutability == "readOnly":
            raise read_only(f"{attr.name}.{sub.name}")
    return Target(container, attr, found, sub)


def _matches(item: dict, sub: Attr, wanted) -> bool:
    have = item.get(sub.name)
    if isinstance(have, str) and isinstance(wanted, str) and not sub.case_exact:
        return have.lower() == wanted.lower()
    return have == wanted


def _apply_multi(holder: dict, op: str, target: Target, value) -> None:
    attr = target.attr
    items = [dict(item) for item in holder.get(attr.name, [])]
    promoted = None
    if target.value_filter is None:
        if target.sub is not None:
            raise invalid_path(f"{attr.name}.{target.sub.name} needs a value filter, "
                               f'e.g. {attr.name}[type eq "work"].{target.sub.name}')
        if op == "remove":
            items = []
        else:
            new = canonical(attr, value)
            items = new if op == "replace" else items + [n for n in new if n not in items]
            promoted = next((n for n in reversed(new) if n.get("primary") is True), None)
    else:
        sub, wanted = target.value_filter
        matched = [item for item in items if _matches(item, sub, wanted)]
        if op == "remove":
            if target.sub is None:
                items = [item for item in items if not any(item is m for m in matched)]
            else:
                for item in matched:
                    item.pop(target.sub.name, None)
                if attr.child("value") is not None:
                    items = [item for item in items if item.get("value") is not None]
        else:
            if target.sub is None:
                change = _single(attr, value, attr.name)
            else:
                change = {target.sub.name: _single(target.sub, value, f"{attr.name}.{target.sub.name}")}
            if not matched:
                fresh = {sub.name: wanted}
                items.append(fresh)
                matched = [fresh]
            for item in matched:
                for key, sub_value in (change or {}).items():
                    if sub_value is None:
                        item.pop(key, None)
                    else:
                        item[key] = sub_value
            if (change or {}).get("primary") is True:
                promoted = matched[-1]
    if len(items) > MAX_VALUES:
        raise invalid_value(f"{attr.name} is limited to {MAX_VALUES} values")
    _put(holder, attr, _one_primary(items, promoted))


def _apply(state: dict, op: str, target: Target, value) -> None:
    if target.attr is None:  # the whole extension
        if op == "remove":
            state.pop(ENTERPRISE, None)
            return
        if not isinstance(value, dict):
            raise invalid_value(f"{ENTERPRISE} must be an object")
        for key, sub_value in value.items():
            if str(key).lower() not in READ_ONLY:  # clients repeat the extension's `schemas`
                _apply(state, op, resolve(f"{ENTERPRISE}:{key}"), sub_value)
        return
    holder = state if target.container is None else dict(state.get(ENTERPRISE) or {})
    attr = target.attr
    if attr.multi:
        _apply_multi(holder, op, target, value)
    elif attr.type == "complex":
        current = dict(holder.get(attr.name) or {})
        if target.sub is None:
            # add and replace merge the sub-attributes given, leaving the others (RFC 7644 §3.5.2.1, .3).
            given = None if op == "remove" else _single(attr, value, attr.name)
            current = {} if given is None else {**current, **given}  # None: cleared (a manager replaced by "")
        elif op == "remove" or value is None:
            current.pop(target.sub.name, None)
        else:
            current[target.sub.name] = _single(target.sub, value, f"{attr.name}.{target.sub.name}")
        _put(holder, attr, current)
    else:
        if attr.required and (op == "remove" or value is None):
            raise ScimError(400, f"{attr.name} is required and cannot be removed", "mutability")
        _put(holder, attr, None if op == "remove" else canonical(attr, value))
    if target.container is not None:
        if holder:
            state[ENTERPRISE] = holder
        else:
            state.pop(ENTERPRISE, None)


def apply(state: dict, body, resource_id: str) -> dict:
    """Return a copy of `state` with a PatchOp body's operations applied in order."""
    state = {k: ([dict(i) for i in v] if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
             for k, v in state.items()}
    for op, path, value in operations(body):
        if path is not None:
            _apply(state, op, resolve(path), value)
            continue
        if not isinstance(value, dict):
            raise invalid_value("without a path, the value must be an object of attributes")
        for key, key_value in value.items():
            lowered = str(key).lower()
            if lowered == "id":
                if str(key_value) != resource_id:
                    raise read_only("id")
            elif lowered in READ_ONLY:
                continue  # repeated with the resource (Okta): read-only, ignored
            else:
                _apply(state, op, resolve(str(key)), key_value)
    _require_user_name(state)
    return state
