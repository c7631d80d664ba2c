"""SCIM errors: answered with the SCIM Error body (RFC 7644 §3.12), never the API's JSON problem."""
from __future__ import annotations

from privacy_saas.errors import AppError
from privacy_saas.processor.scim import discovery as d


class ScimError(Exception):
    """An error answered as a SCIM Error body."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict:
        body = {"schemas": [d.ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


#: Our error codes mapped to SCIM status and scimType.
_SCIM_TYPES = {
    "user_exists": "uniqueness", "external_id_exists": "uniqueness", "group_exists": "uniqueness",
    "invalid_input": "invalidValue", "invalid_member": "invalidValue", "immutable": "mutability",
}


def from_app_error(exc: AppError) -> ScimError:
    """Translate a service error into a SCIM error."""
    detail = exc.message
    if exc.errors:
        detail += ": " + "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                                   for k, v in exc.errors.items())
    status = exc.status
    if exc.code == "invalid_input" and status != 400:
        status = 400
    return ScimError(status, detail, _SCIM_TYPES.get(exc.code))


def invalid_value(detail: str) -> ScimError:
    """Return a 400 `invalidValue`: the body holds a value of the wrong type or form."""
    return ScimError(400, detail, "invalidValue")


def invalid_syntax(detail: str) -> ScimError:
    """Return a 400 `invalidSyntax`: the body is not what SCIM expects."""
    return ScimError(400, detail, "invalidSyntax")
