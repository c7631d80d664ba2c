"""Offboarding API: end contract, legal holds, certificates (staff); return export (tenant)."""
from flask import Response, g, stream_with_context
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint, ProblemSchema, link
from privacy_saas.auth.principal import require_staff, require_tenant
from privacy_saas.lifecycle import certificates, service, tasks
from privacy_saas.lifecycle import export as exports
from privacy_saas.lifecycle.schemas import (
    EndContractSchema,
    ExportSchema,
    LegalHoldInSchema,
    LegalHoldSchema,
    PurgeStatusSchema,
    ReinstateSchema,
    SignedCertificateSchema,
)
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.tenants.schemas import TenantSchema

blp = ApiBlueprint("lifecycle", __name__, url_prefix="/api/v1", description="Offboarding and purge.")


@blp.route("/tenants/<string:slug>/end-contract")
class EndContract(MethodView):
    @blp.arguments(EndContractSchema)
    @blp.response(200, TenantSchema)
    @require_staff("tenants.offboard")
    def post(self, data, slug):
        """End a tenant's contract (offboarding): today or earlier now, a later day scheduled; the purge date
        follows from its retention."""
        return service.end_contract(tenants.get_by_slug(slug), data.get("on"))


@blp.route("/tenants/<string:slug>/reinstate")
class Reinstate(MethodView):
    @blp.arguments(ReinstateSchema)
    @blp.response(200, TenantSchema)
    @require_staff("tenants.reinstate")
    def post(self, data, slug):
        """Renew an ended tenant's contract before its purge starts (or cancel a scheduled end); audited."""
        return service.reinstate(tenants.get_by_slug(slug), data.get("until"))


@blp.route("/tenants/<string:slug>/legal-holds")
class LegalHolds(MethodView):
    @blp.response(200, LegalHoldSchema(many=True))
    @require_staff("tenants.read")
    def get(self, slug):
        """List a tenant's legal holds."""
        return service.list_holds(tenants.get_by_slug(slug))

    @blp.doc(responses={201: {"links": {"ReleaseHold": link(
        "/api/v1/tenants/{slug}/legal-holds/{hold_id}/release", "post", slug="$request.path.slug",
        hold_id="$response.body#/id")}}})
    @blp.arguments(LegalHoldInSchema)
    @blp.response(201, LegalHoldSchema)
    @require_staff("legal_holds.manage")
    def post(self, data, slug):
        """Place a legal hold: the tenant will not be purged until it is released."""
        return service.place_hold(tenants.get_by_slug(slug), data["reason"], g.principal.staff.id, data["until"])


@blp.route("/tenants/<string:slug>/legal-holds/<uuid:hold_id>/release")
class ReleaseHold(MethodView):
    @blp.response(200, LegalHoldSchema)
    @require_staff("legal_holds.manage")
    def post(self, slug, hold_id):
        """Release a legal hold."""
        return service.release_hold(tenants.get_by_slug(slug), hold_id, g.principal.staff.id)


@blp.route("/tenants/<string:slug>/certificate")
class Certificate(MethodView):
    @blp.response(200, SignedCertificateSchema)
    @require_staff("tenants.read")
    def get(self, slug):
        """The signed deletion certificate of a purged tenant."""
        return service.certificate(tenants.get_by_slug(slug)).document


@blp.route("/tenants/<string:slug>/purge")
class PurgeStatus(MethodView):
    @blp.response(200, PurgeStatusSchema)
    @require_staff("tenants.read")
    def get(self, slug):
        """Where the tenant's purge stands: its run (step, lease), its job (attempts, last error, next try)."""
        return tasks.purge_status(tenants.get_by_slug(slug))

    @blp.response(202, PurgeStatusSchema)
    @require_staff("tenants.purge")
    def post(self, slug):
        """Start a due tenant's purge now rather than at the next sweep (409 when it may not run)."""
        tenant = tenants.get_by_slug(slug)
        tasks.purge_now(tenant)
        return tasks.purge_status(tenant)


@blp.route("/signing-key")
class SigningKey(MethodView):
    @blp.doc(security=[])
    @blp.response(200, {"type": "string"}, content_type="application/x-pem-file")
    def get(self):
        """The public key that verifies deletion certificates (PEM)."""
        return Response(certificates.public_pem(), mimetype="application/x-pem-file")


@blp.route("/exports")
class Exports(MethodView):
    @blp.response(200, ExportSchema(many=True))
    @require_tenant()
    def get(self, tenant):
        """List the tenant's return exports."""
        return exports.list_exports(tenant)

    @blp.response(202, ExportSchema)
    @require_tenant()
    def post(self, tenant):
        """Request a return export of all the tenant's data (after contract end)."""
        return exports.request_export(tenant, g.principal.actor[1])


@blp.route("/exports/<uuid:export_id>/download")
class ExportDownload(MethodView):
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/zip")
    @blp.alt_response(409, schema=ProblemSchema, description="The export is not ready.")
    @require_tenant()
    def get(self, export_id, tenant):
        """Download a ready export as a ZIP."""
        chunks = exports.open_export(tenant, exports.get_export(tenant, export_id))
        return Response(stream_with_context(chunks), mimetype="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{tenant.slug}-export-{export_id}.zip"'})
