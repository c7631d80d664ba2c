"""Personal-data breaches, recorded once, and the information given about them in phases."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, person_id, table
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import Conflict
from privacy_saas.extensions import db
from privacy_saas.notices.validation import STAFF_TEXT

BREACH_SCOPES = ("processor", "controller")
AUTHORITY_DECISIONS = ("notify", "not_notify")
SUBJECT_DECISIONS = ("inform", "not_required")
#: Art. 33(1): the controller notifies its supervisory authority within 72 hours of becoming aware.
AUTHORITY_DEADLINE = timedelta(hours=72)


class Breach(db.Model):
    """A personal-data breach recorded once: processor scope (tenants' data) or controller scope (ours)."""

    __tablename__ = "breaches"
    __table_args__ = (
        choice("scope", "scope", BREACH_SCOPES),
        choice("authority_decision", "authority_decision", AUTHORITY_DECISIONS),
        choice("subjects_decision", "subjects_decision", SUBJECT_DECISIONS),
        sa.CheckConstraint("occurred_at <= aware_at", name="aware_after_occurred"),
        sa.CheckConstraint("(scope = 'controller') = (authority_deadline IS NOT NULL)", name="authority_clock"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="breach_register", retention="platform_record",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: processor (tenants' data: each affected tenant is notified) or controller (the vendor's own data).
    scope: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    #: When it happened (or began), as far as known.
    occurred_at: Mapped[datetime] = mapped_column(info=not_personal())
    #: When the vendor became aware: every clock starts here.
    aware_at: Mapped[datetime] = mapped_column(index=True, info=not_personal())
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: staff:<id>, or system for the command line.
    recorded_by: Mapped[str] = mapped_column(sa.String(120), info=person_id("staff"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: What happened (Art. 33(3)(a)); never the data subjects' personal data.
    nature: Mapped[str] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    #: Categories of personal data concerned.
    data_categories: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: Categories of data subjects concerned.
    subject_categories: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: Approximate number of data subjects concerned, when known.
    approx_subjects: Mapped[int | None] = mapped_column(sa.Integer, info=not_personal())
    #: Approximate number of personal-data records concerned, when known.
    approx_records: Mapped[int | None] = mapped_column(sa.BigInteger, info=not_personal())
    #: Likely consequences (Art. 33(3)(c)).
    consequences: Mapped[str] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    #: Measures taken to address it and mitigate its effects (Art. 33(3)(d)).
    measures: Mapped[str] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    #: Measures proposed, not yet taken.
    measures_proposed: Mapped[str | None] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    #: Processor scope chosen by period: every tenant whose data was held between these days.
    held_from: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    held_to: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    #: Controller scope: aware_at + 72 hours (Art. 33(1)).
    authority_deadline: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: notify, or not_notify (unlikely to result in a risk: the reasoned decision of Art. 33(5)).
    authority_decision: Mapped[str | None] = mapped_column(sa.String(16), info=not_personal())
    authority_decided_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    authority_decided_by: Mapped[str | None] = mapped_column(sa.String(120), info=person_id("staff"))
    authority_notified_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: The supervisory authority's case reference.
    authority_reference: Mapped[str | None] = mapped_column(sa.String(200), info=not_personal())
    #: Why not notify (Art. 33(5)) or, notified after 72 hours, why late (Art. 33(1)).
    authority_reason: Mapped[str | None] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    #: Art. 34: inform the data subjects (high risk), or not_required (with the reason).
    subjects_decision: Mapped[str | None] = mapped_column(sa.String(16), info=not_personal())
    subjects_decided_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    subjects_reason: Mapped[str | None] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    subjects_informed_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: When the scheduler warned that the authority deadline was near, and that it had passed.
    warned_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(info=not_personal())

    def __repr__(self) -> str:
        return f"<Breach {self.id} {self.scope}>"

    def authority_overdue(self, now: datetime | None = None) -> bool:
        """Return whether the 72 hours are over with no notification or reasoned decision recorded."""
        return (self.scope == "controller" and self.authority_decision is None
                and self.authority_deadline < (now or clock.now()))

    def ensure_controller_scope(self) -> None:
        """Refuse the controller's decisions (authority, data subjects) on a processor-scope breach."""
        if self.scope != "controller":
            raise Conflict("for a breach of tenants' data each tenant, the controller, decides whether to notify "
                           "its supervisory authority and its data subjects", code="processor_breach")

    def decide_authority(self, decision: str, by: str, *, reason: str | None, notified_at: datetime | None,
                         reference: str | None) -> None:
        """Record the notification of the supervisory authority, or the reasoned decision not to notify."""
        self.ensure_controller_scope()
        if self.authority_decision is not None:
            raise Conflict(f"the decision is already recorded ({self.authority_decision})", code="already_decided")
        self.authority_decision, self.authority_decided_at, self.authority_decided_by = decision, clock.now(), by
        self.authority_notified_at, self.authority_reference, self.authority_reason = notified_at, reference, reason

    def decide_subjects(self, decision: str, *, reason: str | None, informed_at: datetime | None) -> None:
        """Record whether the data subjects must be told (Art. 34), and when they were."""
        self.ensure_controller_scope()
        self.subjects_decision, self.subjects_decided_at = decision, clock.now()
        self.subjects_reason, self.subjects_informed_at = reason, informed_at


class BreachUpdate(db.Model):
    """Information given in phases (Art. 33(4)): what changed, sent to every tenant already notified."""

    __tablename__ = "breach_updates"
    __table_args__ = (sa.UniqueConstraint("breach_id", "phase"), distribution(VENDOR_LOCAL))
    __datamap__ = table(scope="operational", purpose="breach_register", retention="platform_record",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    breach_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("breaches.id"), info=not_personal())
    #: 2 for the first update (the initial notice is phase 1), then 3, ...
    phase: Mapped[int] = mapped_column(sa.Integer, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: staff:<id>, or system for the command line.
    created_by: Mapped[str] = mapped_column(sa.String(120), info=person_id("staff"))
    #: What is new, in a few sentences.
    summary: Mapped[str] = mapped_column(sa.String(4000), info=STAFF_TEXT)
    #: The breach fields this update changed, with their new values.
    changes: Mapped[dict] = mapped_column(sa.JSON, default=dict, info=not_personal())
