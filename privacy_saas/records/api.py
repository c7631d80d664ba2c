"""Records API: the Art. 30 records (staff dpo, admin) and a tenant's own inventory (tenant token or admin)."""
from flask import Response
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint
from privacy_saas.auth.principal import require_staff, require_tenant
from privacy_saas.records import art30, formats, inventory
from privacy_saas.records.schemas import Art30QuerySchema, Art30Schema, InventorySchema

blp = ApiBlueprint("records", __name__, url_prefix="/api/v1/records",
                   description="Records of processing (Art. 30) and each tenant's inventory, from the data map.")

TEXT = {"schema": {"type": "string"}}


def download(record: dict, fmt: str) -> Response:
    """Return a rendered record as a file download."""
    return Response(formats.render(record, fmt), mimetype=formats.FORMATS[fmt].split(";")[0], headers={
        "Content-Disposition": f'attachment; filename="art30-{record["record"]}.{fmt}"'})


@blp.route("/art30")
class Art30(MethodView):
    @blp.arguments(Art30QuerySchema, location="query")
    @blp.response(200, Art30Schema, description="The record; `format=md` or `format=csv` answers that text instead.")
    @blp.doc(responses={200: {"content": {"text/markdown": TEXT, "text/csv": TEXT}}})
    @require_staff("records.read")
    def get(self, query):
        """The Art. 30 record of the processor or controller scope."""
        record = art30.record(query["scope"])
        return record if query["format"] == "json" else download(record, query["format"])


@blp.route("/inventory")
class Inventory(MethodView):
    @blp.response(200, InventorySchema)
    @require_tenant()
    def get(self, tenant):
        """What is held for this tenant, by category and table: counts, dates, retention, sub-processors."""
        return inventory.inventory(tenant)
