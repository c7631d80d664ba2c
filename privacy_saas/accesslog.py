"""Access logs without personal data: query values and link secrets are redacted before a line is written.

Query strings carry e-mail addresses (`?email=`, SCIM `filter=userName eq "..."`, console searches)
and some paths carry a secret or a person's pseudonym (set-password and unsubscribe links). Every
query value is redacted except those of SAFE_PARAMETERS (paging, states, codes), and those too when
they look like an e-mail address (a caller may put anything anywhere): a new parameter is redacted
until someone decides it is safe. Installed on werkzeug's request log by the app factory,
and on gunicorn's access log by `gunicorn.conf.py` (logger_class).
"""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

#: Query parameters whose values are never personal data; every other value is redacted.
SAFE_PARAMETERS = frozenset({"page", "page_size", "startIndex", "count", "status", "role", "outcome", "action",
                             "since", "until", "source", "basis", "removed", "attributes", "excludedAttributes",
                             "chain"})
#: Paths whose next segment is a secret or stands for a person.
SECRET_PATHS = ("/console/t/set-password/", "/unsubscribe/")
REDACTED = "REDACTED"
#: A path, with its query, anywhere in a log line (request line, referrer URL).
_TARGET = re.compile(r"/[^\s\"]*")
#: A path segment that looks like an e-mail address.
_EMAIL_SEGMENT = re.compile(r"[^/]*(?:@|%40)[^/]*", re.IGNORECASE)
#: Request headers never written, whatever the log format asks for (credentials).
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{set-cookie}o", "{http_authorization}e", "{http_cookie}e")


def redact_query(query: str) -> str:
    """Return a query string with the value of every parameter not in SAFE_PARAMETERS replaced."""
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if not equals:
            pairs.append(REDACTED if pair else pair)  # `?ada@example.com`: a bare value
        else:
            safe = unquote_plus(name) in SAFE_PARAMETERS and not _EMAIL_SEGMENT.fullmatch(value)
            pairs.append(f"{name}={value if safe else REDACTED}")
    return "&".join(pairs)


def redact_target(target: str) -> str:
    """Return a request target (path and query) with link secrets, e-mail segments and query values redacted."""
    path, question, query = target.partition("?")
    for prefix in SECRET_PATHS:
        start = path.find(prefix)
        if start >= 0:
            path = path[:start + len(prefix)] + REDACTED
    path = _EMAIL_SEGMENT.sub(REDACTED, path)
    return path + question + (redact_query(query) if question else "")


def redact(text: str) -> str:
    """Return text (a URL, a header) with every path and query in it redacted."""
    return _TARGET.sub(lambda match: redact_target(match.group(0)), text)


def redact_request_line(line: str) -> str:
    """Return `METHOD target HTTP/x` with its target redacted, whatever the target holds (quotes, spaces)."""
    start, end = line.find(" ") + 1, line.rfind(" HTTP/")
    if start == 0 or end < start:
        return redact(line)
    return line[:start] + redact_target(line[start:end]) + line[end:]


class RedactingFilter(logging.Filter):
    """A logging filter that writes werkzeug's request lines redacted (they come as arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_request_line(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


#: One instance, so that creating several apps in a process adds it once.
_FILTER = RedactingFilter()


def install() -> None:
    """Redact werkzeug's request log (the development server of `make run` and the tests)."""
    logging.getLogger("werkzeug").addFilter(_FILTER)


class GunicornLogger(Logger):
    """gunicorn's logger, with every access-log atom redacted (`logger_class` in gunicorn.conf.py)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in _SECRET_HEADERS:
                atoms[key] = REDACTED
            elif key == "r":
                atoms[key] = redact_request_line(value)
            elif key in ("U", "{raw_uri}e", "{path_info}e"):
                atoms[key] = redact_target(value)
            elif isinstance(value, str):
                atoms[key] = redact(value)
        atoms["q"] = atoms["{query_string}e"] = redact_query(environ.get("QUERY_STRING", ""))
        return atoms
