"""Audit API schemas: query filters in, entries out."""
from datetime import datetime, timedelta, timezone

from marshmallow import Schema, fields, pre_dump, validate

from privacy_saas.audit.models import CHAIN_NAME, CHECKPOINT_TYPE

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


class ChainQuerySchema(Schema):
    chain = fields.String(validate=validate.Regexp(f"^(?:{CHAIN_NAME})$"), metadata={
        "description": "`tenant:<id>`, `controller` or `platform` (staff, required); a tenant's own chain "
                       "is implied for a tenant token."})
    tenant = fields.String(validate=validate.Length(max=63), metadata={
        "description": "Staff: the tenant's chain by its slug, instead of `chain`."})


class CheckpointSchema(Schema):
    """A signed checkpoint as a tenant keeps it: verify it with the key at /api/v1/signing-key."""

    type = fields.String(metadata={"description": f"`{CHECKPOINT_TYPE}`"})
    chain = fields.String()
    seq = fields.Integer(metadata={"description": "The head's position when signed."})
    hash = fields.String(metadata={"description": "hex SHA-256 of entry `seq` (the head)."})
    signed_at = fields.String(metadata={"description": "ISO 8601, as signed."})
    key_id = fields.String(metadata={"description": "Fingerprint of the signing key."})
    algorithm = fields.String(metadata={"description": "Ed25519"})
    signature = fields.String(metadata={
        "description": "Base64 Ed25519 signature over the canonical JSON (sorted keys, no spaces, UTF-8) of "
                       "type, chain, seq, hash and signed_at."})

    @pre_dump
    def _signed(self, checkpoint, **kwargs):
        return checkpoint.signed()
