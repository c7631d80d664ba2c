"""Audit API schemas: query filters in, entries out."""
from datetime import datetime, timedelta, timezone

from marshmallow import Schema, fields, validate

OUTCOMES = ("ok", "denied", "failed")
#: Moments the database can compare with: converting one outside this range to UTC overflows.
MOMENTS = validate.Range(min=datetime.min.replace(tzinfo=timezone.utc) + timedelta(days=1),
                         max=datetime.max.replace(tzinfo=timezone.utc) - timedelta(days=1))


class AuditQuerySchema(Schema):
    action = fields.String(validate=validate.Length(min=1, max=64),
                           metadata={"description": "Exact action, or a prefix ending in `.` (`user.`)."})
    tenant = fields.String(validate=validate.Length(min=1, max=63),
                           metadata={"description": "Tenant slug (staff only; a tenant always sees its own)."})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    since = fields.AwareDateTime(default_timezone=timezone.utc, validate=MOMENTS,
                                 metadata={"description": "Inclusive, ISO 8601 (UTC without an offset)."})
    until = fields.AwareDateTime(default_timezone=timezone.utc, validate=MOMENTS,
                                 metadata={"description": "Exclusive, ISO 8601 (UTC without an offset)."})


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
