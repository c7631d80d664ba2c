"""The suppression list and the check that its hash key has not changed."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, personal, table
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db

REASONS = ("unsubscribe", "erasure", "objection")


#: Why the reason and date of a suppression are plaintext.
SUPPRESSION_FACT = "why and since when a hashed address is suppressed; the person is known only by the keyed hash"


class Suppression(db.Model):
    """An e-mail that must not come back: only its keyed hash, why, and when."""

    __tablename__ = "suppressions"
    __table_args__ = (choice("reason", "reason", REASONS), distribution(VENDOR_LOCAL))
    #: Honouring objections and erasures (Art. 17, 21(3)) is a legal obligation; unsubscribes, a legitimate interest.
    __datamap__ = table(scope="controller", purpose="suppression", retention="suppression_list",
                        lawful_basis=("legal_obligation", "legitimate_interest"))

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: Full HMAC-SHA256 of the normalised e-mail under the controller index key (domain-separated).
    email_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True, info=personal(
        "technical_ids", subject="contact", plaintext_because=(
            "a keyed hash of the e-mail, all that is kept of a person who must not be contacted again: imports "
            "are matched against it; irreversible without the controller index key")))
    #: Which key produced `email_hash` (see SuppressionKeyCheck): `controller/index/v1`.
    hash_scheme: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    #: unsubscribe (link), erasure (Art. 17), objection (Art. 21).
    reason: Mapped[str] = mapped_column(sa.String(16), info=personal(
        "consent", subject="contact", plaintext_because=SUPPRESSION_FACT))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True, info=personal(
        "consent", subject="contact", plaintext_because=SUPPRESSION_FACT))


class SuppressionKeyCheck(db.Model):
    """A keyed hash of a fixed value, made when the list started.

    Suppression hashes cannot be recomputed (the e-mails are gone), so a changed index
    key would silently let every suppressed person back in. Each check recomputes this
    canary and refuses to work when it no longer matches.
    """

    __tablename__ = "suppression_key_checks"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="controller", purpose="suppression", retention="suppression_list")

    #: The hash scheme it guards (one row per scheme).
    scheme: Mapped[str] = mapped_column(sa.String(64), primary_key=True, info=not_personal())
    canary: Mapped[bytes] = mapped_column(sa.LargeBinary(32), info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
