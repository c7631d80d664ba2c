"""SCIM 2.0 endpoints at /scim/v2 (bearer tenant token; application/scim+json)."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, g, request
from flask.views import MethodView
from werkzeug.exceptions import HTTPException

from privacy_saas.auth.principal import Unauthorized, current_tenant, load_principal
from privacy_saas.db import SnapshotMoved, claim_write_lock, optimistically, reading, unchanged_row, vouch
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.links import public_base
from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.scim import resources, service
from privacy_saas.processor.scim.errors import ScimError, from_app_error, invalid_syntax, invalid_value
from privacy_saas.processor.scim.filters import InvalidFilter
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser

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
    return _scim_error(from_app_error(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _scim_error(ScimError(error.code or 500, error.description or error.name))


def answer_refused(error) -> Response:
    """Answer input the request pipeline refused (privacy_saas.inputs.InputRefused) as a SCIM error."""
    return _scim_error(ScimError(400, f"{error.field}: {error.reason}", error.scim_type))


@bp.before_request
def _limit_body():
    request.max_content_length = current_app.config.get("SCIM_BODY_LIMIT", DEFAULT_BODY_LIMIT)


@bp.before_request
def _read_only_requests():
    # Reads and searches read one snapshot and write nothing: on SQLite they then run beside the
    # writers of other processes instead of queueing for the write lock (privacy_saas.db.reading).
    if request.method in ("GET", "HEAD") or request.path.endswith("/.search"):
        g.scim_reading = reading()
        g.scim_reading.__enter__()


@bp.teardown_request
def _end_read_only(_error):
    scope = g.pop("scim_reading", None)
    if scope is not None:
        scope.__exit__(None, None, None)


def _written(action: Callable[[], Response]) -> Response:
    """Run a SCIM write optimistically (privacy_saas.db.optimistically): on SQLite it reads beside other
    writers and holds the write lock from its first write to the commit. When another writer committed in
    between, its work is done once more, as a writer from the start (whose lock nobody can take from it)."""
    try:
        with optimistically():
            response = action()
            if db.session().in_transaction():
                claim_write_lock(db.session.connection())  # the writes at commit (the audit chain) too
            return response
    except SnapshotMoved:
        db.session.rollback()
        g.pop("principal", None)  # authenticated again in the new transaction (a token's touch went with the old)
        return action()


def _base() -> str:
    return public_base() + bp.url_prefix


def _tenant() -> Tenant:
    """Return the calling token's tenant: SCIM takes bearer tokens only (no cookies, so no CSRF)."""
    principal = load_principal()
    if principal is None or principal.token_id is None:
        raise Unauthorized("a tenant bearer token is required")
    if principal.kind != "tenant":
        raise ScimError(403, "SCIM acts for a tenant; use a tenant token")
    tenant = current_tenant()
    # A token revoked or a tenant ended a moment ago is as if the request had come a moment earlier.
    vouch(db.session.connection())
    return tenant


def _body() -> dict:
    if not request.get_data(cache=True):
        raise invalid_syntax("a JSON body is required")
    body = request.get_json(force=True)  # bounded and checked by privacy_saas.inputs
    if not isinstance(body, dict):
        raise invalid_syntax("the body must be a JSON object")
    return body


def _check_if_match(version) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted.strip() != "*" and resources.etag(version) not in [v.strip() for v in wanted.split(",")]:
        raise ScimError(412, "the resource has changed (If-Match does not match its ETag)")


def _resource_response(resource: dict, status: int = 200) -> Response:
    version = resource.get("meta", {}).get("version")
    headers = {"ETag": version, "Location": resource["meta"]["location"]} if version else {}
    if status == 200 and request.method == "GET" and version and version in request.headers.get("If-None-Match", ""):
        return _respond(None, 304, headers)
    return _respond(resource, status, headers)


def _projected(resource: dict, core: str, args) -> dict:
    return resources.project(resource, core, args.get("attributes"), args.get("excludedAttributes"))


def _query_args() -> dict:
    return {key: request.args.get(key) for key in ("filter", "startIndex", "count", "attributes", "excludedAttributes")}


def _search_body() -> dict:
    body = _body()
    if body.get("filter") is not None and not isinstance(body["filter"], str):
        raise invalid_value("filter must be a string")
    return {k: body.get(k) for k in ("filter", "startIndex", "count", "attributes", "excludedAttributes")}


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
    return _respond(resources.list_response(items, len(items), 1))


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
    return _respond(resources.list_response(items, len(items), 1))


@bp.route("/Schemas/<path:urn>", methods=_ALL)
def schema(urn: str):
    _read_only()
    _tenant()
    item = d.schemas(_base()).get(urn)
    if item is None:
        raise ScimError(404, "no such schema")
    return _respond(item)


# --- users and groups --------------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceKind:
    """What differs between Users and Groups; the views below serve both."""

    core: str
    search: Callable
    render: Callable  # (base, tenant, items) -> resources
    render_new: Callable  # (base, tenant, item) -> resource, for an item created in this request
    get: Callable
    create: Callable
    replace: Callable
    patch: Callable
    remove: Callable


