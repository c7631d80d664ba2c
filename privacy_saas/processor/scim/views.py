"""SCIM 2.0 endpoints at /scim/v2 (bearer tenant token; application/scim+json)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from privacy_saas.auth.principal import Unauthorized, load_principal
from privacy_saas.errors import AppError
from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.scim import service as scim
from privacy_saas.processor.scim.filters import InvalidFilter
from privacy_saas.processor.scim.service import ScimError
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users import service as users

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

MEDIA_TYPE = "application/scim+json"
#: SCIM bodies are small; larger ones are refused with 413 before parsing.
DEFAULT_BODY_LIMIT = 256 * 1024
_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _respond(body, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")) if body is not None else "", status=status,
                        mimetype=MEDIA_TYPE if body is not None else None)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.errorhandler(ScimError)
def _scim_error(error: ScimError):
    return _respond(error.body(), error.status, error.headers)


@bp.errorhandler(InvalidFilter)
def _invalid_filter(error: InvalidFilter):
    return _scim_error(ScimError(400, str(error), "invalidFilter"))


@bp.errorhandler(AppError)
def _app_error(error: AppError):
    if isinstance(error, Unauthorized):
        return _scim_error(ScimError(401, error.message, headers={"WWW-Authenticate": 'Bearer realm="scim"'}))
    return _scim_error(scim.from_app_error(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _scim_error(ScimError(error.code or 500, error.description or error.name))


@bp.before_request
def _limit_body():
    request.max_content_length = current_app.config.get("SCIM_BODY_LIMIT", DEFAULT_BODY_LIMIT)


def _base() -> str:
    public = current_app.config.get("PUBLIC_URL")
    root = public.rstrip("/") if public else request.host_url.rstrip("/")
    return f"{root}/scim/v2"


def _tenant():
    """Return the calling token's tenant: SCIM takes bearer tokens only (no cookies, so no CSRF)."""
    principal = load_principal()
    if principal is None or principal.token_id is None:
        raise Unauthorized("a tenant bearer token is required")
    if principal.kind != "tenant":
        raise ScimError(403, "SCIM acts for a tenant; use a tenant token")
    return tenants.get(g.principal.tenant_id)


