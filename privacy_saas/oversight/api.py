"""Audit API: staff holding audit.read see every scope, a tenant sees its own entries only."""
from __future__ import annotations

from flask import Response, current_app, stream_with_context
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint, link
from privacy_saas.audit import checkpoints, scope_of, service
from privacy_saas.audit.schemas import AuditEntrySchema, AuditQuerySchema, ChainQuerySchema, CheckpointSchema
from privacy_saas.auth.principal import authenticated
from privacy_saas.errors import AppError, Forbidden, NotFound
from privacy_saas.lifecycle import certificates
from privacy_saas.processor.tenants import service as tenants

blp = ApiBlueprint("audit", __name__, url_prefix="/api/v1",
                   description="The audit log (staff with audit.read: all; tenant token or admin: own tenant).")

#: Rows in one CSV export; narrow the filters for more.
DEFAULT_CSV_MAX_ROWS = 100_000


def allowed_filters(query: dict) -> dict:
    """Return the service filters for the caller: a tenant is pinned to itself."""
    principal = authenticated()
    filters = {key: query.get(key) for key in ("action", "outcome", "since", "until")}
    if principal.kind == "tenant":
        # A tenant's own slug filter is redundant; any other slug is not theirs to see.
        if query.get("tenant") and query["tenant"] != principal.tenant.slug:
            raise Forbidden("a tenant sees its own audit entries only", code="forbidden_tenant")
        filters["tenant_id"] = principal.tenant_id
    elif not principal.can("audit.read"):
        raise Forbidden("your role may not do this", code="forbidden_role")
    elif query.get("tenant"):
        filters["tenant_id"] = tenants.get_by_slug(query["tenant"]).id
    return filters


def allowed_chain(query: dict) -> str:
    """Return the chain the caller asks about: a tenant its own, staff holding audit.read the one named."""
    principal = authenticated()
    if principal.kind == "tenant":
        own = scope_of(principal.tenant_id)
        if query.get("chain", own) != own or query.get("tenant", principal.tenant.slug) != principal.tenant.slug:
            raise NotFound("no such audit chain", code="no_chain")
        return own
    if not principal.can("audit.read"):
        raise Forbidden("your role may not do this", code="forbidden_role")
    if query.get("chain") and query.get("tenant"):
        raise AppError("the request is invalid", code="invalid_input",
                       errors={"chain": ["name the chain once: chain or tenant"]})
    if query.get("tenant"):
        return scope_of(tenants.get_by_slug(query["tenant"]).id)
    if not query.get("chain"):
        raise AppError("the request is invalid", code="invalid_input",
                       errors={"chain": ["required for staff: tenant:<id>, controller or platform "
                                         "(or tenant=<slug>)"]})
    return query["chain"]


def _csv(filters: dict) -> Response:
    limit = current_app.config.get("AUDIT_CSV_MAX_ROWS", DEFAULT_CSV_MAX_ROWS)
    response = Response(stream_with_context(service.iter_csv(limit, **filters)), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


@blp.route("/audit")
class Audit(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEntrySchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    def get(self, query, pagination_parameters):
        """List audit entries, newest first (filters: action, tenant slug, outcome, since, until)."""
        items, pagination_parameters.item_count = service.list_entries(
            page_number=pagination_parameters.page, page_size=pagination_parameters.page_size,
            **allowed_filters(query))
        return items


@blp.route("/audit.csv")
class AuditCsv(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, content_type="text/csv", description="Every matching entry as CSV, newest first.")
    def get(self, query):
        """Export audit entries as CSV (same filters as the list)."""
        return _csv(allowed_filters(query))


@blp.route("/audit/checkpoint")
class Checkpoint(MethodView):
    @blp.arguments(ChainQuerySchema, location="query")
    @blp.response(200, CheckpointSchema)
    def get(self, query):
        """The chain's latest signed checkpoint (a tenant: its own chain; signed now if never before); keep it
        as evidence."""
        return checkpoints.current(allowed_chain(query), certificates.sign)

    @blp.arguments(ChainQuerySchema, location="query")
    @blp.doc(responses={201: {"links": {
        "GetCheckpoint": link("/api/v1/audit/checkpoint", "get", chain="$response.body#/chain"),
        "ListCheckpoints": link("/api/v1/audit/checkpoints", "get", chain="$response.body#/chain")}}})
    @blp.response(201, CheckpointSchema)
    @blp.alt_response(200, schema=CheckpointSchema, description="The head was signed already: that checkpoint.")
    def post(self, query):
        """Sign the chain's head now."""
        checkpoint, created = checkpoints.make(allowed_chain(query), certificates.sign)
        return checkpoint, 201 if created else 200


@blp.route("/audit/checkpoints")
class Checkpoints(MethodView):
    @blp.arguments(ChainQuerySchema, location="query")
    @blp.response(200, CheckpointSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    def get(self, query, pagination_parameters):
        """Every signed checkpoint of the chain, newest first."""
        items, pagination_parameters.item_count = checkpoints.list_for(
            allowed_chain(query), page_number=pagination_parameters.page,
            page_size=pagination_parameters.page_size)
        return items
