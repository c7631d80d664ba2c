"""Bounded input, in one place of the request pipeline.

What a client sends is checked here before any view, schema or service reads it:

- JSON bodies, however they are read (`request.get_json`, the webargs parser of the API, SCIM), are
  parsed by the app's JSON provider, `load_json`: nesting is measured without recursion before parsing, numbers must fit a
  signed 64-bit integer (no NaN or Infinity), and no string, key or value, holds NUL or a lone surrogate;
- query strings and path segments hold no NUL, and the integer parameters of QUERY_INTEGERS are
  integers within their bounds on every endpoint (the databases and the offset arithmetic stay in range);
- form values hold no NUL (checked when a view first reads the form, after its blueprint set its body limit).

Each refusal is an InputRefused naming the field, answered with a 400 in the caller's format: the
answer a blueprint registered (SCIM: its error schema), an error page in the console, a JSON problem
everywhere else.
"""
from __future__ import annotations

import json
import math
import re

from collections.abc import Callable

from flask import Flask, Request, current_app, render_template, request
from flask.json.provider import DefaultJSONProvider

from privacy_saas.apiutil import wants_json
from privacy_saas.errors import problem

#: Deepest nesting of arrays and objects in a JSON body (SCIM PATCH values nest about five deep).
MAX_JSON_DEPTH = 32
#: JSON numbers must fit a signed 64-bit integer, as every integer column and offset does.
JSON_NUMBER_RANGE = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
#: Query parameters that are integers wherever the product reads them, with their bounds. SCIM reads a
#: startIndex below 1 as 1 and a negative count as 0 (RFC 7644 3.4.2.4), so those may be negative.
QUERY_INTEGERS = {"page": (1, _INT32[1]), "page_size": (1, _INT32[1]), "per_page": (1, _INT32[1]),
                  "startIndex": _INT32, "count": _INT32}
#: Longest integer literal looked at; anything longer is out of every range above.
_MAX_DIGITS = 20
_INTEGER = re.compile(r"[+-]?[0-9]{1,%d}" % _MAX_DIGITS)
#: A JSON string (possessive quantifiers keep the match linear on unterminated strings).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
#: A JSON string token (with a following colon when it is a key) or a bracket: to name a too-deep field.
_STRUCTURE = re.compile(r'"((?:[^"\\]++|\\.)*+)"(\s*:)?|[\[{]|[\]}]', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
#: Escapes that decode to NUL or to a lone surrogate (a high one not followed by a low one, a low one
#: not preceded by a high one): only then are the strings walked. It starts with a literal, so the
#: regular expression engine skips to each `\\u` at C speed.
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                         r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u)[dD][c-fC-F])")


class InputRefused(Exception):
    """Input refused before it reached a view: which field, why, and the SCIM error type."""

    def __init__(self, field: str, reason: str, *, syntax: bool = False):
        super().__init__(f"{field}: {reason}")
        self.field = _printable(field)
        self.reason = reason
        self.scim_type = "invalidSyntax" if syntax else "invalidValue"


def _printable(name: str) -> str:
    # A field name may itself hold the refused character: echo it escaped, and briefly.
    return name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace").replace("\x00", "\\x00")[:100]


