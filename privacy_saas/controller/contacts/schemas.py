"""Contact API schemas: separate input and output, validation shared with the importer."""
from __future__ import annotations

from datetime import timezone

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_load, pre_dump, validate

from privacy_saas import clock
from privacy_saas.controller.contacts import service
from privacy_saas.controller.contacts.models import CONSENT_ACTIONS, CONSENT_PURPOSES, LAWFUL_BASES, SOURCES
from privacy_saas.controller.contacts.validation import (
    MAX_EMAIL, MAX_PHONE, MAX_TEXT, as_marshmallow, clean_email, clean_phone, clean_text)
from privacy_saas.crypto.errors import CryptoError


def _not_future(value, **_kwargs):
    if value is not None and value > clock.now():
        raise ValidationError("may not be in the future")


def _when():
    return fields.AwareDateTime(default_timezone=timezone.utc, allow_none=True, validate=_not_future)


class _ContactFields(Schema):
    email = fields.String(validate=[validate.Length(max=MAX_EMAIL), as_marshmallow(clean_email)])
    name = fields.String(allow_none=True, validate=as_marshmallow(clean_text, "name"))
    phone = fields.String(allow_none=True, validate=[validate.Length(max=MAX_PHONE), as_marshmallow(clean_phone)])
    company = fields.String(allow_none=True, validate=as_marshmallow(clean_text, "company"))
    job_title = fields.String(allow_none=True, validate=as_marshmallow(clean_text, "job_title"))
    source = fields.String(validate=validate.OneOf(SOURCES))
    lawful_basis = fields.String(validate=validate.OneOf(LAWFUL_BASES))
    is_customer_contact = fields.Boolean()
    last_successful_contact_at = _when()

    @post_load
    def _clean(self, data: dict, **_kwargs) -> dict:
        cleaned = dict(data)
        if "email" in cleaned:
            cleaned["email"] = clean_email(cleaned["email"])
        for name in ("name", "company", "job_title"):
            if name in cleaned:
                cleaned[name] = clean_text(cleaned[name], name, MAX_TEXT)
        if "phone" in cleaned:
            cleaned["phone"] = clean_phone(cleaned["phone"])
        return cleaned


class ContactCreateSchema(_ContactFields):
    email = fields.String(required=True, validate=[validate.Length(max=MAX_EMAIL), as_marshmallow(clean_email)])
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    lawful_basis = fields.String(required=True, validate=validate.OneOf(LAWFUL_BASES))


class ContactUpdateSchema(_ContactFields):
    do_not_contact = fields.Boolean()
    restricted = fields.Boolean()
    #: True re-confirms the contact at this review (restarts the 5-year clock).
    reviewed = fields.Boolean()


class ContactQuerySchema(Schema):
    source = fields.String(validate=validate.OneOf(SOURCES))
    lawful_basis = fields.String(validate=validate.OneOf(LAWFUL_BASES))
    email = fields.String(validate=validate.Length(max=MAX_EMAIL))
    do_not_contact = fields.Boolean()
    is_customer_contact = fields.Boolean()


class ConsentCreateSchema(Schema):
    purpose = fields.String(required=True, validate=validate.OneOf(CONSENT_PURPOSES))
    action = fields.String(required=True, validate=validate.OneOf(CONSENT_ACTIONS))
    evidence = fields.String(required=True, validate=validate.Length(min=3, max=1000))
    at = _when()


class ConsentSchema(Schema):
    id = fields.UUID()
    purpose = fields.String()
    action = fields.String()
    at = fields.DateTime()
    evidence = fields.Method("_evidence")
    recorded_by = fields.String()
    recorded_at = fields.DateTime()

    def _evidence(self, event):
        try:
            return event.evidence
        except CryptoError:
            return None


class EligibilitySchema(Schema):
    allowed = fields.Boolean()
    reason = fields.String()


class ContactSchema(Schema):
    id = fields.UUID()
    #: True when the personal fields could not be decrypted (destroyed key or tampering).
    unreadable = fields.Boolean()
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    job_title = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    source = fields.String()
    lawful_basis = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    last_reviewed_at = fields.DateTime(allow_none=True)
    last_successful_contact_at = fields.DateTime(allow_none=True)
    is_customer_contact = fields.Boolean()
    do_not_contact = fields.Boolean()
    restricted = fields.Boolean()
    live_consents = fields.List(fields.String())
    marketing_email = fields.Nested(EligibilitySchema)

    @pre_dump
    def _flatten(self, contact, **_kwargs):
        personal = service.readable(contact)
        data = {name: getattr(contact, name) for name in (
            "id", "company", "source", "lawful_basis", "created_at", "updated_at", "last_reviewed_at",
            "last_successful_contact_at", "is_customer_contact", "do_not_contact", "restricted")}
        data.update(personal or {"email": None, "name": None, "phone": None, "job_title": None})
        data["unreadable"] = personal is None
        data["live_consents"] = sorted(p for p, e in contact.latest_consents().items() if e.action == "granted")
        data["marketing_email"] = service.marketing_eligibility(contact, "marketing_email")
        data["_contact"] = contact
        return data


class ContactDetailSchema(ContactSchema):
    consents = fields.Method("_consents")
    unsubscribe_url = fields.Method("_unsubscribe_url", metadata={
        "description": "The contact's unsubscribe link for marketing mails (null when unreadable)."})

    def _consents(self, data):
        return ConsentSchema(many=True).dump(data["_contact"].consents)

    def _unsubscribe_url(self, data):
        return None if data["unreadable"] else service.unsubscribe_url(data["_contact"])


class SuppressionSummarySchema(Schema):
    total = fields.Integer()
    by_reason = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_month = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw()))
    first_at = fields.DateTime(allow_none=True)
    last_at = fields.DateTime(allow_none=True)


class ImportArgsSchema(Schema):
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    basis = fields.String(required=True, validate=validate.OneOf(LAWFUL_BASES))


class ImportFileSchema(Schema):
    file = Upload(required=True)


class RejectionSchema(Schema):
    line = fields.Integer()
    reason = fields.String()


class ImportReportSchema(Schema):
    rows = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    suppressed = fields.Integer()
    suppressed_lines = fields.List(fields.Integer())
    rejected_count = fields.Integer()
    rejected = fields.List(fields.Nested(RejectionSchema))
