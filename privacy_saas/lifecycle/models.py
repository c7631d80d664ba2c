"""Lifecycle records: legal holds, purge runs, certificates, exports, anonymised aggregates.

None of these hold personal data, so they survive the purge (except exports, which it deletes).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.db import choice, new_id, uuid_pk
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db

PURGE_STEPS = ("started", "keys_destroyed", "aggregated", "rows_deleted", "files_deleted", "certified")


class LegalHold(db.Model):
    """A reason (litigation, tax audit) that blocks a tenant's purge until released."""

    __tablename__ = "legal_holds"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    #: Why: a case or audit reference, not personal data.
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: Staff member who placed it.
    set_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id"))
    set_at: Mapped[datetime] = mapped_column(default=clock.now)
    #: Review date: the hold stays until released, but is shown as due for review after this day.
    until: Mapped[date | None] = mapped_column(sa.Date)
    released_at: Mapped[datetime | None]
    released_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id"))

    @property
    def active(self) -> bool:
        return self.released_at is None

    def release(self, staff_id) -> None:
        """Release the hold."""
        if self.released_at is not None:
            raise InvalidTransition("this legal hold is already released")
        self.released_at = clock.now()
        self.released_by = staff_id


class PurgeRun(db.Model):
    """The checkpointed progress of one tenant's purge; one per tenant, resumed after a crash."""

    __tablename__ = "purge_runs"
    __table_args__ = (choice("step", "step", PURGE_STEPS),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), unique=True)
    #: The last step completed.
    step: Mapped[str] = mapped_column(sa.String(32), default="started")
    #: Worker holding the lease, and until when; a dead worker's lease simply runs out.
    locked_by: Mapped[str | None] = mapped_column(sa.String(64))
    lease_until: Mapped[datetime | None]
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    keys_destroyed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: Rows deleted so far per table (committed with each batch).
    rows_deleted: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: Key ids destroyed by the crypto-shred.
    keys_destroyed: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: Files removed (export ids).
    files_deleted: Mapped[int] = mapped_column(sa.Integer, default=0)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)

    def advance(self, step: str) -> None:
        """Record that `step` is complete; steps only move forward."""
        if PURGE_STEPS.index(step) <= PURGE_STEPS.index(self.step):
            raise InvalidTransition(f"purge already past {step}")
        self.step = step

    def reached(self, step: str) -> bool:
        return PURGE_STEPS.index(self.step) >= PURGE_STEPS.index(step)


class DeletionCertificate(db.Model):
    """Signed proof of what a purge erased; holds no personal data."""

    __tablename__ = "deletion_certificates"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    #: The signed document: {"certificate": {...}, "signature", "algorithm", "key_id"}.
    document: Mapped[dict] = mapped_column(sa.JSON)


class TenantExport(db.Model):
    """A return export of all tenant data, encrypted at rest under the tenant's data key."""

    __tablename__ = "tenant_exports"
    __table_args__ = (choice("status", "status", ("pending", "ready", "failed", "deleted")),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    requested_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    ready_at: Mapped[datetime | None]
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    downloads: Mapped[int] = mapped_column(sa.Integer, default=0)


class MonthlyAggregate(db.Model):
    """Non-personal counts kept after an `anonymise` purge: active users, events by kind."""

    __tablename__ = "monthly_aggregates"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "month", "metric"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    #: First day of the month.
    month: Mapped[date] = mapped_column(sa.Date)
    #: `active_users` or `events:<kind>`.
    metric: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[int] = mapped_column(sa.BigInteger)
