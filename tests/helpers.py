"""Small helpers shared by tests."""
from __future__ import annotations

import re

from flask.testing import FlaskClient

_CSRF_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')


def bearer(token: str) -> dict:
    """Return the Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in `html`."""
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token input on the page"
    return match.group(1)


class RequestContextClient(FlaskClient):
    """A test client that gives every request its own app context, as a real server does.

    The `session` fixture keeps one app context pushed for the whole test, and Flask
    reuses a pushed context for requests: `g` (the cached principal, Flask-Login's
    user) and the database session would then leak from one request to the next, so
    a revoked token or a signed-out user still passed in the second request.
    """

    def open(self, *args, **kwargs):
        # The request's session shares the test's connection: it must see the setup.
        from privacy_saas.extensions import db

        db.session.flush()
        with self.application.app_context():
            return super().open(*args, **kwargs)
