"""Sub-processors of the vendor (Art. 28(2), Art. 30 record)."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.db import uuid_pk
from privacy_saas.extensions import db


class Subprocessor(db.Model):
    """A company that processes personal data on the vendor's behalf."""

    __tablename__ = "subprocessors"

    id: Mapped[uuid.UUID] = uuid_pk()
    #: Company name (e.g. the e-mail delivery provider).
    name: Mapped[str] = mapped_column(sa.String(200))
    #: What it does for the vendor and which data it sees.
    purpose: Mapped[str] = mapped_column(sa.String(500))
    #: Where the data is processed (country or region).
    location: Mapped[str] = mapped_column(sa.String(200))
    #: Transfer safeguards: adequacy decision, SCCs, UK IDTA, ...
    safeguards: Mapped[str] = mapped_column(sa.String(500))
    #: When the data processing agreement was signed.
    dpa_signed_on: Mapped[date | None] = mapped_column(sa.Date)
    #: Last annual review of its safeguards and DPA.
    last_reviewed_on: Mapped[date | None] = mapped_column(sa.Date)
    #: When it entered the register; tenants see changes by this date.
    added_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    #: When it left the register; kept so tenants can see the change.
    removed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Subprocessor {self.id}>"
