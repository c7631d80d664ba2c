"""Staff API over the sub-processor register (all staff read; DPO and admins edit)."""
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint
from privacy_saas.auth.principal import require_staff
from privacy_saas.subprocessors import service
from privacy_saas.subprocessors.schemas import (
    SubprocessorInputSchema, SubprocessorQuerySchema, SubprocessorSchema, SubprocessorUpdateSchema)

blp = ApiBlueprint("subprocessors", __name__, url_prefix="/api/v1/subprocessors",
                   description="The vendor's sub-processor register (Art. 28(2), Art. 30).")


@blp.route("")
class Subprocessors(MethodView):
    @require_staff("subprocessors.read")
    @blp.arguments(SubprocessorQuerySchema, location="query")
    @blp.response(200, SubprocessorSchema(many=True))
    def get(self, query):
        """List the register (removed entries on request), or the register as it stood on a date."""
        if query.get("as_of"):
            return service.as_of(query["as_of"])
        return service.list_subprocessors(include_removed=query["include_removed"])

    @require_staff("subprocessors.write")
    @blp.arguments(SubprocessorInputSchema)
    @blp.response(201, SubprocessorSchema)
    def post(self, data):
        """Add a sub-processor."""
        return service.add(data)


@blp.route("/<uuid:subprocessor_id>")
class SubprocessorById(MethodView):
    @require_staff("subprocessors.read")
    @blp.response(200, SubprocessorSchema)
    def get(self, subprocessor_id):
        """Show one entry."""
        return service.get(subprocessor_id)

    @require_staff("subprocessors.write")
    @blp.arguments(SubprocessorUpdateSchema)
    @blp.response(200, SubprocessorSchema)
    def patch(self, changes, subprocessor_id):
        """Change an entry."""
        return service.update(service.get(subprocessor_id), changes)

    @require_staff("subprocessors.write")
    @blp.response(200, SubprocessorSchema)
    def delete(self, subprocessor_id):
        """Remove an entry from the register (kept, dated, for tenants to see the change)."""
        return service.remove(service.get(subprocessor_id))
