"""Sub-processor register schemas."""
from marshmallow import Schema, fields, validate

from privacy_saas.datamap.vocabulary import CATEGORIES
from privacy_saas.processor.tenants.models import REGIONS
from privacy_saas.subprocessors.models import COUNTRY_CODE, SCOPES

#: Personal-data categories a sub-processor can receive ("none" is not one).
DATA_CATEGORIES = [name for name in CATEGORIES if name != "none"]


class SubprocessorInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=500))
    location = fields.String(required=True, validate=validate.Length(min=1, max=200))
    safeguards = fields.String(required=True, validate=validate.Length(min=1, max=500))
    dpa_signed_on = fields.Date(allow_none=True)
    last_reviewed_on = fields.Date(allow_none=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), validate=validate.Length(max=len(SCOPES)),
                         metadata={"description": "Whose data it receives: processor (tenants'), controller (ours)"})
    data_categories = fields.List(fields.String(validate=validate.OneOf(DATA_CATEGORIES)),
                                  validate=validate.Length(max=len(DATA_CATEGORIES)),
                                  metadata={"description": "Data-map categories of personal data it receives"})
    country = fields.String(allow_none=True, validate=validate.Regexp(COUNTRY_CODE, error="an ISO 3166-1 alpha-2 "
                                                                                          "code such as IE or US"),
                            metadata={"description": "Where it processes the data (ISO 3166-1 alpha-2)"})
    tenant_regions = fields.List(fields.String(validate=validate.OneOf(REGIONS)),
                                 validate=validate.Length(max=len(REGIONS)),
                                 metadata={"description": "Tenant regions whose data it processes; empty: all"})


class SubprocessorUpdateSchema(SubprocessorInputSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    purpose = fields.String(validate=validate.Length(min=1, max=500))
    location = fields.String(validate=validate.Length(min=1, max=200))
    safeguards = fields.String(validate=validate.Length(min=1, max=500))


class SubprocessorQuerySchema(Schema):
    include_removed = fields.Boolean(load_default=False)
    as_of = fields.Date(metadata={"description": "The register as it stood at the end of this day (UTC)."})


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
    scopes = fields.List(fields.String())
    data_categories = fields.List(fields.String())
    country = fields.String(allow_none=True)
    tenant_regions = fields.List(fields.String())
