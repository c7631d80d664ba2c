"""The sub-processor register: list (for staff and tenant admins), add, change, remove."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.errors import AppError, NotFound
from privacy_saas.extensions import db
from privacy_saas.subprocessors.models import Subprocessor

#: The register is vendor-level compliance data, not controller-scope personal data.
AUDIT_SCOPE = "platform"
#: What an editor sets (the API, the console's form).
FIELDS = ("name", "purpose", "location", "safeguards", "dpa_signed_on", "last_reviewed_on", "scopes",
          "data_categories", "country", "tenant_regions")
#: What is stored: the fields, and the words of `data_categories` that name no data-map category (the
#: API's schema splits them off; the console's form offers the data map's categories only).
STORED = (*FIELDS, "data_category_labels")
#: Fields that are lists: stored sorted and without duplicates, so a change is a change of content.
LIST_FIELDS = ("scopes", "data_categories", "data_category_labels", "tenant_regions")


def list_subprocessors(include_removed: bool = False, region: str | None = None) -> list[Subprocessor]:
    """Return the register, newest additions first (read-only view for tenant admins too).

    With `region`, only the entries that process data of tenants in that region.
    """
    query = sa.select(Subprocessor).order_by(Subprocessor.added_at.desc(), Subprocessor.name)
    if not include_removed:
        query = query.where(Subprocessor.removed_at.is_(None))
    return [e for e in db.session.scalars(query) if serves(e, region)]


def serves(entry: Subprocessor, region: str | None) -> bool:
    """Return whether `entry` processes data of tenants in `region` (no regions listed: every region)."""
    return region is None or not entry.tenant_regions or region in entry.tenant_regions


def as_of(day: date, region: str | None = None) -> list[Subprocessor]:
    """Return the register as it stood at the end of `day` (UTC): entries added by then and not yet removed."""
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc)
    query = (sa.select(Subprocessor)
             .where(Subprocessor.added_at < end,
                    sa.or_(Subprocessor.removed_at.is_(None), Subprocessor.removed_at >= end))
             .order_by(Subprocessor.added_at.desc(), Subprocessor.name))
    return [e for e in db.session.scalars(query) if serves(e, region)]


def get(subprocessor_id) -> Subprocessor:
    """Return one entry, or raise NotFound."""
    entry = db.session.get(Subprocessor, subprocessor_id)
    if entry is None:
        raise NotFound("no such sub-processor")
    return entry


def _check_dates(values: dict) -> None:
    today = clock.today()
    for name in ("dpa_signed_on", "last_reviewed_on"):
        value = values.get(name)
        if value is not None and value > today:
            raise AppError(f"{name} may not be in the future", code="invalid_input",
                           errors={name: ["may not be in the future"]})


def _normalise(values: dict) -> dict:
    return {k: sorted(set(v)) if k in LIST_FIELDS and v is not None else v for k, v in values.items()}


def add(data: dict) -> Subprocessor:
    """Add a sub-processor to the register."""
    _check_dates(data)
    data = _normalise(data)
    now = clock.now()
    entry = Subprocessor(**{k: data.get(k) for k in STORED if k not in LIST_FIELDS},
                         **{k: data.get(k) or [] for k in LIST_FIELDS}, added_at=now, updated_at=now)
    db.session.add(entry)
    db.session.flush()
    audit.record("subprocessor.add", scope=AUDIT_SCOPE, targets=[entry.id])
    return entry


def update(entry: Subprocessor, changes: dict) -> Subprocessor:
    """Change fields of an entry (a removed entry cannot change)."""
    if entry.removed_at is not None:
        raise AppError("this sub-processor was removed from the register", code="removed", status=409)
    _check_dates(changes)
    changes = _normalise(changes)
    changed = sorted(k for k in STORED if k in changes and changes[k] != getattr(entry, k))
    for name in changed:
        setattr(entry, name, changes[name])
    db.session.flush()
    audit.record("subprocessor.update", scope=AUDIT_SCOPE, targets=[entry.id], detail={"fields": changed})
    return entry


def remove(entry: Subprocessor) -> Subprocessor:
    """Take an entry off the register, keeping it (with the date) so tenants see the change."""
    if entry.removed_at is None:
        entry.removed_at = clock.now()
        db.session.flush()
        audit.record("subprocessor.remove", scope=AUDIT_SCOPE, targets=[entry.id])
    return entry


def review_overdue(entry: Subprocessor, months: int = 12) -> bool:
    """Return whether the entry's annual review is overdue."""
    if entry.last_reviewed_on is None:
        return True
    today = clock.today()
    return (today.year - entry.last_reviewed_on.year) * 12 + today.month - entry.last_reviewed_on.month > months
