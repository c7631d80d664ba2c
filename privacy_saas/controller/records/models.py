"""Website-activity and billing records the vendor holds as controller."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, person_state, personal, table
from privacy_saas.db import choice, new_id, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db

ACTIVITY_KINDS = ("page_view", "form_submit", "download", "signup")


class WebsiteActivity(EncryptedModel, db.Model):
    """One event on the vendor's website; deleted after two years."""

    __tablename__ = "website_activity"
    __key_scope_kind__ = "controller"
    __table_args__ = (choice("kind", "kind", ACTIVITY_KINDS), distribution(VENDOR_LOCAL))
    #: The visitor id comes from an analytics cookie, which needs the visitor's consent (ePrivacy).
    __datamap__ = table(scope="controller", purpose="website_analytics", retention="website_activity",
                        lawful_basis="consent")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    #: When it happened: the 2-year retention clock starts here.
    occurred_at: Mapped[datetime] = mapped_column(index=True, info=person_state("website_visitor", "usage"))
    #: page_view, form_submit, download, signup.
    kind: Mapped[str] = mapped_column(sa.String(16), info=person_state("website_visitor", "usage"))
    #: Site path, without query string (query strings can carry e-mails).
    path: Mapped[str] = mapped_column(sa.String(500), info=personal(
        "usage", subject="website_visitor", plaintext_because=(
            "the page visited, stripped of its query string on the way in: reports group by it, and the visitor "
            "is known only by a sealed cookie id")))
    #: The analytics cookie id: pseudonymous, so sealed.
    visitor_id_ct: Mapped[bytes | None] = ciphertext_column(
        "visitor_id_ct", personal("technical_ids", subject="website_visitor"))
    #: The contact it was matched to, if any; erasing the contact erases these rows.
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True, info=person_id("contact"))

    visitor_id = Encrypted("str")


class BillingRecord(db.Model):
    """An invoice: company, amounts and dates only, kept 5 years as a legal obligation."""

    __tablename__ = "billing_records"
    __table_args__ = (sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
                      distribution(VENDOR_LOCAL))
    __datamap__ = table(scope="controller", purpose="billing", retention="billing_records",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: The vendor's invoice number.
    invoice_number: Mapped[str] = mapped_column(sa.String(64), unique=True, info=not_personal())
    #: The invoiced organisation; never a registered user or other person.
    company: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: Total in minor units (cents).
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger, info=not_personal())
    #: ISO 4217 code.
    currency: Mapped[str] = mapped_column(sa.String(3), info=not_personal())
    #: Invoice date: the 5-year retention clock starts here.
    issued_on: Mapped[date] = mapped_column(sa.Date, index=True, info=not_personal())
    paid_on: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
