"""Sub-processor changes, breaches, the notices they send each tenant, and the tasks objections raise.

None of these hold personal data in clear: the one text a tenant writes (an objection's reason) is
sealed under that tenant's key. Notices, their tasks and certificate deliveries survive the purge
as the vendor's proof of what it told whom and when; the purge's crypto-shred makes the reasons
unreadable.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, personal, table
from privacy_saas.db import choice, new_id, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import Conflict, InvalidTransition
from privacy_saas.extensions import db

CHANGE_ACTIONS = ("add", "replace", "remove")
#: draft → published → applied (on its effective date), or → withdrawn before that.
CHANGE_STATUSES = ("draft", "published", "withdrawn", "applied")
NOTICE_KINDS = ("subprocessor_change", "breach")
ANSWERS = ("acknowledged", "objected")
#: email: mailed to the tenant's admins and privacy contacts; other: staff reached the tenant another way.
CHANNELS = ("email", "other")
BREACH_SCOPES = ("processor", "controller")
AUTHORITY_DECISIONS = ("notify", "not_notify")
SUBJECT_DECISIONS = ("inform", "not_required")
TASK_STATUSES = ("open", "done")
#: Art. 33(1): the controller notifies its supervisory authority within 72 hours of becoming aware.
AUTHORITY_DEADLINE = timedelta(hours=72)
#: Who writes the free text of changes and breaches: staff, checked for e-mail addresses (notices/validation.py).
STAFF_TEXT = not_personal()


class SubprocessorChange(db.Model):
    """An intended change to the sub-processor register, announced to every affected tenant first."""

    __tablename__ = "subprocessor_changes"
    __table_args__ = (
        choice("action", "action", CHANGE_ACTIONS),
        choice("status", "status", CHANGE_STATUSES),
        sa.CheckConstraint("(action = 'add') = (subprocessor_id IS NULL)", name="target"),
        sa.Index("ix_subprocessor_changes_status_effective", "status", "effective_on"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="vendor_register", retention="platform_record",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: add, replace or remove.
    action: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    #: The register entry replaced or removed (none for an addition).
    subprocessor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("subprocessors.id"), index=True,
                                                               info=not_personal())
    #: The company engaged (or, for a removal, the one leaving), as tenants are told.
    name: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: What it will do with the tenants' data.
    purpose: Mapped[str] = mapped_column(sa.String(500), info=not_personal())
    #: ISO 3166-1 alpha-2 code of the country where it will process the data (none: a removed entry had none).
    country: Mapped[str | None] = mapped_column(sa.String(2), info=not_personal())
    #: Where, in words ("EU (Dublin)"), as the register's `location`.
    location: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: Transfer mechanism: adequacy decision, SCCs, UK IDTA, none needed, ... (the register's `safeguards`).
    transfer_mechanism: Mapped[str] = mapped_column(sa.String(500), info=not_personal())
    #: Data-map categories of personal data it will receive.
    data_categories: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: Categories as given that name no data-map category ("Voice recordings"), shown as they were written.
    data_category_labels: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]",
                                                       info=not_personal())
    #: Tenant regions whose data it touches, so the tenants owed notice; empty: every region.
    tenant_regions: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: The first day the change is in force; answers are taken until the day before.
    effective_on: Mapped[date] = mapped_column(sa.Date, info=not_personal())
    status: Mapped[str] = mapped_column(sa.String(16), default="draft", info=not_personal())
    proposed_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: staff:<id>, or system for the command line.
    proposed_by: Mapped[str] = mapped_column(sa.String(120), info=person_id("staff"))
    published_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: The earliest effective date the notice periods allowed when it was published.
    earliest_allowed: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    withdrawn_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: Why it was withdrawn (told to the tenants; checked for e-mail addresses).
    withdraw_reason: Mapped[str | None] = mapped_column(sa.String(1000), info=STAFF_TEXT)
    applied_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: The register entry the change created (add, replace).
    new_subprocessor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("subprocessors.id"),
                                                                   info=not_personal())

    def __repr__(self) -> str:
        return f"<SubprocessorChange {self.id} {self.action} {self.status}>"

    def open_for_answers(self, today: date | None = None) -> bool:
        """Return whether tenants may still acknowledge or object (published, before the effective date)."""
        return self.status == "published" and (today or clock.today()) < self.effective_on

    def publish(self, earliest_allowed: date) -> None:
        """Announce the change; its effective date must leave every tenant its notice."""
        if self.status != "draft":
            raise InvalidTransition(f"this change is {self.status}; only a draft can be published")
        self.status, self.published_at, self.earliest_allowed = "published", clock.now(), earliest_allowed

    def withdraw(self, reason: str) -> None:
        """Drop the change before it takes effect."""
        if self.status not in ("draft", "published"):
            raise InvalidTransition(f"this change is {self.status}; it can no longer be withdrawn")
        self.status, self.withdrawn_at, self.withdraw_reason = "withdrawn", clock.now(), reason

    def mark_applied(self, new_entry_id) -> None:
        """Record that the register now reflects the change."""
        if self.status != "published":
            raise InvalidTransition(f"this change is {self.status}; only a published change takes effect")
        self.status, self.applied_at, self.new_subprocessor_id = "applied", clock.now(), new_entry_id


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


class Notice(EncryptedModel, db.Model):
    """What the vendor told one tenant: a sub-processor change, or a breach (one per phase).

    A breach notice exists from the moment the breach is recorded, with its deadline, but the
    tenant sees it only once sent.
    """

    __tablename__ = "notices"
    __table_args__ = (
        choice("kind", "kind", NOTICE_KINDS),
        choice("answer", "answer", ANSWERS),
        choice("channel", "channel", CHANNELS),
        sa.CheckConstraint("(kind = 'subprocessor_change') = (change_id IS NOT NULL)", name="change_notice"),
        sa.CheckConstraint("(kind = 'breach') = (breach_id IS NOT NULL)", name="breach_notice"),
        sa.CheckConstraint("answer IS NULL OR sent_at IS NOT NULL", name="answered_after_sent"),
        sa.UniqueConstraint("tenant_id", "change_id"),
        sa.UniqueConstraint("tenant_id", "breach_id", "phase"),
        sa.Index("ix_notices_change", "change_id"),
        sa.Index("ix_notices_breach", "breach_id", "phase"),
        sa.Index("ix_notices_deadline", "kind", "delivered_at", "deadline"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="client_notices", retention="notice_record",
                        lawful_basis="legal_obligation")

    #: The tenant told; leads the primary key.
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    #: subprocessor_change or breach.
    kind: Mapped[str] = mapped_column(sa.String(32), info=not_personal())
    change_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("subprocessor_changes.id"), info=not_personal())
    breach_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("breaches.id"), info=not_personal())
    #: 1 for a change notice or a breach's first notice; 2, 3, ... for a breach's updates.
    phase: Mapped[int] = mapped_column(sa.Integer, default=1, info=not_personal())
    #: What the notice said, fixed when sent (never personal data of data subjects).
    content: Mapped[dict | None] = mapped_column(sa.JSON, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: A breach's first notice: awareness + the tenant's breach_notice, the contractual limit.
    deadline: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: When the vendor sent it; the tenant sees it from then.
    sent_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    channel: Mapped[str | None] = mapped_column(sa.String(16), info=not_personal())
    #: When it reached the recipients (mailed, or affirmed by staff for another channel).
    delivered_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: How many addresses it was mailed to (the addresses themselves are not kept).
    recipients: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())
    #: Why delivery failed, as a code (no_recipients, ...).
    delivery_error: Mapped[str | None] = mapped_column(sa.String(64), info=not_personal())
    #: acknowledged, or objected (sub-processor changes only).
    answer: Mapped[str | None] = mapped_column(sa.String(16), info=not_personal())
    answered_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: tenant_admin:<id> or tenant_token:<id>.
    answered_by: Mapped[str | None] = mapped_column(sa.String(120), info=person_id("registered_user"))
    objection_reason_ct: Mapped[bytes | None] = ciphertext_column("objection_reason_ct", personal(
        "support", subject="registered_user"))
    #: When the scheduler warned staff that the deadline was near, and that it had passed.
    warned_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(info=not_personal())

    #: The tenant's reason for objecting: its own words, so sealed under its key.
    objection_reason = Encrypted("str")

    def __repr__(self) -> str:
        return f"<Notice {self.tenant_id}/{self.id} {self.kind} {self.phase}>"

    @property
    def sent(self) -> bool:
        return self.sent_at is not None

    def overdue(self, now: datetime | None = None) -> bool:
        """Return whether this notice's deadline passed before it reached the tenant."""
        return self.deadline is not None and self.delivered_at is None and self.deadline < (now or clock.now())

    @property
    def sendable(self) -> bool:
        """Return whether the notice may go out now: never sent, or its mail found nobody to reach."""
        return self.sent_at is None or (self.delivered_at is None and self.delivery_error is not None)

    def mark_sent(self, content: dict, channel: str) -> None:
        """Fix what the notice says and record when it left (first sent; a failed mail may be sent again)."""
        if not self.sendable:
            raise Conflict("this notice was already sent", code="already_sent")
        self.content, self.channel, self.delivery_error = content, channel, None
        self.sent_at = self.sent_at or clock.now()
        if channel == "other":
            self.delivered_at = clock.now()

    def mark_delivered(self, recipients: int) -> None:
        """Record delivery to `recipients` addresses (none: it failed)."""
        self.recipients = recipients
        if recipients:
            self.delivered_at, self.delivery_error = clock.now(), None
        else:
            self.delivery_error = "no_recipients"

    def acknowledge(self, by: str) -> bool:
        """Record the tenant's acknowledgement (withdrawing an objection); False if it already stood."""
        if self.answer == "acknowledged":
            return False
        self.answer, self.answered_at, self.answered_by, self.objection_reason = "acknowledged", clock.now(), by, None
        return True

    def object(self, by: str, reason: str) -> None:
        """Record the tenant's objection to a sub-processor change."""
        if self.kind != "subprocessor_change":
            raise Conflict("a breach notice can be acknowledged, not objected to", code="not_objectable")
        if self.answer == "objected":
            raise Conflict(f"you objected on {self.answered_at:%Y-%m-%d}; your account manager has it",
                           code="already_objected")
        self.answer, self.answered_at, self.answered_by, self.objection_reason = "objected", clock.now(), by, reason


