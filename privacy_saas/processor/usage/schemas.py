"""Usage ingestion schemas."""
import json

from marshmallow import Schema, ValidationError, fields, validate, validates

from privacy_saas.processor.usage.models import EVENT_KINDS

MAX_BATCH = 1000
MAX_DETAIL_BYTES = 4096


class UsageEventInSchema(Schema):
    user_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(EVENT_KINDS))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None)
    detail = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=None)

    @validates("detail")
    def _small(self, value, **kwargs):
        if value is not None and len(json.dumps(value, default=str)) > MAX_DETAIL_BYTES:
            raise ValidationError(f"must serialise to at most {MAX_DETAIL_BYTES} bytes")


class UsageBatchSchema(Schema):
    events = fields.List(fields.Nested(UsageEventInSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_BATCH))


class IngestResultSchema(Schema):
    accepted = fields.Integer()


class SupportRequestInSchema(Schema):
    user_id = fields.UUID(required=True)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


class SupportRequestSchema(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    status = fields.String()
    created_at = fields.DateTime()
