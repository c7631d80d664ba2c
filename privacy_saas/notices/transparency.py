"""A tenant's transparency page (Art. 28(3)(h)): everything needed to check what we do with its data."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from privacy_saas.audit import service as audit_service
from privacy_saas.extensions import db
from privacy_saas.notices import inbox
from privacy_saas.notices.models import Notice, SubprocessorChange
from privacy_saas.processor.privacy_contacts import service as privacy_contacts
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.subprocessors import service as register

#: Audit entries shown on the page; the audit API pages through the rest.
AUDIT_ENTRIES = 50


def pending_changes(tenant: Tenant) -> list[tuple[SubprocessorChange, Notice]]:
    """Return the published changes not yet in force that the tenant was told of, with its notice (answer)."""
    return [(change, notice) for change, notice in db.session.execute(
        sa.select(SubprocessorChange, Notice).join(Notice, Notice.change_id == SubprocessorChange.id)
        .where(Notice.tenant_id == tenant.id, SubprocessorChange.status == "published")
        .order_by(SubprocessorChange.effective_on))]


def page(tenant: Tenant, as_of: date | None = None) -> dict:
    """Return the tenant's terms, sub-processors (now, or as of a day), pending changes, notices, audit log."""
    entries, total = audit_service.list_entries(tenant_id=tenant.id, page_size=AUDIT_ENTRIES)
    ended = tenant.status != "active"
    return {
        "tenant": tenant,
        "terms": {
            "contract_start": tenant.contract_start, "contract_end": tenant.contract_end,
            "retain_after_end": tenant.retain_after_end, "end_action": tenant.end_action,
            "usage_retention": tenant.usage_retention, "self_service_deletion": tenant.self_service_deletion,
            "subprocessor_notice": tenant.subprocessor_notice, "breach_notice": tenant.breach_notice,
        },
        "privacy_contacts": privacy_contacts.list_for(tenant),
        "subprocessors_as_of": as_of,
        "subprocessors": (register.as_of(as_of, tenant.region) if as_of
                          else register.list_subprocessors(region=tenant.region)),
        "pending_changes": [{"change": change, "notice": notice, "can_answer": inbox.can_answer(notice)}
                            for change, notice in pending_changes(tenant)],
        "notices": inbox.list_for(tenant),
        "audit": entries,
        "audit_total": total,
        # After the contract ends, the day the purge is due (legal holds aside).
        "purge_due_on": tenant.purge_due_on if ended else None,
    }
