"""Sub-processor register schemas."""
from marshmallow import Schema, fields, validate


class SubprocessorInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=500))
    location = fields.String(required=True, validate=validate.Length(min=1, max=200))
    safeguards = fields.String(required=True, validate=validate.Length(min=1, max=500))
    dpa_signed_on = fields.Date(allow_none=True)
    last_reviewed_on = fields.Date(allow_none=True)


class SubprocessorUpdateSchema(SubprocessorInputSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    purpose = fields.String(validate=validate.Length(min=1, max=500))
    location = fields.String(validate=validate.Length(min=1, max=200))
    safeguards = fields.String(validate=validate.Length(min=1, max=500))


class SubprocessorQuerySchema(Schema):
    include_removed = fields.Boolean(load_default=False)


class SubprocessorSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    purpose = fields.String()
    location = fields.String()
    safeguards = fields.String()
    dpa_signed_on = fields.Date(allow_none=True)
    last_reviewed_on = fields.Date(allow_none=True)
    added_at = fields.DateTime()
    updated_at = fields.DateTime()
    removed_at = fields.DateTime(allow_none=True)
