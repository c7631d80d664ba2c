"""Audit API schemas: query filters in, entries out."""
from marshmallow import Schema, fields, validate

OUTCOMES = ("ok", "denied", "failed")


class AuditQuerySchema(Schema):
    action = fields.String(validate=validate.Length(min=1, max=64),
                           metadata={"description": "Exact action, or a prefix ending in `.` (`user.`)."})
    tenant = fields.String(validate=validate.Length(min=1, max=63),
                           metadata={"description": "Tenant slug (staff only; a tenant always sees its own)."})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    since = fields.AwareDateTime(metadata={"description": "Inclusive, ISO 8601 with offset."})
    until = fields.AwareDateTime(metadata={"description": "Exclusive, ISO 8601 with offset."})


class HexBytes(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return value.hex() if value is not None else None


class AuditEntrySchema(Schema):
    id = fields.UUID()
    scope = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    actor_kind = fields.String()
    actor_id = fields.String(allow_none=True)
    action = fields.String()
    tenant_id = fields.UUID(allow_none=True)
    targets = fields.List(fields.Raw())
    outcome = fields.String()
    detail = fields.Dict()
    prev_hash = HexBytes(metadata={"type": "string", "description": "hex SHA-256"})
    hash = HexBytes(metadata={"type": "string", "description": "hex SHA-256"})
