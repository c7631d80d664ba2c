"""Data-subject requests and the tasks (staff) and instructions (tenant) they fan out into."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, person_state, personal, table
from privacy_saas.db import choice, new_id
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import Conflict, InvalidTransition
from privacy_saas.extensions import db

KINDS = ("access", "portability", "rectify", "erase", "restrict", "object")
CHANNELS = ("email", "web_form", "post", "phone", "in_person", "self_service", "tenant")
REQUEST_STATUSES = ("open", "closed")
#: pending → approved → executed (or failed), or pending → rejected.
TASK_STATUSES = ("pending", "approved", "rejected", "executed", "failed")
SCOPES = ("controller", "processor")
EXPORT_STATUSES = ("building", "ready", "downloaded", "expired", "failed")


class DataSubjectRequest(EncryptedModel, db.Model):
    """One request of a data subject; the e-mail and notes are sealed under the controller key."""

    __tablename__ = "dsr_requests"
    __key_scope_kind__ = "controller"
    __table_args__ = (
        choice("kind", "kind", KINDS),
        choice("channel", "channel", CHANNELS),
        choice("status", "status", REQUEST_STATUSES),
        sa.Index("ix_dsr_requests_status_due", "status", "due_at"),
        distribution(VENDOR_LOCAL),
    )
    #: Answering requests within their deadlines is the vendor's legal obligation (Art. 12).
    __datamap__ = table(scope="controller", purpose="data_subject_rights", retention="dsr_record",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    #: access, portability, rectify, erase, restrict, object.
    kind: Mapped[str] = mapped_column(sa.String(16), info=person_state("requester"))
    #: How the request reached the vendor.
    channel: Mapped[str] = mapped_column(sa.String(16), info=person_state("requester"))
    #: open until every task and instruction is decided and carried out.
    status: Mapped[str] = mapped_column(sa.String(16), default="open", info=person_state("requester"))
    #: When the request was received: the one-month clock starts here.
    received_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state("requester"))
    #: received_at + 1 month (+ the extension, if any).
    due_at: Mapped[datetime] = mapped_column(info=person_state("requester"))
    #: Months added by the one allowed extension (Art. 12(3)), 1 or 2.
    extended_months: Mapped[int | None] = mapped_column(info=person_state("requester"))
    extended_at: Mapped[datetime | None] = mapped_column(info=person_state("requester"))
    #: Who recorded it: staff:<id>, user:<tenant>:<id>, tenant:<id>.
    recorded_by: Mapped[str] = mapped_column(sa.String(120), info=person_id(("staff", "registered_user")))
    #: Matches found at intake (controller contacts + tenant users); counts, no data.
    match_count: Mapped[int] = mapped_column(default=0, info=person_state("requester"))
    closed_at: Mapped[datetime | None] = mapped_column(info=person_state("requester"))
    #: Who closed it with a reasoned answer: staff:<id>, or system:purge when the purges of the tenants it
    #: was routed to answered it; None when its tasks closed it.
    closed_by: Mapped[str | None] = mapped_column(sa.String(120), info=person_id("staff"))
    #: The tenants its instructions went to (ids): a purge deletes the instructions with the tenant's data,
    #: and this says which purges answered the request.
    routed_tenants: Mapped[list | None] = mapped_column(sa.JSON, info=person_state("requester"))
    email_ct: Mapped[bytes | None] = ciphertext_column("email_ct", personal("contact_details", subject="requester"))
    notes_ct: Mapped[bytes | None] = ciphertext_column("notes_ct", personal("support", subject="requester"))
    extension_reason_ct: Mapped[bytes | None] = ciphertext_column("extension_reason_ct",
                                                                  personal("support", subject="requester"))
    #: Rectification: {field: new value}; personal, so sealed.
    changes_ct: Mapped[bytes | None] = ciphertext_column(
        "changes_ct", personal(("identity", "contact_details"), subject="requester"))
    #: The answer given when staff closed the request ("no personal data found"): free text, so sealed.
    close_reason_ct: Mapped[bytes | None] = ciphertext_column("close_reason_ct",
                                                              personal("support", subject="requester"))

    tasks: Mapped[list[DsrTask]] = relationship(back_populates="request", order_by="DsrTask.id")

    email = Encrypted("str")
    notes = Encrypted("str")
    extension_reason = Encrypted("str")
    changes = Encrypted("json")
    close_reason = Encrypted("str")

    def overdue(self, now: datetime | None = None) -> bool:
        """Return whether the request is open past its deadline."""
        return self.status == "open" and self.due_at < (now or clock.now())

    def close(self, by: str, reason: str) -> None:
        """Close by hand with a reasoned answer (e.g. no personal data found): the clock stops.

        Only once nothing is left to decide or carry out: open tasks are answered first.
        """
        if self.status != "open":
            raise InvalidTransition("this request is already closed")
        waiting = [t for t in self.tasks if t.status in ("pending", "approved")]
        if waiting:
            raise InvalidTransition(f"{len(waiting)} match(es) are still to be decided or carried out: answer "
                                    "them first (approve, or reject with a reason)")
        self.status, self.closed_at, self.closed_by, self.close_reason = "closed", clock.now(), by, reason

    def purged_routes(self, purged: set) -> list[uuid.UUID]:
        """Return the tenants (of `purged` ids) it was routed to whose instructions the purge took."""
        live = {t.tenant_id for t in self.tasks}
        return [tid for tid in map(uuid.UUID, self.routed_tenants or []) if tid in purged and tid not in live]

    def close_if_done(self) -> None:
        """Close the request once no task is pending or approved-but-not-carried-out."""
        if self.status == "open" and all(t.status in ("rejected", "executed", "failed") for t in self.tasks):
            self.status, self.closed_at = "closed", clock.now()


#: Whom a task is about: a contact (controller task) or a registered user (processor instruction).
SUBJECTS = ("contact", "registered_user")


class DsrTask(db.Model):
    """One match of a request in one scope: a staff task (controller) or a tenant instruction (processor)."""

    __tablename__ = "dsr_tasks"
    __table_args__ = (
        choice("scope", "scope", SCOPES),
        choice("status", "status", TASK_STATUSES),
        choice("export_status", "export_status", EXPORT_STATUSES),
        sa.CheckConstraint("(scope = 'controller') = (tenant_id IS NULL)", name="scope_tenant"),
        sa.Index("ix_dsr_tasks_tenant_status", "tenant_id", "status"),
        sa.Index("ix_dsr_tasks_request", "request_id"),
        distribution(VENDOR_LOCAL),
    )
    __datamap__ = table(scope="controller", purpose="data_subject_rights", retention="dsr_task",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("dsr_requests.id", ondelete="CASCADE"),
                                                  info=not_personal())
    #: controller (vendor staff decide) or processor (the tenant decides).
    scope: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    #: The tenant whose admin decides; NULL for controller tasks.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("tenants.id"), info=not_personal())
    #: The matched contact id (controller) or registered user id (processor).
    subject_id: Mapped[uuid.UUID] = mapped_column(info=person_id(SUBJECTS))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", info=person_state(SUBJECTS))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state(SUBJECTS))
    decided_at: Mapped[datetime | None] = mapped_column(info=person_state(SUBJECTS))
    #: staff:<id>, tenant_admin:<id> or tenant_token:<id>.
    decided_by: Mapped[str | None] = mapped_column(sa.String(120), info=person_id(("staff", "registered_user")))
    #: Why it was rejected (required for a rejection); written by the decider.
    reject_reason: Mapped[str | None] = mapped_column(sa.String(1000), info=personal(
        "support", subject=SUBJECTS, plaintext_because=(
            "the decider's reason for refusing a request, shown to staff and the tenant admin who answer the "
            "requester; free text that may mention the person")))
    executed_at: Mapped[datetime | None] = mapped_column(info=person_state(SUBJECTS))
    #: What execution did, as counts and codes (never personal data).
    outcome: Mapped[dict | None] = mapped_column(sa.JSON, info=not_personal())
    #: Access/portability: the sealed export's state, expiry and single download.
    export_status: Mapped[str | None] = mapped_column(sa.String(16), info=person_state(SUBJECTS))
    export_expires_at: Mapped[datetime | None] = mapped_column(info=person_state(SUBJECTS))
    export_downloaded_at: Mapped[datetime | None] = mapped_column(info=person_state(SUBJECTS))

    request: Mapped[DataSubjectRequest] = relationship(back_populates="tasks")

    def _decide(self, status: str, by: str, reason: str | None = None) -> None:
        if self.status != "pending":
            raise Conflict(f"this {self.noun} is already {self.status}", code="already_decided")
        self.status, self.decided_at, self.decided_by, self.reject_reason = status, clock.now(), by, reason

    @property
    def noun(self) -> str:
        return "task" if self.scope == "controller" else "instruction"

    def approve(self, by: str) -> None:
        """Mark approved (pending only)."""
        self._decide("approved", by)

    def reject(self, by: str, reason: str) -> None:
        """Mark rejected with a reason (pending only)."""
        self._decide("rejected", by, reason)

    def finish(self, outcome: dict, status: str = "executed") -> None:
        """Record that execution ran (approved only)."""
        if self.status != "approved":
            raise InvalidTransition(f"this {self.noun} is {self.status}; only approved ones are carried out")
        self.status, self.executed_at, self.outcome = status, clock.now(), outcome
