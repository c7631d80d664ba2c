"""flask-smorest glue: JSON problem errors and 400 for invalid input."""
from __future__ import annotations

import logging
from http import HTTPStatus

import marshmallow as ma
from apispec import BasePlugin
from flask import render_template, request
from flask_smorest import Api, Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException

from privacy_saas.errors import default_code, problem

log = logging.getLogger(__name__)


class Parser(FlaskParser):
    """Invalid input is a 400, with the field errors in the problem body."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        # webargs parses with the json module; this goes through the request's bounded parser instead.
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing
        return req.get_json(force=True)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint using our parser."""

    ARGUMENTS_PARSER = Parser()
    #: page and page_size errors are 400s too (flask-smorest's own parser answers 422).
    PAGINATION_ARGUMENTS_PARSER = Parser()


def link(path: str, method: str, **parameters: str) -> dict:
    """Return an OpenAPI link to the operation `method path`, its parameters drawn from this exchange.

    Declared on a response with `blp.doc(responses={201: {"links": {...}}})`: clients, and
    schemathesis' stateful tests, follow it from a created object to what can be done with it.
    """
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters}


def wants_json() -> bool:
    """Return whether the error should be a JSON problem rather than a console page."""
    return not request.path.startswith("/console") and request.path != "/"


class ProblemSchema(ma.Schema):
    """The JSON problem every API error answers with (documents errors.problem)."""

    status = ma.fields.Integer(metadata={"description": "HTTP status"})
    code = ma.fields.String(metadata={"description": "Machine-readable error code"})
    message = ma.fields.String(metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(metadata={"description": "Field errors, for invalid input"})


class ErrorResponsesPlugin(BasePlugin):
    """Document the error statuses each operation can answer, in place of one catch-all `default`.

    Then a client (and schemathesis' status-code conformance) can tell an undocumented status from
    a documented one. The rules follow the request pipeline; an operation with errors of its own
    (410, 421) declares them with `alt_response`.
    """

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for status in error_statuses(path or "", method, operation):
                responses.setdefault(str(status), HTTPStatus(status).name)


def error_statuses(path: str, method: str, operation: dict) -> list[int]:
    """Return the error statuses the pipeline may answer for an operation."""
    statuses = [400, 503]  # bounded input everywhere; the database may be down
    if operation.get("security") != []:
        statuses += [401, 403]  # no or a bad token, the wrong role or principal, a cookie without CSRF token
        statuses.append(410)  # a record whose keys were destroyed (a backup restored after a purge)
    names = {p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)}
    if "{" in path or names & {"tenant", "chain"}:
        statuses.append(404)  # what the path or a filter names does not exist (or is another tenant's)
    if method != "get":
        statuses.append(409)  # the state forbids it (tenant ended, last admin, duplicate, ...)
    if "requestBody" in operation:
        statuses += [413, 415]
    return statuses


class ProblemApi(Api):
    """Api whose HTTP errors all share the JSON problem shape."""

    #: Documented per status by ErrorResponsesPlugin (flask-smorest's default has code/status swapped).
    ERROR_SCHEMA = ProblemSchema
    #: No catch-all `default` response: each operation lists its error statuses.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        if status >= 500:
            log.error("request failed with %s: %s %s", status, request.method, request.path,
                      exc_info=getattr(error, "original_exception", None))
        if not wants_json():
            return render_template("console/error.html", status=status,
                                   message=error.description if status < 500 else "Something went wrong."), status
        data = getattr(error, "data", None) or {}
        errors = None
        messages = data.get("messages")
        if messages:
            # webargs nests by location ("json", "query"); clients want the fields.
            errors = {}
            for by_field in messages.values():
                errors.update(by_field if isinstance(by_field, dict) else {"_schema": by_field})
        code = "invalid_input" if errors else default_code(status)
        message = "the request is invalid" if errors else (
            error.description if status < 500 else "internal error; it has been logged")
        response = problem(status, code, message, errors)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response

