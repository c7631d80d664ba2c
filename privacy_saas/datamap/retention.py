"""The retention rules: one registry, named by the data map and read by the code that enforces them.

A column's annotation names its rule(s); the post-contract purge erases the tenant tables whose
rules say `erased_by_purge`, the usage sweep reads its period through `TENANT_USAGE`, and the
controller sweep's rules (controller/retention/rules.py) are keyed by the rule objects below, so a
rule cannot be enforced under one name and declared under another.
"""
from __future__ import annotations

from dataclasses import dataclass

PURGE = "privacy_saas.lifecycle.purge (post-contract purge)"
USAGE_SWEEP = "privacy_saas.processor.usage.service.delete_expired_usage (daily, while the contract runs)"
CONTROLLER_SWEEP = "privacy_saas.controller.retention (quarterly sweep)"
SCHEDULER_SWEEP = "privacy_saas.jobs.scheduler (lifecycle sweep, every few minutes)"


@dataclass(frozen=True)
class RetentionRule:
    """How long data is kept and what deletes it."""

    name: str
    scope: str
    #: The rule in one sentence, as the records print it.
    summary: str
    #: ISO-8601 period when the rule has one; None for "kept" rules.
    default_period: str | None = None
    #: Where the period is set, if it can be.
    configured_by: str | None = None
    #: The code that deletes the data; None when nothing deletes it automatically.
    enforced_by: tuple[str, ...] = ()
    #: Rows of a tenant under this rule are erased by its post-contract purge.
    erased_by_purge: bool = False
    #: The tenant column holding this tenant's period (tenant rules only).
    tenant_setting: str | None = None

    def tenant_period(self, tenant) -> str:
        """Return the tenant's own period for this rule (its tenant-file setting)."""
        if self.tenant_setting is None:
            raise ValueError(f"retention rule {self.name} has no per-tenant period")
        return getattr(tenant, self.tenant_setting) or self.default_period


TENANT_CONTRACT = RetentionRule(
    "tenant_contract", "processor",
    "For the contract, then for the tenant's retention after contract end; then erased by the post-contract "
    "purge, its keys destroyed first",
    default_period="P12M", configured_by="tenant file: retain_after_end", enforced_by=(PURGE,),
    erased_by_purge=True, tenant_setting="retain_after_end")
TENANT_USAGE = RetentionRule(
    "tenant_usage", "processor",
    "For the tenant's usage retention from when it happened, deleted daily while the contract runs; what is left "
    "at contract end goes with the post-contract purge",
    default_period="P24M", configured_by="tenant file: usage_retention", enforced_by=(USAGE_SWEEP, PURGE),
    erased_by_purge=True, tenant_setting="usage_retention")
TENANT_RECORD = RetentionRule(
    "tenant_record", "operational",
    "Kept after the tenant's purge, as its tombstone and proof of what was done (no data of its users)")
API_TOKEN = RetentionRule(
    "api_token", "operational",
    "Until revoked, then kept revoked as evidence; a tenant's tokens are erased by its post-contract purge",
    enforced_by=(PURGE,), erased_by_purge=True)
CONTACTS_UNCONFIRMED = RetentionRule(
    "contacts_unconfirmed", "controller",
    "Deleted 5 years after collection unless a quarterly review re-confirmed the contact since",
    default_period="P5Y", configured_by="CONTROLLER_RETENTION", enforced_by=(CONTROLLER_SWEEP,))
CONTACTS_NO_CONTACT = RetentionRule(
    "contacts_no_contact", "controller",
    "Deleted after 3 years without a successful contact, unless the contact works at a current customer",
    default_period="P3Y", configured_by="CONTROLLER_RETENTION", enforced_by=(CONTROLLER_SWEEP,))
WEBSITE_ACTIVITY = RetentionRule(
    "website_activity", "controller", "Deleted 2 years after the visit",
    default_period="P2Y", configured_by="CONTROLLER_RETENTION", enforced_by=(CONTROLLER_SWEEP,))
BILLING_RECORDS = RetentionRule(
    "billing_records", "controller", "Kept 5 years from the invoice date (legal obligation), then deleted",
    default_period="P5Y", configured_by="CONTROLLER_RETENTION", enforced_by=(CONTROLLER_SWEEP,))
SUPPRESSION_LIST = RetentionRule(
    "suppression_list", "controller",
    "Kept while the vendor markets: a keyed hash that must outlive the contact, or a later import would bring "
    "the person back")
DSR_RECORD = RetentionRule(
    "dsr_record", "controller",
    "Kept as evidence of how each request was answered; not deleted automatically")
DSR_TASK = RetentionRule(
    "dsr_task", "controller",
    "With its request; the instructions forwarded to a tenant are erased by that tenant's purge",
    enforced_by=(PURGE,), erased_by_purge=True)
STAFF_ACCOUNT = RetentionRule(
    "staff_account", "operational",
    "While the staff member works for the vendor: accounts are disabled, never deleted automatically")
AUDIT_TRAIL = RetentionRule(
    "audit_trail", "operational",
    "Kept for the life of the installation: the chains are append-only and name people by opaque id only")
KEY_MATERIAL = RetentionRule(
    "key_material", "operational",
    "Until the scope's keys are destroyed (the purge destroys a tenant's); the row stays, without key material, "
    "as proof", enforced_by=(PURGE,))
NOTICE_RECORD = RetentionRule(
    "notice_record", "operational",
    "Kept after the tenant's purge as proof of what it was told and answered, and when; the tenant's own words "
    "(an objection's reasons) are sealed under its key, so the purge's crypto-shred leaves them unreadable",
    enforced_by=(PURGE,))
CERTIFICATE_DELIVERY = RetentionRule(
    "certificate_delivery", "operational",
    "From the purge's crypto-shred until the deletion certificate is mailed: the addresses are sealed under a key "
    "of their own, destroyed once it is sent; the row stays, without them, as proof of delivery",
    enforced_by=("privacy_saas.notices.certificates (after the purge, and each scheduler sweep until mailed)",))
JOB_RECORD = RetentionRule(
    "job_record", "operational",
    "Until the job finishes; then 7 days if done, 90 days if it failed for good; a worker's heartbeat 7 days "
    "after its last beat (no personal data: ids only)",
    default_period="P7D", enforced_by=(SCHEDULER_SWEEP,))
PLATFORM_RECORD = RetentionRule(
    "platform_record", "operational", "Kept for the life of the installation (no personal data)")

#: Every rule, by name: the only names an annotation may use.
RULES: dict[str, RetentionRule] = {rule.name: rule for rule in (
    TENANT_CONTRACT, TENANT_USAGE, TENANT_RECORD, API_TOKEN, CONTACTS_UNCONFIRMED, CONTACTS_NO_CONTACT,
    WEBSITE_ACTIVITY, BILLING_RECORDS, SUPPRESSION_LIST, DSR_RECORD, DSR_TASK, STAFF_ACCOUNT, AUDIT_TRAIL,
    KEY_MATERIAL, NOTICE_RECORD, CERTIFICATE_DELIVERY, JOB_RECORD, PLATFORM_RECORD)}
