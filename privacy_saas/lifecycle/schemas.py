"""Lifecycle API schemas."""
from marshmallow import Schema, fields, validate


class EndContractSchema(Schema):
    on = fields.Date(load_default=None, metadata={"description": "Last contract day (default: today)."})


class LegalHoldInSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
    until = fields.Date(load_default=None)


class LegalHoldSchema(Schema):
    id = fields.UUID()
    reason = fields.String()
    set_by = fields.UUID()
    set_at = fields.DateTime()
    until = fields.Date(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    released_by = fields.UUID(allow_none=True)
    active = fields.Boolean()


class SignedCertificateSchema(Schema):
    certificate = fields.Dict()
    signature = fields.String()
    algorithm = fields.String()
    key_id = fields.String()


class ExportSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    created_at = fields.DateTime()
    ready_at = fields.DateTime(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    downloads = fields.Integer()
