"""Rights API: staff intake and controller tasks; tenant instruction queue; self-service deletion."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_login import current_user

from privacy_saas.apiutil import ApiBlueprint, ProblemSchema, link
from privacy_saas.audit.service import current_actor_label
from privacy_saas.auth.principal import Unauthorized, require_staff, require_tenant
from privacy_saas.extensions import csrf
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights import exports, service
from privacy_saas.rights.schemas import (
    CloseSchema,
    DsrCreateSchema,
    DsrQuerySchema,
    DsrSchema,
    ExtendSchema,
    RejectSchema,
    SelfServiceResultSchema,
    TaskQuerySchema,
    TaskSchema,
)

blp = ApiBlueprint("rights", __name__, url_prefix="/api/v1", description="Data-subject requests.")


def _zip(data: bytes, task) -> Response:
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="subject-export-{task.id}.zip"',
        "Cache-Control": "no-store"})


@blp.route("/dsr")
class Requests(MethodView):
    @require_staff("dsr.record")
    @blp.arguments(DsrQuerySchema, location="query")
    @blp.response(200, DsrSchema(many=True))
    def get(self, query):
        """List requests by deadline; `overdue=true` lists open ones past due."""
        return service.list_requests(**query)

    @blp.doc(responses={201: {"links": {
        "GetRequest": link("/api/v1/dsr/{request_id}", "get", request_id="$response.body#/id"),
        "ExtendRequest": link("/api/v1/dsr/{request_id}/extend", "post", request_id="$response.body#/id")}}})
    @require_staff("dsr.record")
    @blp.arguments(DsrCreateSchema)
    @blp.response(201, DsrSchema)
    def post(self, data):
        """Record a request; the subject is looked up in every scope and the request routed."""
        return service.receive(recorded_by=current_actor_label(), **data)


@blp.route("/dsr/<uuid:request_id>")
class RequestById(MethodView):
    @require_staff("dsr.record")
    @blp.response(200, DsrSchema)
    def get(self, request_id):
        """Show a request with its routing."""
        return service.get(request_id)


@blp.route("/dsr/<uuid:request_id>/close")
class Close(MethodView):
    @require_staff("dsr.decide")
    @blp.arguments(CloseSchema)
    @blp.response(200, DsrSchema)
    def post(self, data, request_id):
        """Close a request with the answer given (e.g. no data found): the clock stops; audited. 409 while
        a match is still to be decided or carried out."""
        return service.close(service.get(request_id), current_actor_label(), data["reason"])


@blp.route("/dsr/<uuid:request_id>/extend")
class Extend(MethodView):
    @require_staff("dsr.decide")
    @blp.arguments(ExtendSchema)
    @blp.response(200, DsrSchema)
    def post(self, data, request_id):
        """Extend the deadline once by one or two months, with a reason."""
        return service.extend(service.get(request_id), **data)


@blp.route("/dsr-tasks")
class StaffTasks(MethodView):
    @require_staff("dsr.record")
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, query):
        """List controller-scope tasks (vendor staff decide these)."""
        return service.list_staff_tasks(**query)


@blp.route("/dsr-tasks/<uuid:task_id>/approve")
class StaffApprove(MethodView):
    @require_staff("dsr.decide")
    @blp.response(200, TaskSchema)
    def post(self, task_id):
        """Approve a controller task and carry it out."""
        return service.approve(service.get_staff_task(task_id), current_actor_label())


@blp.route("/dsr-tasks/<uuid:task_id>/reject")
class StaffReject(MethodView):
    @require_staff("dsr.decide")
    @blp.arguments(RejectSchema)
    @blp.response(200, TaskSchema)
    def post(self, data, task_id):
        """Reject a controller task with a reason."""
        return service.reject(service.get_staff_task(task_id), current_actor_label(), data["reason"])


@blp.route("/dsr-tasks/<uuid:task_id>/lift")
class StaffLift(MethodView):
    @require_staff("dsr.decide")
    @blp.response(200, TaskSchema)
    def post(self, task_id):
        """Lift a controller-scope restriction."""
        return service.lift_restriction(service.get_staff_task(task_id), current_actor_label())


@blp.route("/dsr-tasks/<uuid:task_id>/export")
class StaffExport(MethodView):
    @require_staff("dsr.decide")
    @blp.response(200, content_type="application/zip")
    @blp.alt_response(409, schema=ProblemSchema, description="The export is not ready (yet, or any more).")
    @blp.alt_response(410, schema=ProblemSchema, description="The export was downloaded already, or has expired.")
    def get(self, task_id):
        """Download the subject's export once (controller scope)."""
        task = service.get_staff_task(task_id)
        return _zip(exports.download(task), task)


