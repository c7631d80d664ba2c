"""Privacy contact schemas."""
from marshmallow import Schema, fields, validate


class PrivacyContactInSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))


class PrivacyContactSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    source = fields.String(metadata={"description": "file (named in the contract's tenant file) or console"})
    created_at = fields.DateTime()
