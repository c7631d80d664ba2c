"""SCIM resources as clients see them: users and groups rendered, projected, listed and paged."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

from privacy_saas import inputs
from privacy_saas.crypto.errors import CryptoError
from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.scim.errors import invalid_value
from privacy_saas.processor.scim.filters import normalise_attr
from privacy_saas.processor.scim.patch import user_state
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users.models import RegisteredUser

log = logging.getLogger(__name__)

DEFAULT_COUNT = 100


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
        state = user_state(user)
    except CryptoError:
        log.warning("user %s of tenant %s cannot be decrypted", user.id, user.tenant_id)
        return {"schemas": [d.USER], "id": str(user.id), "active": user.status == "active", "meta": meta}
    schemas = [d.USER, d.ENTERPRISE] if d.ENTERPRISE in state else [d.USER]
    resource = {"schemas": schemas, "id": str(user.id), **state}
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


def render_groups(base: str, tenant: Tenant, items: list) -> list[dict]:
    """Render groups with their members."""
    return [group_resource(base, group, groups_service.member_ids(tenant, group)) for group in items]


def render_group(base: str, tenant: Tenant, group) -> dict:
    """Render one group with its members."""
    return render_groups(base, tenant, [group])[0]


# --- attribute selection, lists, paging ------------------------------------------------------

def _split_attrs(values) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid_value("attributes must be a list of attribute names")
    return [v.strip() for v in values if v.strip()]


def _selection(names: list[str], core_urn: str) -> dict[str, set | None]:
    """Return {top-level attribute: None for all of it, or the set of its sub-attributes named}."""
    chosen: dict[str, set | None] = {}
    for name in names:
        top, _, sub = normalise_attr(name, core_urn).partition(".")
        if not sub:
            chosen[top] = None
        elif chosen.get(top, set()) is not None:
            chosen.setdefault(top, set()).add(sub)
    return chosen


def project(resource: dict, core_urn: str, attributes=None, excluded=None) -> dict:
    """Apply `attributes` / `excludedAttributes` (id and schemas are always returned)."""
    attributes, excluded = _split_attrs(attributes), _split_attrs(excluded)
    if not attributes and not excluded:
        return resource
    always = {"id", "schemas"}
    out = {}
    if attributes:
        wanted = _selection(attributes, core_urn)
        for key, value in resource.items():
            if key in always:
                out[key] = value
            elif key.lower() in wanted:
                subs = wanted[key.lower()]
                out[key] = value if subs is None else _subs(value, subs, keep=True)
        return out
    dropped = _selection(excluded, core_urn)
    for key, value in resource.items():
        subs = dropped.get(key.lower(), False)
        if key in always or subs is False:
            out[key] = value
        elif subs is not None:
            out[key] = _subs(value, subs, keep=False)
    return out


def _subs(value, subs: set, *, keep: bool):
    """Keep (or drop) the named sub-attributes of a complex value or of each item of a multi-valued one."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if (k.lower() in subs) == keep}
    if isinstance(value, list):
        return [_subs(v, subs, keep=keep) for v in value]
    return value


def list_response(resources: list, total: int, start: int) -> dict:
    """Return a SCIM ListResponse."""
    return {"schemas": [d.LIST], "totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
            "Resources": resources}


def paging(start_index, count) -> tuple[int, int]:
    """Return (startIndex >= 1, count in 0..MAX_RESULTS) from raw query or body values."""
    start, size = inputs.integer("startIndex", start_index, 1), inputs.integer("count", count, DEFAULT_COUNT)
    return max(start, 1), min(max(size, 0), d.MAX_RESULTS)
