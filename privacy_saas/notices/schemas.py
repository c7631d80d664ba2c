"""Schemas of sub-processor changes, notices, breaches, objection tasks and the transparency page."""
from __future__ import annotations

from datetime import timezone

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from privacy_saas import clock
from privacy_saas.audit.schemas import AuditEntrySchema
from privacy_saas.notices import breaches, changes, inbox
from privacy_saas.notices.models import (
    AUTHORITY_DECISIONS,
    BREACH_SCOPES,
    CHANGE_ACTIONS,
    CHANGE_STATUSES,
    CHANNELS,
    SUBJECT_DECISIONS,
)
from privacy_saas.processor.privacy_contacts.schemas import PrivacyContactSchema
from privacy_saas.processor.tenants.models import REGIONS
from privacy_saas.subprocessors.countries import country_name
from privacy_saas.subprocessors.schemas import Categorised, Country, SubprocessorSchema, data_categories


def _texts(**kwargs) -> fields.List:
    """Free-text categories of a breach (Art. 33(3)(a) asks for what was concerned, in the vendor's words)."""
    return fields.List(fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=30),
                       **kwargs)


def _text(size: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=size), **kwargs)


def _instant(**kwargs) -> fields.AwareDateTime:
    # ISO 8601; an instant given without an offset is taken as UTC.
    return fields.AwareDateTime(default_timezone=timezone.utc, **kwargs)


# --- sub-processor changes ---------------------------------------------------------------------

class SubprocessorChangeInSchema(Categorised):
    action = fields.String(required=True, validate=validate.OneOf(CHANGE_ACTIONS))
    subprocessor_id = fields.UUID(allow_none=True, metadata={"description": "The register entry (replace, remove)."})
    name = _text(200, metadata={"description": "Required for add and replace; a removal describes the entry's."})
    purpose = _text(500)
    country = Country(metadata={"description": "Where it processes the data: a country name or ISO 3166-1 code, "
                                               "kept as the alpha-2 code, as in the register"})
    location = _text(200, metadata={"description": "Where, in words (default: the country code)."})
    transfer_mechanism = _text(500, metadata={"description": "Adequacy decision, SCCs, UK IDTA, ..."})
    data_categories = data_categories(load_default=list)
    tenant_regions = fields.List(fields.String(validate=validate.OneOf(REGIONS)),
                                 validate=validate.Length(max=len(REGIONS)), metadata={
                                     "description": "Tenant regions whose data it touches, so the tenants told; "
                                                    "empty: all (default: all, or the replaced entry's)"})
    effective_on = fields.Date(required=True, metadata={
        "description": "First day in force; no earlier than today plus the longest notice owed to an affected tenant."})
    draft = fields.Boolean(load_default=False, metadata={"description": "Record without publishing."})

    @pre_load
    def entry_id_as_id(self, data, **kwargs):
        """Take the register entry's `id` (its name in GET /api/v1/subprocessors) for `subprocessor_id`."""
        if isinstance(data, dict) and "id" in data:
            data = dict(data)
            entry = data.pop("id")
            if data.setdefault("subprocessor_id", entry) != entry:
                raise ValidationError("give the register entry once: `subprocessor_id` or `id`", "id")
        return data


class SubprocessorChangeQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(CHANGE_STATUSES))


class WithdrawSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class SubprocessorChangeSchema(Schema):
    id = fields.UUID()
    action = fields.String()
    subprocessor_id = fields.UUID(allow_none=True)
    name = fields.String()
    purpose = fields.String()
    country = fields.String(allow_none=True)
    country_name = fields.Function(lambda change: country_name(change.country))
    location = fields.String()
    transfer_mechanism = fields.String()
    data_categories = fields.List(fields.String())
    data_category_labels = fields.List(fields.String())
    tenant_regions = fields.List(fields.String())
    effective_on = fields.Date()
    status = fields.String()
    proposed_at = fields.DateTime()
    proposed_by = fields.String()
    published_at = fields.DateTime(allow_none=True)
    earliest_allowed = fields.Date(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    withdraw_reason = fields.String(allow_none=True)
    applied_at = fields.DateTime(allow_none=True)
    new_subprocessor_id = fields.UUID(allow_none=True)


class ObjectionTaskRefSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    resolution = fields.String(allow_none=True)


class AnswerSchema(Schema):
    tenant = fields.String(attribute="tenant.slug")
    tenant_name = fields.String(attribute="tenant.name")
    notice_id = fields.UUID(attribute="notice.id")
    answer = fields.Function(lambda a: a.notice.answer or "silent",
                             metadata={"description": "acknowledged, objected or silent"})
    answered_at = fields.DateTime(attribute="notice.answered_at", allow_none=True)
    objection_reason = fields.String(attribute="notice.objection_reason", allow_none=True)
    delivered_at = fields.DateTime(attribute="notice.delivered_at", allow_none=True)
    recipients = fields.Integer(attribute="notice.recipients")
    tasks = fields.List(fields.Nested(ObjectionTaskRefSchema))


class SubprocessorChangeDetailSchema(SubprocessorChangeSchema):
    answers = fields.Method("_answers", metadata={"description": "Per tenant told: its answer and tasks."})

    def _answers(self, change):
        return AnswerSchema(many=True).dump(changes.answers(change))


# --- a tenant's notices ----------------------------------------------------------------------

class NoticeSchema(Schema):
    id = fields.UUID()
    kind = fields.String(metadata={"description": "subprocessor_change or breach"})
    phase = fields.Integer(metadata={"description": "1, or 2, 3, ... for a breach's updates"})
    title = fields.Function(lambda n: n.content["title"])
    content = fields.Dict(metadata={"description": "What the notice said when sent."})
    change_id = fields.UUID(allow_none=True)
    breach_id = fields.UUID(allow_none=True)
    sent_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    deadline = fields.DateTime(allow_none=True, metadata={"description": "A breach's first notice: the contract's limit."})
    answer = fields.String(allow_none=True, metadata={"description": "acknowledged, objected, or none yet"})
    answered_at = fields.DateTime(allow_none=True)
    objection_reason = fields.String(allow_none=True)
    can_acknowledge = fields.Function(lambda n: n.answer != "acknowledged" and inbox.can_answer(n))
    can_object = fields.Function(inbox.can_object)


class ObjectionSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=inbox.MIN_REASON, max=inbox.MAX_REASON))


# --- breaches --------------------------------------------------------------------------------

class BreachInSchema(Schema):
    scope = fields.String(required=True, validate=validate.OneOf(BREACH_SCOPES))
    tenants = fields.List(fields.String(validate=validate.Length(min=1, max=63)), validate=validate.Length(max=10_000),
                          metadata={"description": "Processor scope: the affected tenants' slugs."})
    held_from = fields.Date(metadata={"description": "Processor scope, instead of tenants: every tenant whose data "
                                                     "was held between held_from and held_to."})
    held_to = fields.Date()
    occurred_at = _instant(required=True)
    aware_at = _instant(required=True, metadata={"description": "When the vendor became aware: clocks start here."})
    nature = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    data_categories = _texts(load_default=list)
    subject_categories = _texts(load_default=list)
    approx_subjects = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1))
    approx_records = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**62))
    consequences = _text(4000, load_default="")
    measures = _text(4000, load_default="", metadata={"description": "Measures taken."})
    measures_proposed = _text(4000, allow_none=True)
    notify = fields.Boolean(load_default=False, metadata={"description": "Send every tenant its first notice now."})


class BreachQuerySchema(Schema):
    scope = fields.String(validate=validate.OneOf(BREACH_SCOPES))


