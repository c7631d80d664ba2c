"""Tenant API over registered users; the tenant is the caller's, never a parameter."""
from flask import current_app, request
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint, link
from privacy_saas.auth.principal import require_tenant
from privacy_saas.errors import AppError
from privacy_saas.processor.users import importer, service
from privacy_saas.processor.users.schemas import (
    ImportResultSchema,
    UserCreateSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)

blp = ApiBlueprint("users", __name__, url_prefix="/api/v1/users",
                   description="A tenant's registered users (tenant token or signed-in tenant admin).")

#: JSON bodies of this API are small; bulk imports get the application-wide limit.
DEFAULT_JSON_BODY_LIMIT = 64 * 1024


@blp.before_request
def _limit_body():
    if request.endpoint != "users.UserImport":
        request.max_content_length = current_app.config.get("API_JSON_BODY_LIMIT", DEFAULT_JSON_BODY_LIMIT)


@blp.route("")
class Users(MethodView):
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=200)
    @require_tenant()
    def get(self, query, pagination_parameters, tenant):
        """List the tenant's users (filter by status, role, exact e-mail)."""
        items, pagination_parameters.item_count = service.list_for(
            tenant, page_number=pagination_parameters.page, page_size=pagination_parameters.page_size,
            **query)
        return items

    @blp.doc(responses={201: {"links": {
        name: link("/api/v1/users/{user_id}", method, user_id="$response.body#/id")
        for name, method in (("GetUser", "get"), ("UpdateUser", "patch"), ("RemoveUser", "delete"))}}})
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @require_tenant()
    def post(self, data, tenant):
        """Add a user; without a password, a set-password invitation is issued and returned once."""
        return service.create(tenant, invite=not data.get("password"), **data)


@blp.route("/<uuid:user_id>")
class UserById(MethodView):
    @blp.response(200, UserSchema)
    @require_tenant()
    def get(self, user_id, tenant):
        """Show one user."""
        return service.get(tenant, user_id)

    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @require_tenant()
    def patch(self, data, user_id, tenant):
        """Change a user's names, role or status."""
        return service.update(tenant, service.get(tenant, user_id), **data)

    @blp.response(204)
    @require_tenant()
    def delete(self, user_id, tenant):
        """Remove a user now (their personal data is erased)."""
        service.remove(tenant, service.get(tenant, user_id))


@blp.route("/import")
class UserImport(MethodView):
    @blp.doc(requestBody={"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": "email,name,role\nada@example.com,Ada,admin\n"}}})
    @blp.response(200, ImportResultSchema)
    @require_tenant()
    def post(self, tenant):
        """Add users from an `email,name,role` CSV body; bad rows are reported by line and skipped."""
        if request.mimetype != "text/csv":
            raise AppError("send the CSV with Content-Type: text/csv", code="unsupported_media_type", status=415)
        try:
            text = request.get_data(cache=False).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise AppError("the body is not UTF-8 CSV", code="invalid_csv") from None
        return importer.import_csv(tenant, text)
