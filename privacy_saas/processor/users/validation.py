"""What a registered user's fields may hold: limits shared by the schemas and the services."""
from __future__ import annotations

from marshmallow import ValidationError, validate

from privacy_saas.errors import AppError
from privacy_saas.processor.users.models import ROLES, STATUSES

MAX_EMAIL = 254
MAX_NAME = 200
MIN_PASSWORD_LENGTH = 12
_is_email = validate.Email(error="not a valid e-mail address")


def is_address(value: str | None) -> bool:
    """Return whether `value` is an e-mail address one could write to (identity providers may send other text)."""
    if not value or len(value) > MAX_EMAIL:
        return False
    try:
        _is_email(value)
    except ValidationError:
        return False
    return True


def check_email(email: str | None, *, strict: bool = True) -> str:
    """Return `email` trimmed, or raise AppError; SCIM user names need not be e-mails (strict=False)."""
    value = (email or "").strip()
    errors = []
    if not value:
        errors.append("is required")
    elif len(value) > MAX_EMAIL:
        errors.append(f"must have at most {MAX_EMAIL} characters")
    elif strict:
        try:
            _is_email(value)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise AppError("the e-mail address is invalid", code="invalid_input", errors={"email": errors})
    return value


#: E-mails one user may have (SCIM sends a handful: work, home, other and proxy addresses).
MAX_EMAILS = 20


def check_emails(emails: list, *, strict: bool = True) -> list[dict]:
    """Return the e-mail list (value, type, primary, display) with each address trimmed and checked, or raise
    AppError; at most one is primary (the first one marked)."""
    if not isinstance(emails, list) or len(emails) > MAX_EMAILS:
        raise AppError("the request is invalid", code="invalid_input",
                       errors={"emails": [f"must be a list of at most {MAX_EMAILS} e-mails"]})
    out, primary = [], False
    for entry in emails:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            raise AppError("the request is invalid", code="invalid_input",
                           errors={"emails": ["each e-mail needs a value"]})
        value = check_email(entry["value"], strict=strict)
        item = {**entry, "value": value}
        if item.get("primary") is True:
            item["primary"] = not primary
            primary = True
        out.append(item)
    return out


def check_fields(values: dict) -> None:
    """Raise AppError naming every field of `values` (names, role, status, external id, password) that is invalid."""
    errors = {}
    for name in ("display_name", "given_name", "family_name"):
        value = values.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
            errors[name] = [f"must be text of at most {MAX_NAME} characters"]
    if "role" in values and values["role"] not in ROLES:
        errors["role"] = [f"must be one of: {', '.join(ROLES)}"]
    if "status" in values and values["status"] not in STATUSES:
        errors["status"] = [f"must be one of: {', '.join(STATUSES)}"]
    external_id = values.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 255):
        errors["external_id"] = ["must be text of 1 to 255 characters"]
    password = values.get("password")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"must have at least {MIN_PASSWORD_LENGTH} characters"]
    if errors:
        raise AppError("the request is invalid", code="invalid_input", errors=errors)
