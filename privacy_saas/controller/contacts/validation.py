"""Field rules shared by the API schemas and the CSV importer (one place, same messages)."""
from __future__ import annotations

import re

from marshmallow import ValidationError, validate

MAX_EMAIL = 254
MAX_TEXT = 200
MAX_PHONE = 40
_PHONE = re.compile(r"^\+?[0-9 ()./x-]{3,40}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_email = validate.Email(error="not a valid e-mail address")


def clean_email(value: str) -> str:
    """Return the trimmed address, or raise ValueError."""
    value = (value or "").strip()
    if not value:
        raise ValueError("e-mail is required")
    if len(value) > MAX_EMAIL:
        raise ValueError(f"e-mail is longer than {MAX_EMAIL} characters")
    try:
        _email(value)
    except ValidationError:
        raise ValueError("not a valid e-mail address") from None
    return value


def clean_text(value: str | None, field: str, limit: int = MAX_TEXT) -> str | None:
    """Return trimmed text (None when empty), or raise ValueError."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > limit:
        raise ValueError(f"{field} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise ValueError(f"{field} contains control characters")
    return value


def clean_phone(value: str | None) -> str | None:
    """Return a trimmed phone number (None when empty), or raise ValueError."""
    value = (value or "").strip()
    if not value:
        return None
    if not _PHONE.match(value):
        raise ValueError("phone may hold digits, spaces and + ( ) . / - x only (3 to 40 characters)")
    return value


def as_marshmallow(cleaner, *args):
    """Adapt a cleaner to a marshmallow validator."""

    def validator(value):
        try:
            cleaner(value, *args)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    return validator
