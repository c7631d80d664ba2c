"""One JSON problem shape for every API error, and the exceptions services raise."""
from __future__ import annotations

from http import HTTPStatus

from flask import jsonify


class AppError(Exception):
    """An error a client can act on: HTTP status, stable code, human message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 errors: dict | None = None, keep_changes: bool = False):
        super().__init__(message)
        self.message = message
        #: What the service did before raising stands: the request boundary commits it anyway
        #: (an expired export deleted on the way to refusing its download).
        self.keep_changes = keep_changes
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors


class NotFound(AppError):
    """The object does not exist, or belongs to someone else (never a 403)."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class Forbidden(AppError):
    """The principal may not do this."""

    status = 403
    code = "forbidden"


class InvalidTransition(Conflict):
    """A state machine refused a transition."""

    code = "invalid_transition"


class Unavailable(Exception):
    """A server this process needs did not answer (the key store, for one): nothing is wrong with the input.

    Requests answer 503 and jobs are retried; a command ends with its message (cliutil).
    """

    #: What did not answer, for messages.
    service = "a server"


def invalid(message: str, **errors: str) -> AppError:
    """Return a 400 naming each offending field with its message."""
    return AppError(message, code="invalid_input", errors={k: [v] for k, v in errors.items()})


def problem(status: int, code: str, message: str, errors: dict | None = None):
    """Return a JSON problem response."""
    body = {"status": status, "code": code, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


def default_code(status: int) -> str:
    """Return the machine-readable code for a bare HTTP status."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"
