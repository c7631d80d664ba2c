"""Sub-processor register schemas (the changes announced to tenants read countries and categories the same way)."""
from marshmallow import Schema, ValidationError, fields, post_load, validate

from privacy_saas.datamap.vocabulary import CATEGORIES, classify
from privacy_saas.processor.tenants.models import REGIONS
from privacy_saas.subprocessors.countries import country_code, country_name
from privacy_saas.subprocessors.models import SCOPES

#: Personal-data categories a sub-processor can receive ("none" is not one).
DATA_CATEGORIES = [name for name in CATEGORIES if name != "none"]


class Country(fields.String):
    """A country by name or ISO 3166-1 code (`Ireland`, `ie`, `IRL`), loaded as the alpha-2 code the register keeps."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return country_code(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ValidationError(str(error)) from None


def data_categories(**kwargs) -> fields.List:
    """Categories in the data map's words (`contact_details`) or anyone's (`E-mail addresses`, `Voice recordings`)."""
    return fields.List(fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=30),
                       metadata={"description": "Data-map categories (" + ", ".join(DATA_CATEGORIES) + "), or "
                                                "ordinary words: known ones are read as those categories, the "
                                                "others kept as given (data_category_labels)"}, **kwargs)


class Categorised(Schema):
    """Reads `data_categories` into the data map's categories and the words that name none."""

    @post_load
    def _classify(self, data, **kwargs):
        if data.get("data_categories") is not None:
            data["data_categories"], data["data_category_labels"] = classify(data["data_categories"])
        return data


class SubprocessorInputSchema(Categorised):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=500))
    location = fields.String(required=True, validate=validate.Length(min=1, max=200))
    safeguards = fields.String(required=True, validate=validate.Length(min=1, max=500))
    dpa_signed_on = fields.Date(allow_none=True)
    last_reviewed_on = fields.Date(allow_none=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), validate=validate.Length(max=len(SCOPES)),
                         metadata={"description": "Whose data it receives: processor (tenants'), controller (ours)"})
    data_categories = data_categories()
    country = Country(allow_none=True, metadata={"description": "Where it processes the data: a country name or "
                                                                "ISO 3166-1 code, kept as the alpha-2 code"})
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
    data_category_labels = fields.List(fields.String())
    country = fields.String(allow_none=True)
    country_name = fields.Function(lambda entry: country_name(entry.country))
    tenant_regions = fields.List(fields.String())