class NotifySchema(Schema):
    tenants = fields.List(fields.String(validate=validate.Length(min=1, max=63)),
                          metadata={"description": "Default: every affected tenant not yet notified."})
    channel = fields.String(load_default="email", validate=validate.OneOf(CHANNELS), metadata={
        "description": "email: mailed now; other: staff already told them another way (recorded as delivered)."})


class UpdateInSchema(Schema):
    summary = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    nature = fields.String(validate=validate.Length(min=1, max=4000))
    data_categories = _texts()
    subject_categories = _texts()
    approx_subjects = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1))
    approx_records = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**62))
    consequences = _text(4000)
    measures = _text(4000)
    measures_proposed = _text(4000, allow_none=True)


class AuthorityInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(AUTHORITY_DECISIONS))
    reason = _text(4000, allow_none=True, metadata={
        "description": "not_notify: why no risk is likely (Art. 33(5)); notify after 72 h: why late."})
    notified_at = _instant(allow_none=True)
    reference = _text(200, allow_none=True, metadata={"description": "The authority's case reference."})


class SubjectsInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(SUBJECT_DECISIONS))
    reason = _text(4000, allow_none=True)
    informed_at = _instant(allow_none=True)


class UpdateSchema(Schema):
    id = fields.UUID()
    phase = fields.Integer()
    created_at = fields.DateTime()
    created_by = fields.String()
    summary = fields.String()
    changes = fields.Dict()


class NotificationSchema(Schema):
    tenant = fields.String(attribute="tenant.slug")
    tenant_name = fields.String(attribute="tenant.name")
    notice_id = fields.UUID(attribute="first.id")
    deadline = fields.DateTime(attribute="first.deadline")
    sent_at = fields.DateTime(attribute="first.sent_at", allow_none=True)
    channel = fields.String(attribute="first.channel", allow_none=True)
    delivered_at = fields.DateTime(attribute="first.delivered_at", allow_none=True)
    recipients = fields.Integer(attribute="first.recipients")
    delivery_error = fields.String(attribute="first.delivery_error", allow_none=True)
    acknowledged_at = fields.Function(lambda n: n.first.answered_at if n.first.answer == "acknowledged" else None,
                                      allow_none=True)
    overdue = fields.Function(lambda n: n.first.overdue())
    late = fields.Function(lambda n: bool(n.first.delivered_at and n.first.delivered_at > n.first.deadline))
    updates_sent = fields.Function(lambda n: len(n.updates))


class BreachSchema(Schema):
    id = fields.UUID()
    scope = fields.String()
    occurred_at = fields.DateTime()
    aware_at = fields.DateTime()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()
    updated_at = fields.DateTime()
    nature = fields.String()
    data_categories = fields.List(fields.String())
    subject_categories = fields.List(fields.String())
    approx_subjects = fields.Integer(allow_none=True)
    approx_records = fields.Integer(allow_none=True)
    consequences = fields.String()
    measures = fields.String()
    measures_proposed = fields.String(allow_none=True)
    held_from = fields.Date(allow_none=True)
    held_to = fields.Date(allow_none=True)
    authority_deadline = fields.DateTime(allow_none=True)
    authority_decision = fields.String(allow_none=True)
    authority_decided_at = fields.DateTime(allow_none=True)
    authority_notified_at = fields.DateTime(allow_none=True)
    authority_reference = fields.String(allow_none=True)
    authority_reason = fields.String(allow_none=True)
    authority_overdue = fields.Function(lambda b: b.authority_overdue())
    subjects_decision = fields.String(allow_none=True)
    subjects_decided_at = fields.DateTime(allow_none=True)
    subjects_reason = fields.String(allow_none=True)
    subjects_informed_at = fields.DateTime(allow_none=True)


class BreachDetailSchema(BreachSchema):
    notifications = fields.Method("_notifications", metadata={
        "description": "Processor scope: one per affected tenant, with its deadline."})
    updates = fields.Method("_updates")

    def _notifications(self, breach):
        return NotificationSchema(many=True).dump(breaches.notifications(breach))

    def _updates(self, breach):
        return UpdateSchema(many=True).dump(breaches.updates_of(breach))


