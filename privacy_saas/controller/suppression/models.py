"""The suppression list and the check that its hash key has not changed."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.db import choice, uuid_pk
from privacy_saas.extensions import db

REASONS = ("unsubscribe", "erasure", "objection")


class Suppression(db.Model):
    """An e-mail that must not come back: only its keyed hash, why, and when."""

    __tablename__ = "suppressions"
    __table_args__ = (choice("reason", "reason", REASONS),)

    id: Mapped[uuid.UUID] = uuid_pk()
    #: Full HMAC-SHA256 of the normalised e-mail under the controller index key (domain-separated).
    email_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    #: Which key produced `email_hash` (see SuppressionKeyCheck): `controller/index/v1`.
    hash_scheme: Mapped[str] = mapped_column(sa.String(64))
    #: unsubscribe (link), erasure (Art. 17), objection (Art. 21).
    reason: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


class SuppressionKeyCheck(db.Model):
    """A keyed hash of a fixed value, made when the list started.

    Suppression hashes cannot be recomputed (the e-mails are gone), so a changed index
    key would silently let every suppressed person back in. Each check recomputes this
    canary and refuses to work when it no longer matches.
    """

    __tablename__ = "suppression_key_checks"

    #: The hash scheme it guards (one row per scheme).
    scheme: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    canary: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
