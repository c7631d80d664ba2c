"""Website-activity and billing records: add, detach from erased contacts, count."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.controller.records.models import ACTIVITY_KINDS, BillingRecord, WebsiteActivity
from privacy_saas.errors import AppError, Conflict
from privacy_saas.extensions import db


def record_activity(kind: str, path: str, *, visitor_id: str | None = None, contact_id: uuid.UUID | None = None,
                    occurred_at: datetime | None = None) -> WebsiteActivity:
    """Record one website event (the path without its query string)."""
    if kind not in ACTIVITY_KINDS:
        raise AppError(f"unknown activity kind {kind!r}", code="invalid_input")
    # Query strings can carry e-mail addresses and tokens: never keep them.
    path = path.split("?", 1)[0].split("#", 1)[0][:500]
    activity = WebsiteActivity(kind=kind, path=path, visitor_id=visitor_id, contact_id=contact_id,
                               occurred_at=occurred_at or clock.now())
    db.session.add(activity)
    db.session.flush()
    return activity


def add_invoice(invoice_number: str, company: str, amount_minor: int, currency: str, issued_on: date,
                paid_on: date | None = None) -> BillingRecord:
    """Record an invoice (company, amounts and dates; no person's data)."""
    if db.session.scalar(sa.select(BillingRecord.id).where(BillingRecord.invoice_number == invoice_number)):
        raise Conflict(f"invoice {invoice_number} exists", code="invoice_exists")
    record = BillingRecord(invoice_number=invoice_number, company=company, amount_minor=amount_minor,
                           currency=currency.upper(), issued_on=issued_on, paid_on=paid_on)
    db.session.add(record)
    db.session.flush()
    return record


def detach_contact(contact_id: uuid.UUID, *, erase: bool) -> int:
    """Delete (erasure) or unlink (retention) the website activity of a contact; return how many rows."""
    where = WebsiteActivity.contact_id == contact_id
    if erase:
        result = db.session.execute(sa.delete(WebsiteActivity).where(where))
    else:
        result = db.session.execute(sa.update(WebsiteActivity).where(where).values(contact_id=None))
    return result.rowcount or 0
