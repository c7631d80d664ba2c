"""flask-smorest glue: JSON problem errors and 400 for invalid input."""
from __future__ import annotations

import logging

import marshmallow as ma
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


def wants_json() -> bool:
    """Return whether the error should be a JSON problem rather than a console page."""
    return not request.path.startswith("/console") and request.path != "/"


class ProblemSchema(ma.Schema):
    """The JSON problem every API error answers with (documents errors.problem)."""

    status = ma.fields.Integer(metadata={"description": "HTTP status"})
    code = ma.fields.String(metadata={"description": "Machine-readable error code"})
    message = ma.fields.String(metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(metadata={"description": "Field errors, for invalid input"})


class ProblemApi(Api):
    """Api whose HTTP errors all share the JSON problem shape."""

    #: Documented as every operation's error response (flask-smorest's default has code/status swapped).
    ERROR_SCHEMA = ProblemSchema

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