@blp.route("/instructions")
class Instructions(MethodView):
    @require_tenant()
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, query, tenant):
        """List this tenant's instruction requests, earliest deadline first."""
        return service.list_instructions(tenant, **query)


@blp.route("/instructions/<uuid:task_id>")
class InstructionById(MethodView):
    @require_tenant()
    @blp.response(200, TaskSchema)
    def get(self, task_id, tenant):
        """Show one of this tenant's instructions."""
        return service.get_instruction(tenant, task_id)


@blp.route("/instructions/<uuid:task_id>/approve")
class InstructionApprove(MethodView):
    @require_tenant()
    @blp.response(200, TaskSchema)
    def post(self, task_id, tenant):
        """Instruct the vendor to carry the request out."""
        return service.approve(service.get_instruction(tenant, task_id), current_actor_label())


@blp.route("/instructions/<uuid:task_id>/reject")
class InstructionReject(MethodView):
    @require_tenant()
    @blp.arguments(RejectSchema)
    @blp.response(200, TaskSchema)
    def post(self, data, task_id, tenant):
        """Refuse the request, with a reason; nothing is done."""
        return service.reject(service.get_instruction(tenant, task_id), current_actor_label(), data["reason"])


@blp.route("/instructions/<uuid:task_id>/lift")
class InstructionLift(MethodView):
    @require_tenant()
    @blp.response(200, TaskSchema)
    def post(self, task_id, tenant):
        """Lift a restriction this tenant instructed."""
        return service.lift_restriction(service.get_instruction(tenant, task_id), current_actor_label())


@blp.route("/instructions/<uuid:task_id>/export")
class InstructionExport(MethodView):
    @require_tenant()
    @blp.response(200, content_type="application/zip")
    @blp.alt_response(409, schema=ProblemSchema, description="The export is not ready (yet, or any more).")
    @blp.alt_response(410, schema=ProblemSchema, description="The export was downloaded already, or has expired.")
    def get(self, task_id, tenant):
        """Download the subject's export once (the tenant passes it on to the subject)."""
        task = service.get_instruction(tenant, task_id)
        return _zip(exports.download(task), task)


def _session_user():
    """Return the registered user signed in to this session, else raise 401."""
    user = current_user._get_current_object() if current_user else None
    if not isinstance(user, RegisteredUser):
        raise Unauthorized("sign in as a registered user to delete your own account")
    # The blueprint is CSRF-exempt for bearer tokens; this endpoint rides on the session cookie.
    csrf.protect()
    return user


@blp.route("/me/deletion")
class SelfDeletion(MethodView):
    @blp.response(201, SelfServiceResultSchema)
    def post(self):
        """Delete my account where my organisation allows it; otherwise ask my organisation's admin."""
        return service.self_service_delete(_session_user())


@blp.route("/users/<uuid:user_id>/self-deletion")
class SelfDeletionForwarded(MethodView):
    @require_tenant()
    @blp.response(201, SelfServiceResultSchema)
    def post(self, user_id, tenant):
        """The tenant's app forwards its signed-in user's own deletion request (same rule as /me/deletion)."""
        return service.self_service_delete(users.get(tenant, user_id))
