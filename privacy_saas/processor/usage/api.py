"""Usage ingestion API (tenant tokens)."""
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint
from privacy_saas.auth.principal import require_tenant
from privacy_saas.processor.usage import service
from privacy_saas.processor.usage.schemas import (
    IngestResultSchema,
    SupportRequestInSchema,
    SupportRequestSchema,
    UsageBatchSchema,
)

blp = ApiBlueprint("usage", __name__, url_prefix="/api/v1", description="Usage data of registered users.")


@blp.route("/usage-events")
class UsageEvents(MethodView):
    @blp.arguments(UsageBatchSchema)
    @blp.response(201, IngestResultSchema)
    @require_tenant()
    def post(self, batch, tenant):
        """Ingest up to 1,000 usage events; all or none are stored."""
        return {"accepted": service.ingest(tenant, batch["events"])}


@blp.route("/support-requests")
class SupportRequests(MethodView):
    @blp.arguments(SupportRequestInSchema)
    @blp.response(201, SupportRequestSchema)
    @require_tenant()
    def post(self, data, tenant):
        """Record a registered user's support request."""
        return service.record_support_request(tenant, **data)