class NoticeTask(db.Model):
    """Work for vendor staff raised by a tenant's answer: today, an objection for its account manager."""

    __tablename__ = "notice_tasks"
    __table_args__ = (
        choice("status", "status", TASK_STATUSES),
        sa.ForeignKeyConstraint(["tenant_id", "notice_id"], ["notices.tenant_id", "notices.id"],
                                name="fk_notice_tasks_notice"),
        sa.Index("ix_notice_tasks_status", "status", "created_at"),
        sa.Index("ix_notice_tasks_notice", "tenant_id", "notice_id"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="operational", purpose="client_notices", retention="notice_record",
                        lawful_basis="legal_obligation")

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    notice_id: Mapped[uuid.UUID] = mapped_column(info=not_personal())
    #: The staff role that acts on it.
    assigned_role: Mapped[str] = mapped_column(sa.String(32), default="account_manager", info=not_personal())
    #: The staff member who took it, once someone has.
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id"), info=person_id("staff"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    done_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: staff:<id>, or system when the tenant withdrew its objection or the change was withdrawn.
    done_by: Mapped[str | None] = mapped_column(sa.String(120), info=person_id("staff"))
    #: How it was resolved (written by staff; no personal data).
    resolution: Mapped[str | None] = mapped_column(sa.String(1000), info=STAFF_TEXT)

    def take(self, staff_id) -> None:
        """Assign the task to the staff member taking it."""
        if self.status != "open":
            raise InvalidTransition("this task is done")
        self.assigned_to = staff_id

    def close(self, by: str, resolution: str) -> None:
        """Mark the task done with its resolution."""
        if self.status != "open":
            raise InvalidTransition("this task is already done")
        self.status, self.done_at, self.done_by, self.resolution = "done", clock.now(), by, resolution


class CertificateDelivery(EncryptedModel, db.Model):
    """Who receives a purged tenant's deletion certificate, sealed before the purge shreds the tenant's key.

    The addresses are sealed under a key of their own (scope `delivery:<tenant id>`), which is
    destroyed once the certificate is mailed: every copy of this row, backups included, then
    reads nothing.
    """

    __tablename__ = "certificate_deliveries"
    __key_scope_kind__ = "delivery"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="client_notices", retention="certificate_delivery",
                        lawful_basis="legal_obligation")

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    #: Bound into the seal's AAD.
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=new_id, info=not_personal())
    recipients_ct: Mapped[bytes | None] = ciphertext_column("recipients_ct", personal(
        "contact_details", subject=("registered_user", "client_contact")))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    sent_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: How many addresses the certificate was mailed to.
    recipients_count: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())

    recipients = Encrypted("json")

    @property
    def key_scope(self) -> str:
        return delivery_scope(self.tenant_id)


def delivery_scope(tenant_id) -> str:
    """Return the key scope sealing a tenant's certificate recipients."""
    return f"delivery:{tenant_id}"
