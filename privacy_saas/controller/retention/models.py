"""Retention sweeps: one row per run, with its checkpoint and report."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, table
from privacy_saas.db import uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db


class RetentionSweep(db.Model):
    """A retention sweep of the controller scope (dry runs are not stored)."""

    __tablename__ = "retention_sweeps"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="retention_enforcement", retention="platform_record")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: The instant every cutoff is computed from; a resumed sweep keeps it.
    as_of: Mapped[datetime] = mapped_column(info=not_personal())
    started_at: Mapped[datetime] = mapped_column(default=clock.now, index=True, info=not_personal())
    #: Renewed after each batch; a sweep silent for longer than the lease may be taken over.
    heartbeat_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    finished_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: "running" while unfinished, NULL after: the unique constraint allows one running sweep.
    running: Mapped[str | None] = mapped_column(sa.String(8), unique=True, default="running", info=not_personal())
    #: Rules already completed, in order (checkpoint).
    rules_done: Mapped[list] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: Per rule: deleted count, cutoff, why. Counts only, no personal data.
    report: Mapped[dict] = mapped_column(sa.JSON, default=dict, info=not_personal())
    #: How many times a crashed run was taken over.
    resumed: Mapped[int] = mapped_column(sa.Integer, default=0, info=not_personal())

    def __repr__(self) -> str:
        return f"<RetentionSweep {self.id} {'running' if self.running else 'finished'}>"

    def heartbeat(self) -> None:
        """Renew the lease."""
        self.heartbeat_at = clock.now()

    def finish(self) -> None:
        """Mark the sweep finished, releasing the one-running-sweep slot."""
        if self.finished_at is not None:
            raise InvalidTransition("the sweep has already finished")
        self.finished_at = clock.now()
        self.running = None
