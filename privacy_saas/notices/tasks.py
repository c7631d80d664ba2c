"""The notice job (mail one notice; ids only) and the scheduler's notices step."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

from privacy_saas import audit, clock, mail, rls
from privacy_saas.auth import service as staff_service
from privacy_saas.extensions import db
from privacy_saas.notices import breaches, certificates, changes
from privacy_saas.notices.mails import notice_mail, withdrawal_mail
from privacy_saas.notices.models import Notice, SubprocessorChange
from privacy_saas.processor.privacy_contacts import service as privacy_contacts
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)

#: Who is warned about breach deadlines: the DPO, else the admins.
ALERT_ROLES = (("dpo",), ("admin",))


def deliver_notice(tenant_id: str, notice_id: str, purpose: str = "notice") -> None:
    """Job: mail a notice (or the withdrawal of its change) to the tenant's admins and privacy contacts."""
    tenant_id = uuid.UUID(tenant_id)
    rls.scope_to_tenant(tenant_id)
    notice = db.session.get(Notice, (tenant_id, uuid.UUID(notice_id)), with_for_update=True)
    tenant = db.session.get(Tenant, tenant_id)
    if notice is None or tenant is None or (purpose == "notice" and notice.delivered_at is not None):
        return
    if purpose == "withdrawal":
        subject, body = withdrawal_mail(notice, tenant, db.session.get(SubprocessorChange, notice.change_id).withdraw_reason)
    else:
        subject, body = notice_mail(notice, tenant)
    recipients = privacy_contacts.notice_recipients(tenant)
    for address in recipients:
        # In the tenant's outbox folder: its purge removes mail about its people.
        mail.send(mail.Message(to=address, subject=subject, body=body, tenant_id=tenant_id))
    if purpose == "notice":
        notice.mark_delivered(len(recipients))
    audit.record("notice.delivered" if recipients else "notice.undeliverable", tenant_id=tenant_id,
                 targets=[notice.id], actor=("system", None), outcome="ok" if recipients else "failed",
                 detail={"purpose": purpose, "recipients": len(recipients)})
    if not recipients:
        log.warning("notice %s of tenant %s has no recipient: no active admin, no privacy contact", notice.id,
                    tenant_id)
    db.session.commit()


def _alert_staff(near: list[breaches.Overdue], passed: list[breaches.Overdue]) -> None:
    """Warn the DPO (else the admins) by mail, once per deadline; ids, slugs and times only."""
    for item in near:
        breaches.mark_alerted(item, passed=False)
    for item in passed:
        breaches.mark_alerted(item, passed=True)
    lines = ([f"DUE SOON  breach {i.breach.id}  {i.whom}  deadline {i.deadline:%Y-%m-%d %H:%M} UTC" for i in near]
             + [f"OVERDUE   breach {i.breach.id}  {i.whom}  deadline {i.deadline:%Y-%m-%d %H:%M} UTC" for i in passed])
    for line in lines:
        log.warning("breach notification %s", line)
    staff = next((found for roles in ALERT_ROLES if (found := staff_service.active_staff(roles))), [])
    body = ("Breach notification deadlines need attention (privacy-saas breaches overdue; console: Breaches):\n\n"
            + "\n".join(lines) + "\n")
    for member in staff:
        mail.send(mail.Message(to=member.email, subject=f"Breach deadlines: {len(passed)} overdue, {len(near)} due soon",
                               body=body))


def sweep(now: datetime | None = None, dry_run: bool = False) -> dict:
    """The scheduler's notices step: apply changes due, notify late tenants, warn of breach deadlines, mail certificates."""
    now = now or clock.now()
    if dry_run:
        return {"changes_due": [str(c.id) for c in changes.due_changes(now.date())]}
    applied = changes.apply_due(now.date())
    late = changes.notify_latecomers(now.date())
    near, passed = breaches.deadline_alerts(now)
    if near or passed:
        _alert_staff(near, passed)
    db.session.commit()
    pending_certificates = certificates.undelivered()
    for tenant_id in pending_certificates:
        certificates.deliver_now(tenant_id)
    return {"changes_applied": [str(c.id) for c in applied], "late_notices": late, "deadlines_near": len(near),
            "deadlines_passed": len(passed), "certificates_mailed": len(pending_certificates)}
