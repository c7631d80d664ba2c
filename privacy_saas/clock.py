"""The one source of time: every timestamp in privacy_saas comes from `now()`.

Tests move the clock instead of sleeping. A worker subprocess can be started
at a moved time with `PRIVACY_SAAS_NOW` (ISO-8601 instant).
"""
from __future__ import annotations

import os
import threading
from datetime import date, datetime, timedelta, timezone

_lock = threading.Lock()
_frozen: datetime | None = None
_offset = timedelta(0)


def _parse_env() -> datetime | None:
    raw = os.environ.get("PRIVACY_SAAS_NOW")
    if not raw:
        return None
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def now() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc) + _offset


def today() -> date:
    """Return the current UTC date."""
    return now().date()


def travel_to(instant: datetime | date) -> None:
    """Freeze the clock at `instant` (a date means its midnight UTC)."""
    global _frozen
    if not isinstance(instant, datetime):
        instant = datetime(instant.year, instant.month, instant.day, tzinfo=timezone.utc)
    elif instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    with _lock:
        _frozen = instant.astimezone(timezone.utc)


def advance(delta: timedelta) -> None:
    """Move the clock forward by `delta`, frozen or not."""
    global _frozen, _offset
    with _lock:
        if _frozen is not None:
            _frozen += delta
        else:
            _offset += delta


def reset() -> None:
    """Return to real time (or to PRIVACY_SAAS_NOW when set)."""
    global _frozen, _offset
    with _lock:
        _frozen = _parse_env()
        _offset = timedelta(0)


reset()