def _body() -> dict:
    data = request.get_data(cache=True)
    if not data:
        raise ScimError(400, "a JSON body is required", "invalidSyntax")
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ScimError(400, "the body is not valid JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return body


def _check_if_match(version) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted.strip() != "*" and scim.etag(version) not in [v.strip() for v in wanted.split(",")]:
        raise ScimError(412, "the resource has changed (If-Match does not match its ETag)")


def _resource_response(resource: dict, status: int = 200) -> Response:
    version = resource.get("meta", {}).get("version")
    headers = {"ETag": version, "Location": resource["meta"]["location"]} if version else {}
    if status == 200 and request.method == "GET" and version and version in request.headers.get("If-None-Match", ""):
        return _respond(None, 304, headers)
    return _respond(resource, status, headers)


def _query_args() -> dict:
    return {"filter": request.args.get("filter"), "startIndex": request.args.get("startIndex"),
            "count": request.args.get("count"), "attributes": request.args.get("attributes"),
            "excludedAttributes": request.args.get("excludedAttributes")}


def _search_body() -> dict:
    body = _body()
    for key in ("filter",):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise scim.invalid_value(f"{key} must be a string")
    return {k: body.get(k) for k in ("filter", "startIndex", "count", "attributes", "excludedAttributes")}


def _list(kind: str, args: dict) -> Response:
    tenant = _tenant()
    start, count = scim.paging(args.get("startIndex"), args.get("count"))
    base = _base()
    if kind == "User":
        items, total = scim.search_users(tenant, args.get("filter"), start, count)
        resources = scim.render_users(base, tenant, items)
        core = d.USER
    else:
        items, total = scim.search_groups(tenant, args.get("filter"), start, count)
        resources = [scim.render_group(base, tenant, group) for group in items]
        core = d.GROUP
    resources = [scim.project(r, core, args.get("attributes"), args.get("excludedAttributes")) for r in resources]
    return _respond(scim.list_response(resources, total, start))


# --- discovery (read-only: 405 on writes) ----------------------------------------------------

def _read_only():
    if request.method != "GET":
        raise ScimError(405, "discovery endpoints are read-only", headers={"Allow": "GET"})


@bp.route("/ServiceProviderConfig", methods=_ALL)
def service_provider_config():
    """What this SCIM server supports (no authentication needed, RFC 7644 §4)."""
    _read_only()
    return _respond(d.service_provider_config(_base()))


@bp.route("/ResourceTypes", methods=_ALL)
def resource_types():
    _read_only()
    _tenant()
    items = list(d.resource_types(_base()).values())
    return _respond(scim.list_response(items, len(items), 1))


@bp.route("/ResourceTypes/<name>", methods=_ALL)
def resource_type(name: str):
    _read_only()
    _tenant()
    item = d.resource_types(_base()).get(name)
    if item is None:
        raise ScimError(404, "no such resource type")
    return _respond(item)


@bp.route("/Schemas", methods=_ALL)
def schemas():
    _read_only()
    _tenant()
    items = list(d.schemas(_base()).values())
    return _respond(scim.list_response(items, len(items), 1))


@bp.route("/Schemas/<path:urn>", methods=_ALL)
def schema(urn: str):
    _read_only()
    _tenant()
    item = d.schemas(_base()).get(urn)
    if item is None:
        raise ScimError(404, "no such schema")
    return _respond(item)


# --- users ---------------------------------------------------------------------------------

@bp.get("/Users")
def users_list():
    return _list("User", _query_args())


@bp.post("/Users/.search")
def users_search():
    return _list("User", _search_body())


@bp.post("/Users")
def users_create():
    tenant = _tenant()
    user = scim.create_user(tenant, _body())
    return _resource_response(scim.render_user(_base(), tenant, user, new=True), 201)


def _user(user_id: str):
    tenant = _tenant()
    return tenant, users.get(tenant, scim.as_uuid(user_id))


@bp.get("/Users/<user_id>")
def users_get(user_id: str):
    tenant, user = _user(user_id)
    resource = scim.render_user(_base(), tenant, user)
    return _resource_response(scim.project(resource, d.USER, request.args.get("attributes"),
                                           request.args.get("excludedAttributes")))


@bp.put("/Users/<user_id>")
def users_replace(user_id: str):
    tenant, user = _user(user_id)
    _check_if_match(user.version)
    user = scim.replace_user(tenant, user, _body())
    return _resource_response(scim.render_user(_base(), tenant, user))


@bp.patch("/Users/<user_id>")
def users_patch(user_id: str):
    tenant, user = _user(user_id)
    _check_if_match(user.version)
    user = scim.patch_user(tenant, user, _body())
    return _resource_response(scim.render_user(_base(), tenant, user))


@bp.delete("/Users/<user_id>")
def users_delete(user_id: str):
    tenant, user = _user(user_id)
    _check_if_match(user.version)
    users.remove(tenant, user)
    return _respond(None, 204)


# --- groups --------------------------------------------------------------------------------

@bp.get("/Groups")
def groups_list():
    return _list("Group", _query_args())


@bp.post("/Groups/.search")
def groups_search():
    return _list("Group", _search_body())


@bp.post("/Groups")
def groups_create():
    tenant = _tenant()
    group = scim.create_group(tenant, _body())
    return _resource_response(scim.render_group(_base(), tenant, group), 201)


def _group(group_id: str):
    tenant = _tenant()
    return tenant, groups_service.get(tenant, scim.as_uuid(group_id))


@bp.get("/Groups/<group_id>")
def groups_get(group_id: str):
    tenant, group = _group(group_id)
    resource = scim.render_group(_base(), tenant, group)
    return _resource_response(scim.project(resource, d.GROUP, request.args.get("attributes"),
                                           request.args.get("excludedAttributes")))


@bp.put("/Groups/<group_id>")
def groups_replace(group_id: str):
    tenant, group = _group(group_id)
    _check_if_match(group.version)
    group = scim.replace_group(tenant, group, _body())
    return _resource_response(scim.render_group(_base(), tenant, group))


@bp.patch("/Groups/<group_id>")
def groups_patch(group_id: str):
    tenant, group = _group(group_id)
    _check_if_match(group.version)
    group = scim.patch_group(tenant, group, _body())
    return _resource_response(scim.render_group(_base(), tenant, group))


@bp.delete("/Groups/<group_id>")
def groups_delete(group_id: str):
    tenant, group = _group(group_id)
    _check_if_match(group.version)
    groups_service.remove(tenant, group)
    return _respond(None, 204)


# --- root search and everything else ---------------------------------------------------------

@bp.post("/.search")
def root_search():
    """Search users and groups together (users first)."""
    args = _search_body()
    tenant = _tenant()
    start, count = scim.paging(args.get("startIndex"), args.get("count"))
    base = _base()
    filter_text = args.get("filter")
    results, total = [], 0
    valid = 0
    for search, render, core in (
        (scim.search_users, lambda items: scim.render_users(base, tenant, items), d.USER),
        (scim.search_groups, lambda items: [scim.render_group(base, tenant, g_) for g_ in items], d.GROUP),
    ):
        try:
            _items, kind_total = search(tenant, filter_text, 1, 0)
        except InvalidFilter:
            continue  # the filter names attributes of the other resource type
        valid += 1
        first = max(start - 1 - total, 0)
        wanted = count - len(results)
        if wanted > 0 and first < kind_total:
            items, _ = search(tenant, filter_text, first + 1, wanted)
            results.extend(scim.project(r, core, args.get("attributes"), args.get("excludedAttributes"))
                           for r in render(items))
        total += kind_total
    if filter_text and not valid:
        scim.search_users(tenant, filter_text, 1, 0)  # raises the users' InvalidFilter
    return _respond(scim.list_response(results, total, start))


@bp.route("/", defaults={"rest": ""}, methods=_ALL)
@bp.route("/<path:rest>", methods=_ALL)
def not_found(rest: str):
    raise ScimError(404, "no such SCIM endpoint")
