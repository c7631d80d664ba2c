"""Absolute links for e-mails and SCIM: under PUBLIC_URL when it is configured."""
from __future__ import annotations

from flask import current_app, has_request_context, request


def public_base() -> str:
    """Return the root that links start with (no trailing slash)."""
    # A configured public URL wins over the request's Host header (no link poisoning).
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost:5000"


def external_url(endpoint: str, **values) -> str:
    """Return the absolute URL of `endpoint`, built from the app's URL map (in a CLI command too)."""
    return public_base() + current_app.url_map.bind("localhost").build(endpoint, values)
