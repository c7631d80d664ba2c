"""The notices each tenant is sent, the tasks its answers raise, and who receives its deletion certificate."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, personal, table
from privacy_saas.db import choice, new_id
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import Conflict, InvalidTransition
from privacy_saas.extensions import db
from privacy_saas.notices.validation import STAFF_TEXT

NOTICE_KINDS = ("subprocessor_change", "breach")
ANSWERS = ("acknowledged", "objected")
#: email: mailed to the tenant's admins and privacy contacts; other: staff reached the tenant another way.
CHANNELS = ("email", "other")
TASK_STATUSES = ("open", "done")


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
