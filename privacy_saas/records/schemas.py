"""Schemas of the records API."""
from marshmallow import Schema, fields, validate

from privacy_saas.records.art30 import RECORD_SCOPES
from privacy_saas.records.formats import FORMATS


class Art30QuerySchema(Schema):
    scope = fields.String(required=True, validate=validate.OneOf(RECORD_SCOPES),
                          metadata={"description": "processor (Art. 30(2)) or controller (Art. 30(1))"})
    format = fields.String(load_default="json", validate=validate.OneOf(list(FORMATS)),
                           metadata={"description": "json (default), md (Markdown) or csv"})


class Art30Schema(Schema):
    """An Art. 30 record; which sections it has depends on its `record` (processor or controller)."""

    record = fields.String(metadata={"description": "processor or controller"})
    article = fields.String()
    generated_at = fields.String()
    software = fields.String()
    data_map = fields.Dict(metadata={"description": "digest and column counts of the data map it was made from"})
    processor = fields.Dict(metadata={"description": "processor record: the vendor, its DPO and representative"})
    controller = fields.Dict(metadata={"description": "controller record: the vendor, its DPO and representative"})
    controllers = fields.List(fields.Dict(), metadata={"description": "processor record: one entry per tenant"})
    former_controllers = fields.List(fields.Dict(), metadata={"description": "processor record: purged tenants"})
    processing = fields.List(fields.Dict(), metadata={"description": "processor record: categories of processing"})
    activities = fields.List(fields.Dict(), metadata={"description": "controller record: processing activities"})
    subprocessors = fields.List(fields.Dict())
    recipients = fields.List(fields.Dict())
    retention = fields.List(fields.Dict())
    not_personal = fields.List(fields.String())
    measures = fields.List(fields.Dict())


class InventorySchema(Schema):
    """What is held for one tenant, by category and table (counts and dates only)."""

    generated_at = fields.String()
    tenant = fields.Dict()
    terms = fields.Dict()
    categories = fields.List(fields.Dict())
    tables = fields.List(fields.Dict())
    subprocessors = fields.List(fields.Dict())
    transfers = fields.List(fields.Dict())