USERS = ResourceKind(d.USER, service.search_users, resources.render_users,
                     lambda base, tenant, user: resources.render_user(base, tenant, user, new=True),
                     service.get_user, service.create_user, service.replace_user, service.patch_user, users.remove)
GROUPS = ResourceKind(d.GROUP, service.search_groups, resources.render_groups, resources.render_group,
                      service.get_group, service.create_group, service.replace_group, service.patch_group,
                      groups_service.remove)


def _list(kind: ResourceKind, args: dict) -> Response:
    tenant = _tenant()
    start, count = resources.paging(args.get("startIndex"), args.get("count"))
    items, total = kind.search(tenant, args.get("filter"), start, count)
    found = [_projected(r, kind.core, args) for r in kind.render(_base(), tenant, items)]
    return _respond(resources.list_response(found, total, start))


class _KindView(MethodView):
    def __init__(self, kind: ResourceKind):
        self.kind = kind

    def dispatch_request(self, **kwargs):
        # Routed for every method, so that a method this endpoint lacks is 405 with Allow (RFC 9110 §15.5.6),
        # not the catch-all's 404.
        if not hasattr(self, request.method.lower()) and request.method != "HEAD":
            allowed = sorted(m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(self, m))
            raise ScimError(405, f"{request.method} is not supported here", headers={"Allow": ", ".join(allowed)})
        return super().dispatch_request(**kwargs)


class Collection(_KindView):
    """GET lists (filtered, paged); POST creates."""

    def get(self):
        return _list(self.kind, _query_args())

    def post(self):
        return _written(self._create)

    def _create(self):
        tenant = _tenant()
        created = self.kind.create(tenant, _body())
        return _resource_response(self.kind.render_new(_base(), tenant, created), 201)


class Search(_KindView):
    """POST .search: the list with its parameters in a SearchRequest body."""

    def post(self):
        return _list(self.kind, _search_body())


class Item(_KindView):
    """GET, PUT, PATCH and DELETE one resource; the writes honour If-Match."""

    def _load(self, resource_id: str, *, writing: bool):
        tenant = _tenant()
        found = self.kind.get(tenant, resource_id)
        if writing:
            _check_if_match(found.version)
            if isinstance(found, RegisteredUser):
                # Written on a version another writer has not changed since (checked under the write lock).
                vouch(db.session.connection(), unchanged_row(
                    RegisteredUser.__table__, {"tenant_id": found.tenant_id, "id": found.id}, found.version))
        return tenant, found

    def _rendered(self, tenant: Tenant, found) -> dict:
        return self.kind.render(_base(), tenant, [found])[0]

    def get(self, resource_id: str):
        tenant, found = self._load(resource_id, writing=False)
        return _resource_response(_projected(self._rendered(tenant, found), self.kind.core, request.args))

    def put(self, resource_id: str):
        return _written(lambda: self._changed(resource_id, self.kind.replace))

    def patch(self, resource_id: str):
        return _written(lambda: self._changed(resource_id, self.kind.patch))

    def _changed(self, resource_id: str, change: Callable):
        tenant, found = self._load(resource_id, writing=True)
        return _resource_response(self._rendered(tenant, change(tenant, found, _body())))

    def delete(self, resource_id: str):
        return _written(lambda: self._deleted(resource_id))

    def _deleted(self, resource_id: str):
        tenant, found = self._load(resource_id, writing=True)
        self.kind.remove(tenant, found)
        return _respond(None, 204)


for _name, _kind in (("users", USERS), ("groups", GROUPS)):
    _path = f"/{_name.title()}"
    bp.add_url_rule(_path, view_func=Collection.as_view(f"{_name}_collection", _kind), methods=_ALL)
    bp.add_url_rule(f"{_path}/.search", view_func=Search.as_view(f"{_name}_search", _kind), methods=_ALL)
    bp.add_url_rule(f"{_path}/<resource_id>", view_func=Item.as_view(f"{_name}_item", _kind), methods=_ALL)


# --- root search and everything else ---------------------------------------------------------

@bp.post("/.search")
def root_search():
    """Search users and groups together (users first)."""
    args = _search_body()
    tenant = _tenant()
    start, count = resources.paging(args.get("startIndex"), args.get("count"))
    base = _base()
    filter_text = args.get("filter")
    results, total = [], 0
    valid = 0
    for kind in (USERS, GROUPS):
        try:
            _items, kind_total = kind.search(tenant, filter_text, 1, 0)
        except InvalidFilter:
            continue  # the filter names attributes of the other resource type
        valid += 1
        first = max(start - 1 - total, 0)
        wanted = count - len(results)
        if wanted > 0 and first < kind_total:
            items, _ = kind.search(tenant, filter_text, first + 1, wanted)
            results.extend(_projected(r, kind.core, args) for r in kind.render(base, tenant, items))
        total += kind_total
    if filter_text and not valid:
        USERS.search(tenant, filter_text, 1, 0)  # raises the users' InvalidFilter
    return _respond(resources.list_response(results, total, start))


@bp.route("/", defaults={"rest": ""}, methods=_ALL)
@bp.route("/<path:rest>", methods=_ALL)
def not_found(rest: str):
    raise ScimError(404, "no such SCIM endpoint")
