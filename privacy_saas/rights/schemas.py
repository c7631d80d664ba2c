"""Schemas of the rights API: requests in and out, tasks and instructions, decisions."""
from marshmallow import Schema, fields, validate

from privacy_saas.rights.models import CHANNELS, KINDS, TASK_STATUSES
from privacy_saas.rights.service import MAX_EXTENSION_MONTHS, RECTIFIABLE, routing


class DsrCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    channel = fields.String(load_default="email", validate=validate.OneOf(CHANNELS))
    notes = fields.String(load_default=None, validate=validate.Length(max=5000))
    #: rectify only: {field: new value}, fields among RECTIFIABLE.
    changes = fields.Dict(keys=fields.String(validate=validate.OneOf(RECTIFIABLE)),
                          values=fields.String(allow_none=True, validate=validate.Length(max=200)),
                          load_default=None)


class DsrQuerySchema(Schema):
    overdue = fields.Boolean(load_default=False)
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "closed")))


class ExtendSchema(Schema):
    months = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_EXTENSION_MONTHS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class TaskQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(TASK_STATUSES))


class TaskSchema(Schema):
    """A staff task or tenant instruction: ids, states and deadline; never decrypted data."""

    id = fields.UUID()
    request_id = fields.UUID()
    scope = fields.String()
    tenant_id = fields.UUID(allow_none=True)
    subject_id = fields.UUID()
    kind = fields.Function(lambda t: t.request.kind)
    status = fields.String()
    received_at = fields.Function(lambda t: t.request.received_at.isoformat())
    due_at = fields.Function(lambda t: t.request.due_at.isoformat())
    rectify_fields = fields.Function(lambda t: sorted(t.request.changes or {}) if t.request.kind == "rectify" else None)
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    executed_at = fields.DateTime(allow_none=True)
    outcome = fields.Dict(allow_none=True)
    export_status = fields.String(allow_none=True)
    export_expires_at = fields.DateTime(allow_none=True)


class RoutingSchema(Schema):
    task_id = fields.UUID()
    scope = fields.String()
    tenant_id = fields.UUID(allow_none=True)
    subject_id = fields.UUID()
    status = fields.String()
    routing = fields.String()


class DsrSchema(Schema):
    """A request as staff see it: matches as ids and counts, no decrypted personal data."""

    id = fields.UUID()
    kind = fields.String()
    channel = fields.String()
    status = fields.String()
    received_at = fields.DateTime()
    due_at = fields.DateTime()
    overdue = fields.Function(lambda r: r.overdue())
    extended_months = fields.Integer(allow_none=True)
    recorded_by = fields.String()
    match_count = fields.Integer()
    closed_at = fields.DateTime(allow_none=True)
    closed_by = fields.String(allow_none=True, metadata={"description": "Who closed it by hand (staff:<id>); "
                                                                        "null when its tasks closed it."})
    routing = fields.Method("_routing")

    def _routing(self, request):
        return RoutingSchema(many=True).dump(routing(request))


class CloseSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000), metadata={
        "description": "The answer given to the requester, e.g. \"No personal data about this address was found.\""})


class SelfServiceResultSchema(Schema):
    deleted = fields.Boolean()
    instruction_id = fields.UUID(allow_none=True)
    request_id = fields.UUID(allow_none=True)
    usage_events = fields.Integer(allow_none=True)
    support_requests = fields.Integer(allow_none=True)
