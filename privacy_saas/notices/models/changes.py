"""Sub-processor changes: an intended change to the register, announced to every affected tenant first."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, person_id, table
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db
from privacy_saas.notices.validation import STAFF_TEXT

CHANGE_ACTIONS = ("add", "replace", "remove")
#: draft → published → applied (on its effective date), or → withdrawn before that.
CHANGE_STATUSES = ("draft", "published", "withdrawn", "applied")


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
