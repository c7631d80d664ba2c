"""Contacts of the vendor's own CRM and their append-only consent log."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, person_state, personal, table
from privacy_saas.datamap.retention import CONTACTS_NO_CONTACT, CONTACTS_UNCONFIRMED
from privacy_saas.db import choice, new_id
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db

SOURCES = ("linkedin", "event", "web_form", "email_database", "referral", "client_introduction", "other")
LAWFUL_BASES = ("consent", "legitimate_interest", "contract", "legal_obligation")
CONSENT_PURPOSES = ("marketing_email", "newsletter", "events")
CONSENT_ACTIONS = ("granted", "withdrawn")
#: A contact goes when the first of its retention rules says so; its consent log goes with it.
CONTACT_RETENTION = (CONTACTS_UNCONFIRMED.name, CONTACTS_NO_CONTACT.name)


class Contact(EncryptedModel, db.Model):
    """A person in the vendor's CRM; personal fields are sealed under the controller key."""

    __tablename__ = "contacts"
    __key_scope_kind__ = "controller"
    __table_args__ = (
        choice("source", "source", SOURCES),
        choice("lawful_basis", "lawful_basis", LAWFUL_BASES),
        distribution(VENDOR_LOCAL),
    )
    #: The basis is recorded per contact (`lawful_basis`): any of them may apply.
    __datamap__ = table(scope="controller", purpose="marketing", retention=CONTACT_RETENTION,
                        lawful_basis=LAWFUL_BASES)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=person_id("contact"))
    #: HMAC of the normalised e-mail under the controller index key: lookups never decrypt.
    email_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary(16), unique=True, info=personal(
        "technical_ids", subject="contact", plaintext_because=(
            "a keyed hash (blind index) of the e-mail: imports and DSR look-ups match it without decrypting; "
            "irreversible without the controller index key")))
    email_ct: Mapped[bytes | None] = ciphertext_column("email_ct", personal("contact_details", subject="contact"))
    name_ct: Mapped[bytes | None] = ciphertext_column("name_ct", personal("identity", subject="contact"))
    phone_ct: Mapped[bytes | None] = ciphertext_column("phone_ct", personal("contact_details", subject="contact"))
    #: A job title next to a company name identifies a person, so it is sealed too.
    job_title_ct: Mapped[bytes | None] = ciphertext_column("job_title_ct", personal("identity", subject="contact"))
    #: The organisation the contact works for (a company, not a person): plaintext for lists.
    company: Mapped[str | None] = mapped_column(sa.String(200), info=personal(
        "identity", subject="contact", plaintext_because=(
            "an organisation's name: lists filter and group by it, and without the sealed name, job title and "
            "e-mail it identifies no one")))
    #: Where the contact came from (linkedin, event, web_form, ...).
    source: Mapped[str] = mapped_column(sa.String(32), info=person_state("contact"))
    #: Art. 6 basis for holding and contacting them.
    lawful_basis: Mapped[str] = mapped_column(sa.String(32), info=person_state("contact"))
    #: Collection date: the 5-year retention clock starts here.
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True, info=person_state("contact"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now, info=person_state("contact"))
    #: Last quarterly review that re-confirmed the contact; restarts the 5-year clock.
    last_reviewed_at: Mapped[datetime | None] = mapped_column(info=person_state("contact"))
    #: Last evidence of a successful contact (e.g. a delivered e-mail); the 3-year rule counts from it.
    last_successful_contact_at: Mapped[datetime | None] = mapped_column(info=person_state("contact"))
    #: Works at a current customer: exempt from the 3-year no-contact rule.
    is_customer_contact: Mapped[bool] = mapped_column(sa.Boolean, default=False, info=person_state("contact"))
    #: Kept but never contacted ("Do not contact" tag).
    do_not_contact: Mapped[bool] = mapped_column(sa.Boolean, default=False, info=person_state("contact", "consent"))
    #: Processing restricted (Art. 18): not contacted and not deleted by retention sweeps.
    restricted: Mapped[bool] = mapped_column(sa.Boolean, default=False, info=person_state("contact", "consent"))

    consents: Mapped[list[ConsentEvent]] = relationship(
        back_populates="contact", order_by="ConsentEvent.at", passive_deletes=True, cascade="all, delete-orphan")

    email = Encrypted("str")
    name = Encrypted("str")
    phone = Encrypted("str")
    job_title = Encrypted("str")

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.source} {self.lawful_basis}>"

    def latest_consents(self) -> dict[str, ConsentEvent]:
        """Return the latest consent event per purpose (ids are time-ordered, so they break ties)."""
        latest: dict[str, ConsentEvent] = {}
        for event in sorted(self.consents, key=lambda e: (e.at, e.id)):
            latest[event.purpose] = event
        return latest


class ConsentEvent(EncryptedModel, db.Model):
    """One grant or withdrawal of consent for a purpose; never updated, removed only with its contact."""

    __tablename__ = "contact_consents"
    __key_scope_kind__ = "controller"
    __table_args__ = (
        choice("purpose", "purpose", CONSENT_PURPOSES),
        choice("action", "action", CONSENT_ACTIONS),
        sa.Index("ix_contact_consents_contact_purpose", "contact_id", "purpose", "at"),
        distribution(VENDOR_LOCAL),
    )
    #: Goes with its contact; proving consent (Art. 7(1)) is the vendor's legal obligation.
    __datamap__ = table(scope="controller", purpose="consent_evidence", retention=CONTACT_RETENTION,
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    contact_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"),
                                                  info=person_id("contact"))
    #: marketing_email, newsletter, events.
    purpose: Mapped[str] = mapped_column(sa.String(32), info=person_state("contact", "consent"))
    #: granted or withdrawn.
    action: Mapped[str] = mapped_column(sa.String(16), info=person_state("contact", "consent"))
    #: When the person gave or withdrew consent (may precede recording).
    at: Mapped[datetime] = mapped_column(info=person_state("contact", "consent"))
    #: How consent was given or withdrawn (form, e-mail reply, unsubscribe link); may name the person.
    evidence_ct: Mapped[bytes | None] = ciphertext_column("evidence_ct", personal("consent", subject="contact"))
    #: Who recorded it: staff:<id>, subject, import, system.
    recorded_by: Mapped[str] = mapped_column(sa.String(80), info=person_id("staff"))
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state("contact", "consent"))

    contact: Mapped[Contact] = relationship(back_populates="consents")

    evidence = Encrypted("str")

    def __repr__(self) -> str:
        return f"<ConsentEvent {self.contact_id} {self.purpose} {self.action}>"


@sa.event.listens_for(ConsentEvent, "before_update")
def _consent_log_is_append_only(_mapper, _connection, target) -> None:
    raise ValueError("the consent log is append-only; record a new event instead")
