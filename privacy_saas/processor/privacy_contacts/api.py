"""A tenant's privacy contacts, for its admins and tokens: who receives the vendor's notices."""
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint
from privacy_saas.auth.principal import require_tenant
from privacy_saas.processor.privacy_contacts import service
from privacy_saas.processor.privacy_contacts.schemas import PrivacyContactInSchema, PrivacyContactSchema

blp = ApiBlueprint("privacy_contacts", __name__, url_prefix="/api/v1/privacy-contacts",
                   description="Your privacy/DPO contacts: they receive sub-processor, breach and purge notices.")


@blp.route("")
class PrivacyContacts(MethodView):
    @require_tenant()
    @blp.response(200, PrivacyContactSchema(many=True))
    def get(self, tenant):
        """List your privacy contacts."""
        return service.list_for(tenant)

    @require_tenant()
    @blp.arguments(PrivacyContactInSchema)
    @blp.response(201, PrivacyContactSchema)
    def post(self, data, tenant):
        """Add a privacy contact."""
        return service.add(tenant, data["email"])


@blp.route("/<uuid:contact_id>")
class PrivacyContactById(MethodView):
    @require_tenant()
    @blp.response(204)
    def delete(self, contact_id, tenant):
        """Remove a privacy contact you added (those of your tenant file change with the file)."""
        service.remove(tenant, service.get(tenant, contact_id))
