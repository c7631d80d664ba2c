"""Absolute links to this installation (set-password and unsubscribe e-mails, SCIM locations).

They are built from PRIVACY_SAAS_PUBLIC_URL. Without it, only a request to a loopback address
(`make run`, tests) may lend its Host header: any other Host is the client's word, and a link
built from it would send the recipient (and the secret in the link) wherever the client chose.
"""
from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request

from privacy_saas.errors import AppError

#: A Host header: a name or an IPv4 address, or a bracketed IPv6 address, and an optional port.
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::[0-9]{1,5})?")
#: Where links point outside a request when nothing is configured (the `make run` address).
UNCONFIGURED_BASE = "http://localhost:5000"


class MisdirectedRequest(AppError):
    """A link was needed for a Host this installation is not configured to answer for."""

    status = 421
    code = "misdirected_request"


@functools.lru_cache(maxsize=64)
def is_loopback(host: str) -> bool:
    """Return whether a Host header (with or without port) names this machine's loopback interface."""
    match = _HOST.fullmatch(host)
    if match is None:
        return False
    name = match.group("ipv6") or match.group("name").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def public_base() -> str:
    """Return the base URL of links: the configured public URL, else a loopback request's own."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if not has_request_context():
        return UNCONFIGURED_BASE
    if is_loopback(request.host):
        # scheme://host as request.host_url has it: a loopback host is never an IDN to decode.
        return f"{request.scheme}://{request.host}"
    raise MisdirectedRequest("this installation builds links for its configured address only: set "
                             "PRIVACY_SAAS_PUBLIC_URL (without it, only loopback hosts are answered)")


def external_url(endpoint: str, **values) -> str:
    """Return the absolute URL of `endpoint`, built from the app's URL map (in a CLI command too)."""
    return public_base() + current_app.url_map.bind("localhost").build(endpoint, values)


def check_public_url(value: str) -> str:
    """Return a PRIVACY_SAAS_PUBLIC_URL value if it is an absolute http(s) URL, else raise ValueError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"PRIVACY_SAAS_PUBLIC_URL must be an absolute http(s) URL without query or fragment, "
                         f"e.g. https://privacy.example.com (got {value!r})")
    return value