def text_problem(value: str) -> str | None:
    """Return why `value` cannot be stored as text (NUL, lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain lone surrogates (invalid Unicode)"
    return None


def integer(name: str, value, default: int) -> int:
    """Return `value` (query text or JSON number) as an integer within the bounds of parameter `name`."""
    if value is None or value == "":
        return default
    low, high = QUERY_INTEGERS[name]
    if isinstance(value, str):
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            raise InputRefused(name, "must be an integer")
        number = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InputRefused(name, "must be an integer")
    if not low <= number <= high:
        raise InputRefused(name, f"must be between {low} and {high}")
    return number


# --- JSON ----------------------------------------------------------------------------------------

class _BadNumber:
    """Stands in for a refused number until the walk names its field."""

    def __init__(self, reason: str):
        self.reason = reason


def _parse_int(text: str):
    low, high = JSON_NUMBER_RANGE
    if len(text) > _MAX_DIGITS or not low <= int(text) <= high:
        return _BadNumber("is out of range (a signed 64-bit integer)")
    return int(text)


def _parse_float(text: str):
    value = float(text)
    low, high = JSON_NUMBER_RANGE
    if not math.isfinite(value) or not low <= value <= high:
        return _BadNumber("is out of range (a signed 64-bit integer)")
    return value


def _parse_constant(name: str):
    return _BadNumber(f"must be a number, not {name}")


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH without recursing (the json module recurses per level).

    Each pass removes the innermost bracket pairs (strings taken out first), so a balanced document is
    gone after as many passes as it nests; brackets left unmatched (a broken document) each nest
    around the rest. Every step is a C-level string operation.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return  # cannot nest deeper, whatever the strings hold
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    for _ in range(MAX_JSON_DEPTH + 1):
        shorter = brackets.replace("[]", "").replace("{}", "")
        if shorter == brackets:
            break
        brackets = shorter
    else:
        _refuse_depth(text)
    if brackets.count("[") + brackets.count("{") > MAX_JSON_DEPTH:
        _refuse_depth(text)


def _refuse_depth(text: str) -> None:
    """Raise the depth refusal, naming the top-level field the deep value is under."""
    depth, field = 0, "_body"
    for match in _STRUCTURE.finditer(text):
        token = match.group(0)
        if token[0] == '"':
            if depth == 1 and match.group(2):
                field = match.group(1)
        elif token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                break
        else:
            depth -= 1
    raise InputRefused(field, f"nests deeper than {MAX_JSON_DEPTH} levels", syntax=True)


def _first_refusal(document) -> tuple[str, str] | None:
    """Return (field path, reason) of the first refused key or value in document order, or None."""
    stack = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            children = []
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                reason = text_problem(key)
                if reason:
                    return child, f"name {reason}"
                children.append((child, item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
        elif isinstance(value, str):
            reason = text_problem(value)
            if reason:
                return path or "_body", reason
        elif isinstance(value, _BadNumber):
            return path or "_body", value.reason
    return None


def load_json(data: bytes | str):
    """Parse a JSON body within the bounds above, or raise InputRefused naming the field."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused("_body", "is not UTF-8 text", syntax=True) from None
    _check_depth(data)
    refused = []

    def bad(reason_of):
        def hook(text):
            value = reason_of(text)
            if isinstance(value, _BadNumber):
                refused.append(value)
            return value
        return hook

    try:
        document = json.loads(data, parse_int=bad(_parse_int), parse_float=bad(_parse_float),
                              parse_constant=bad(_parse_constant))
    except ValueError as exc:  # JSONDecodeError; the message names a position, never the content
        raise InputRefused("_body", f"is not valid JSON ({getattr(exc, 'msg', 'too large a number')}, "
                                    f"at character {getattr(exc, 'pos', '?')})", syntax=True) from None
    if refused or ("\\u" in data and _BAD_ESCAPE.search(data)):
        found = _first_refusal(document)
        if found:
            raise InputRefused(*found)
    return document


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON provider: `request.get_json` (and so every JSON body) parses through load_json."""

    def loads(self, s, **kwargs):
        return load_json(s)


class BoundedRequest(Request):
    """Flask's request, whose form parsing refuses what text_problem refuses."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        _check_values(self.form.items(multi=True))


def _check_values(pairs) -> None:
    for name, value in pairs:
        reason = text_problem(name) or (text_problem(value) if isinstance(value, str) else None)
        if reason:
            raise InputRefused(name, reason)


def _check_query_and_path() -> None:
    _check_values(request.args.items(multi=True))
    _check_values((request.view_args or {}).items())
    for name in QUERY_INTEGERS.keys() & request.args.keys():
        for value in request.args.getlist(name):
            integer(name, value, default=0)


def _answer(error: InputRefused):
    """Answer a refusal in the format of the part of the product that was called."""
    answer = current_app.extensions["bounded_input"].get(request.blueprint)
    if answer is not None:
        return answer(error)
    if not wants_json():
        return render_template("console/error.html", status=400, message=f"{error.field}: {error.reason}"), 400
    return problem(400, "invalid_input", "the request is invalid", {error.field: [error.reason]})


def init_app(app: Flask, answers: dict[str, Callable[[InputRefused], object]] | None = None) -> None:
    """Install the checks: JSON provider and request class, a before-request check, the error answer.

    `answers` maps a blueprint name to how it answers a refusal, for a blueprint whose errors have
    their own format (SCIM's error schema); it is passed in so this module imports no scope.
    """
    app.extensions["bounded_input"] = dict(answers or {})
    app.json = BoundedJSONProvider(app)
    app.request_class = BoundedRequest
    app.before_request(_check_query_and_path)
    app.register_error_handler(InputRefused, _answer)