class OverdueSchema(Schema):
    breach_id = fields.UUID(attribute="breach.id")
    scope = fields.String(attribute="breach.scope")
    whom = fields.String(metadata={"description": "The tenant's slug, or `supervisory authority`."})
    notice_id = fields.UUID(attribute="notice.id", allow_none=True)
    deadline = fields.DateTime()
    hours_overdue = fields.Function(lambda o: round((clock.now() - o.deadline).total_seconds() / 3600, 1))


# --- objection tasks ---------------------------------------------------------------------------

class ObjectionTaskQuerySchema(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "done", "all")))


class ObjectionTaskSchema(Schema):
    id = fields.UUID(attribute="task.id")
    status = fields.String(attribute="task.status")
    assigned_role = fields.String(attribute="task.assigned_role")
    assigned_to = fields.UUID(attribute="task.assigned_to", allow_none=True)
    created_at = fields.DateTime(attribute="task.created_at")
    done_at = fields.DateTime(attribute="task.done_at", allow_none=True)
    done_by = fields.String(attribute="task.done_by", allow_none=True)
    resolution = fields.String(attribute="task.resolution", allow_none=True)
    tenant = fields.String(attribute="tenant.slug")
    notice_id = fields.UUID(attribute="notice.id")
    change_id = fields.UUID(attribute="change.id")
    change = fields.Function(lambda v: v.notice.content["title"])
    effective_on = fields.Date(attribute="change.effective_on")
    objection_reason = fields.String(attribute="notice.objection_reason", allow_none=True)


class ObjectionTaskCloseSchema(Schema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=1000))


# --- transparency ------------------------------------------------------------------------------

class TransparencyQuerySchema(Schema):
    as_of = fields.Date(metadata={"description": "Show the sub-processor register as it stood on this day."})


class TermsSchema(Schema):
    contract_start = fields.Date()
    contract_end = fields.Date(allow_none=True)
    retain_after_end = fields.String()
    end_action = fields.String()
    usage_retention = fields.String()
    self_service_deletion = fields.Boolean()
    subprocessor_notice = fields.String()
    breach_notice = fields.String()


class AnnouncedChangeSchema(Schema):
    """A change as its tenants see it."""

    id = fields.UUID()
    action = fields.String()
    name = fields.String()
    purpose = fields.String()
    country = fields.String(allow_none=True)
    location = fields.String()
    transfer_mechanism = fields.String()
    data_categories = fields.List(fields.String())
    effective_on = fields.Date()
    status = fields.String()


class PendingChangeSchema(Schema):
    change = fields.Nested(AnnouncedChangeSchema)
    notice_id = fields.UUID(attribute="notice.id")
    answer = fields.String(attribute="notice.answer", allow_none=True)
    answered_at = fields.DateTime(attribute="notice.answered_at", allow_none=True)
    objection_reason = fields.String(attribute="notice.objection_reason", allow_none=True)
    can_answer = fields.Boolean()


class TransparencySchema(Schema):
    tenant = fields.Function(lambda p: {"slug": p["tenant"].slug, "name": p["tenant"].name,
                                        "region": p["tenant"].region, "status": p["tenant"].status})
    terms = fields.Nested(TermsSchema)
    privacy_contacts = fields.List(fields.Nested(PrivacyContactSchema))
    subprocessors_as_of = fields.Date(allow_none=True)
    subprocessors = fields.List(fields.Nested(SubprocessorSchema))
    pending_changes = fields.List(fields.Nested(PendingChangeSchema))
    notices = fields.List(fields.Nested(NoticeSchema))
    audit = fields.List(fields.Nested(AuditEntrySchema))
    audit_total = fields.Integer()
    purge_due_on = fields.Date(allow_none=True)
