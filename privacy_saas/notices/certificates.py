"""Mail a purged tenant's deletion certificate to its admins and privacy contacts.

The purge destroys the tenant's key, and with it every address sealed under it. So, in the
shred's own transaction, the addresses are re-sealed under a key of their own
(`delivery:<tenant id>`); once the certificate is mailed, that key is destroyed too. A row
copied into a backup in between reads nothing after that.
"""
from __future__ import annotations

import logging

from privacy_saas import audit, clock, mail
from privacy_saas.crypto.keyring import keyring
from privacy_saas.errors import NotFound
from privacy_saas.extensions import db
from privacy_saas.lifecycle import service as lifecycle
from privacy_saas.notices.mails import certificate_mail
from privacy_saas.notices.models import CertificateDelivery, delivery_scope
from privacy_saas.processor.privacy_contacts import service as privacy_contacts
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)


def seal_recipients(tenant: Tenant) -> CertificateDelivery:
    """Before the shred: seal who will receive the certificate under a key the shred leaves alone."""
    held = db.session.get(CertificateDelivery, tenant.id)
    if held is not None:
        return held  # a purge resumed after this step
    recipients = privacy_contacts.certificate_recipients(tenant)
    keyring().create_scope(delivery_scope(tenant.id))
    held = CertificateDelivery(tenant_id=tenant.id, recipients=recipients)
    db.session.add(held)
    db.session.flush()
    audit.record("certificate.recipients_sealed", tenant_id=tenant.id, targets=[held.id], actor=("system", None),
                 detail={"recipients": len(recipients)})
    return held


def deliver(tenant_id) -> CertificateDelivery | None:
    """Mail the certificate to the sealed recipients, then destroy their key; nothing if already done."""
    # Locked: the purge and the scheduler may both have queued it; one mails, the other finds it sent.
    held = db.session.get(CertificateDelivery, tenant_id, with_for_update=True)
    tenant = db.session.get(Tenant, tenant_id)
    if held is None or held.sent_at is not None or tenant is None:
        return held
    try:
        document = lifecycle.certificate(tenant).document
    except NotFound:
        return held  # not certified yet: the purge queues this again when it is
    recipients = held.recipients or []
    subject, body = certificate_mail(tenant, document)
    for address in recipients:
        mail.send(mail.Message(to=address, subject=subject, body=body))
    held.recipients, held.sent_at, held.recipients_count = None, clock.now(), len(recipients)
    keyring().destroy_scope(delivery_scope(tenant.id))
    audit.record("certificate.mailed" if recipients else "certificate.undeliverable", tenant_id=tenant.id,
                 targets=[held.id], actor=("system", None), outcome="ok" if recipients else "failed",
                 detail={"recipients": len(recipients)})
    log.info("deletion certificate of tenant %s mailed to %d recipients", tenant.id, len(recipients))
    return held


def deliver_now(tenant_id) -> None:
    """Mail the certificate and commit, from the purge's last step or the scheduler.

    A mail server that fails leaves the delivery pending: the scheduler tries again on its next sweep.
    """
    try:
        deliver(tenant_id)
        db.session.commit()
    except OSError:  # smtplib's errors included
        db.session.rollback()
        log.exception("deletion certificate of tenant %s not mailed; the scheduler will retry", tenant_id)


def undelivered() -> list:
    """Return the tenant ids whose certificate is issued but not yet mailed (a purge killed after
    certifying, or a mail server down)."""
    return [held.tenant_id for held in db.session.scalars(
        db.select(CertificateDelivery).join(Tenant, Tenant.id == CertificateDelivery.tenant_id)
        .where(CertificateDelivery.sent_at.is_(None), Tenant.status == "purged"))]
