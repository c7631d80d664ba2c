"""Staff API over tenants."""
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint
from privacy_saas.auth.principal import require_staff
from privacy_saas.processor.tenants import service
from privacy_saas.processor.tenants.schemas import TenantQuerySchema, TenantSchema

blp = ApiBlueprint("tenants", __name__, url_prefix="/api/v1/tenants",
                   description="Client organisations (staff only).")


@blp.route("")
class Tenants(MethodView):
    @blp.arguments(TenantQuerySchema, location="query")
    @blp.response(200, TenantSchema(many=True))
    @require_staff("tenants.read")
    def get(self, query):
        """List tenants."""
        return service.list_all(status=query.get("status"))


@blp.route("/<string:slug>")
class TenantBySlug(MethodView):
    @blp.response(200, TenantSchema)
    @require_staff("tenants.read")
    def get(self, slug):
        """Show one tenant."""
        return service.get_by_slug(slug)
