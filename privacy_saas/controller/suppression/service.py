"""Suppression list: add, look up (one by one or a batch at a time), summarise."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from privacy_saas import clock
from privacy_saas.controller.suppression.models import REASONS, Suppression, SuppressionKeyCheck
from privacy_saas.crypto.blind_index import normalise_email
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, keyring
from privacy_saas.errors import AppError
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

#: The key the hashes are made with. Suppression hashes can never be recomputed (the
#: e-mails are deleted), so this key must outlive every rotation: a new index key needs
#: a new scheme, with lookups trying every scheme still in use.
HASH_SCHEME = "controller/index/v1"
#: Domain separation: the same index key also makes the contacts' blind indexes.
_PREFIX = "suppression:v1:"
_CANARY = "privacy_saas suppression key check"


class SuppressionKeyChanged(AppError):
    """The suppression hash key differs from the one the list was built with."""

    status = 503
    code = "suppression_key_changed"


def email_hash(email: str) -> bytes:
    """Return the suppression hash of an e-mail address."""
    return keyring().keyed_hash(CONTROLLER_SCOPE, _PREFIX + normalise_email(email))


def check_key() -> None:
    """Verify the hash key still matches the list's canary (create the canary on first use)."""
    canary = keyring().keyed_hash(CONTROLLER_SCOPE, _CANARY)
    stored = db.session.get(SuppressionKeyCheck, HASH_SCHEME)
    if stored is None:
        if db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)):
            raise SuppressionKeyChanged("the suppression list has no key check; refusing to trust it")
        try:
            with db.session.begin_nested():
                db.session.add(SuppressionKeyCheck(scheme=HASH_SCHEME, canary=canary))
        except IntegrityError:
            stored = db.session.get(SuppressionKeyCheck, HASH_SCHEME)
        else:
            return
    if stored.canary != canary:
        # Failing closed: without a working list nobody may be created or imported.
        log.critical("the controller index key changed: suppression hashes no longer match")
        raise SuppressionKeyChanged(
            "the controller index key no longer matches the suppression list; contacts cannot be "
            "created or imported until the previous key is restored")


def is_suppressed(email: str) -> bool:
    """Return whether an e-mail address is on the suppression list."""
    return bool(suppressed(([email_hash(email)])))


def suppressed(hashes) -> set[bytes]:
    """Return which of `hashes` are on the list (one query)."""
    hashes = list(hashes)
    if not hashes:
        return set()
    return set(db.session.scalars(sa.select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes))))


def add(hash_: bytes, reason: str) -> Suppression:
    """Put a hash on the list (idempotent: an existing entry keeps its first reason and date)."""
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    existing = db.session.scalar(sa.select(Suppression).where(Suppression.email_hash == hash_))
    if existing is not None:
        return existing
    entry = Suppression(email_hash=hash_, hash_scheme=HASH_SCHEME, reason=reason, created_at=clock.now())
    db.session.add(entry)
    db.session.flush()
    return entry


def _month(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def summary() -> dict:
    """Return counts by reason and by month, and the first and last dates (no hashes)."""
    by_reason = dict(db.session.execute(
        sa.select(Suppression.reason, sa.func.count()).group_by(Suppression.reason)).all())
    month = _month(Suppression.created_at).label("month")
    by_month = db.session.execute(
        sa.select(month, sa.func.count()).group_by(month).order_by(month)).all()
    first, last = db.session.execute(
        sa.select(sa.func.min(Suppression.created_at), sa.func.max(Suppression.created_at))).one()
    return {
        "total": sum(by_reason.values()),
        "by_reason": {reason: by_reason.get(reason, 0) for reason in REASONS},
        "by_month": [{"month": m, "count": n} for m, n in by_month],
        # min/max bypass the column type on SQLite; read them back through it.
        "first_at": _aware(first),
        "last_at": _aware(last),
    }


def _aware(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
