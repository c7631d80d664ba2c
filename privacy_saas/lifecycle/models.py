"""Lifecycle records: legal holds, purge runs, certificates, exports, anonymised aggregates.

None of these hold personal data, so they survive the purge (except exports, which it deletes).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, person_id, table
from privacy_saas.db import choice, new_id, uuid_pk
from privacy_saas.distribution import TENANT, VENDOR_LOCAL, distribution
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db

PURGE_STEPS = ("started", "keys_destroyed", "aggregated", "rows_deleted", "files_deleted", "certified")


class LegalHold(db.Model):
    """A reason (litigation, tax audit) that blocks a tenant's purge until released."""

    __tablename__ = "legal_holds"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="offboarding", retention="tenant_record",
                        lawful_basis="legitimate_interest")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), index=True, info=not_personal())
    #: Why: a case or audit reference, not personal data.
    reason: Mapped[str] = mapped_column(sa.String(500), info=not_personal())
    #: Staff member who placed it.
    set_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id"), info=person_id("staff"))
    set_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: Review date: the hold stays until released, but is shown as due for review after this day.
    until: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    released_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    released_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id"), info=person_id("staff"))

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
    __table_args__ = (choice("step", "step", PURGE_STEPS), distribution(VENDOR_LOCAL))
    __datamap__ = table(scope="operational", purpose="offboarding", retention="tenant_record")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), unique=True, info=not_personal())
    #: The last step completed.
    step: Mapped[str] = mapped_column(sa.String(32), default="started", info=not_personal())
    #: Worker holding the lease, and until when; a dead worker's lease simply runs out.
    locked_by: Mapped[str | None] = mapped_column(sa.String(64), info=not_personal())
    lease_until: Mapped[datetime | None] = mapped_column(info=not_personal())
    started_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    keys_destroyed_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    finished_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: Rows deleted so far per table (committed with each batch).
    rows_deleted: Mapped[dict] = mapped_column(sa.JSON, default=dict, info=not_personal())
    #: The tenant's rows when the deleting began (counted once, for progress and its ETA); None before.
    rows_total: Mapped[int | None] = mapped_column(sa.BigInteger, info=not_personal())
    #: Batches committed so far (a dropped usage partition counts as one).
    batches: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0", info=not_personal())
    #: Key ids destroyed by the crypto-shred.
    keys_destroyed: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: Files removed per kind: `return_exports`, `outbox_mails`, `other` (subject-access exports, partials).
    files_deleted: Mapped[dict] = mapped_column(sa.JSON, default=dict, info=not_personal())
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())

    def advance(self, step: str) -> None:
        """Record that `step` is complete; steps only move forward."""
        if PURGE_STEPS.index(step) <= PURGE_STEPS.index(self.step):
            raise InvalidTransition(f"purge already past {step}")
        self.step = step

    def reached(self, step: str) -> bool:
        return PURGE_STEPS.index(self.step) >= PURGE_STEPS.index(step)

    @property
    def rows_done(self) -> int:
        return sum((self.rows_deleted or {}).values())

    def eta(self, now: datetime) -> datetime | None:
        """Return when the row deletion should be done at its pace so far, or None (not started, or done)."""
        if self.rows_total is None or self.keys_destroyed_at is None or self.reached("rows_deleted"):
            return None
        done, elapsed = self.rows_done, (now - self.keys_destroyed_at).total_seconds()
        if done <= 0 or elapsed <= 0:
            return None
        return now + timedelta(seconds=elapsed * max(self.rows_total - done, 0) / done)


class DeletionCertificate(db.Model):
    """Signed proof of what a purge erased; holds no personal data."""

    __tablename__ = "deletion_certificates"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="offboarding", retention="tenant_record")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), unique=True, info=not_personal())
    issued_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    #: The signed document: {"certificate": {...}, "signature", "algorithm", "key_id"}.
    document: Mapped[dict] = mapped_column(sa.JSON, info=not_personal())


class TenantExport(db.Model):
    """A return export of all tenant data, encrypted at rest under the tenant's data key."""

    __tablename__ = "tenant_exports"
    __table_args__ = (choice("status", "status", ("pending", "ready", "failed", "deleted")), distribution(TENANT))
    __datamap__ = table(scope="processor", purpose="return_export", retention="tenant_contract")

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", info=not_personal())
    #: The tenant admin (user id) or tenant token that asked for it.
    requested_by: Mapped[str | None] = mapped_column(sa.String(64), info=person_id("registered_user"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    ready_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger, info=not_personal())
    downloads: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())


class MonthlyAggregate(db.Model):
    """Non-personal counts kept after an `anonymise` purge: active users, events by kind."""

    __tablename__ = "monthly_aggregates"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "month", "metric"), distribution(VENDOR_LOCAL))
    __datamap__ = table(scope="processor", purpose="usage_records", retention="tenant_record")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), index=True, info=not_personal())
    #: First day of the month.
    month: Mapped[date] = mapped_column(sa.Date, info=not_personal())
    #: `active_users` or `events:<kind>`.
    metric: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    value: Mapped[int] = mapped_column(sa.BigInteger, info=not_personal())
