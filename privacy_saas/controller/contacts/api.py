"""Staff API over the vendor's contacts, consents, suppression list and imports."""
from __future__ import annotations

from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint, link
from privacy_saas.auth.principal import require_staff
from privacy_saas.controller.contacts import importer, service
from privacy_saas.controller.contacts.schemas import (
    ConsentCreateSchema,
    ConsentSchema,
    ContactCreateSchema,
    ContactDetailSchema,
    ContactQuerySchema,
    ContactSchema,
    ContactUpdateSchema,
    ImportArgsSchema,
    ImportFileSchema,
    ImportReportSchema,
    SuppressionSummarySchema,
)
from privacy_saas.controller.suppression import service as suppression

blp = ApiBlueprint("contacts", __name__, url_prefix="/api/v1",
                   description="The vendor's own contacts (controller scope; account managers, DPO, admins).")


@blp.route("/contacts")
class Contacts(MethodView):
    @require_staff("contacts.read")
    @blp.arguments(ContactQuerySchema, location="query")
    @blp.response(200, ContactSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    def get(self, query, pagination_parameters):
        """List contacts, newest first (decrypted)."""
        contacts, total = service.list_contacts(page=pagination_parameters.page,
                                                page_size=pagination_parameters.page_size, **query)
        pagination_parameters.item_count = total
        service.audit_read(contacts, "contact.list")
        return contacts

    @blp.doc(responses={201: {"links": {
        "GetContact": link("/api/v1/contacts/{contact_id}", "get", contact_id="$response.body#/id"),
        "UpdateContact": link("/api/v1/contacts/{contact_id}", "patch", contact_id="$response.body#/id"),
        "RecordConsent": link("/api/v1/contacts/{contact_id}/consents", "post", contact_id="$response.body#/id"),
        "EraseContact": link("/api/v1/contacts/{contact_id}", "delete", contact_id="$response.body#/id")}}})
    @require_staff("contacts.write")
    @blp.arguments(ContactCreateSchema)
    @blp.response(201, ContactSchema)
    def post(self, data):
        """Create a contact (refused when the address is suppressed)."""
        return service.create(data)


@blp.route("/contacts/<uuid:contact_id>")
class ContactById(MethodView):
    @require_staff("contacts.read")
    @blp.response(200, ContactDetailSchema)
    def get(self, contact_id):
        """Show a contact with its consent log."""
        contact = service.get(contact_id)
        service.audit_read([contact])
        return contact

    @require_staff("contacts.write")
    @blp.arguments(ContactUpdateSchema)
    @blp.response(200, ContactDetailSchema)
    def patch(self, changes, contact_id):
        """Change a contact; `reviewed: true` re-confirms it."""
        return service.update(service.get(contact_id), changes)

    @require_staff("contacts.write")
    @blp.response(204)
    def delete(self, contact_id):
        """Erase a contact: its data goes, a keyed hash of its e-mail stays on the suppression list."""
        service.erase(service.get(contact_id))


@blp.route("/contacts/<uuid:contact_id>/consents")
class ContactConsents(MethodView):
    @require_staff("contacts.write")
    @blp.arguments(ConsentCreateSchema)
    @blp.response(201, ConsentSchema)
    def post(self, data, contact_id):
        """Append a consent grant or withdrawal."""
        return service.record_consent(service.get(contact_id), **data)


@blp.route("/contacts/import")
class ContactImport(MethodView):
    @require_staff("contacts.write")
    @blp.arguments(ImportArgsSchema, location="form")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportReportSchema)
    def post(self, args, files):
        """Import a CSV (header: email,name,phone,company,job_title); returns the report."""
        upload = files["file"]
        limit = importer.max_bytes()
        data = upload.stream.read(limit + 1)
        return importer.import_file(data, source=args["source"], basis=args["basis"], limit=limit)


@blp.route("/suppressions")
class Suppressions(MethodView):
    @require_staff("contacts.read")
    @blp.response(200, SuppressionSummarySchema)
    def get(self):
        """Summarise the suppression list: counts and dates only."""
        return suppression.summary()
