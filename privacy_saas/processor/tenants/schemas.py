"""Tenant API schemas."""
from marshmallow import Schema, fields, validate

from privacy_saas.processor.tenants.models import STATUSES


class ContractSchema(Schema):
    start = fields.Date(attribute="contract_start")
    end = fields.Date(attribute="contract_end", allow_none=True)
    retain_after_end = fields.String()
    end_action = fields.String()


class PolicySchema(Schema):
    self_service_deletion = fields.Boolean()
    usage_retention = fields.String()


class NoticeTermsSchema(Schema):
    subprocessor_notice = fields.String()
    breach_notice = fields.String()


class TenantSchema(Schema):
    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    region = fields.String()
    status = fields.String()
    contract = fields.Function(lambda t: ContractSchema().dump(t))
    policy = fields.Function(lambda t: PolicySchema().dump(t))
    notices = fields.Function(lambda t: NoticeTermsSchema().dump(t))
    purge_due_on = fields.Date(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    purged_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class TenantQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
