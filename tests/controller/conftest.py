"""Fixtures of the controller-scope tests."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.helpers import bearer


@pytest.fixture(autouse=True)
def _fresh_request_globals(app):
    """Forget per-request globals at each request.

    The `session` fixture keeps one app context for the whole test, and Flask reuses an
    active app context for requests, so `g` (the principal, the CSRF token) would leak from
    one test-client request into the next.
    """
    from flask import g, request_started

    def clear(_sender, **_extra):
        for name in ("principal", "csrf_token"):
            g.pop(name, None)

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture
def ready(session):
    """The controller scope's keys and suppression key check exist."""
    from privacy_saas.controller.bootstrap import ensure_ready

    ensure_ready()
    # Committed (a savepoint here), so a request's rollback after an error response keeps it.
    session.commit()
    return session


@pytest.fixture
def make_contact(ready):
    """Create contacts: make_contact(email=..., lawful_basis=..., **fields) through the service."""
    from privacy_saas.controller.contacts import service

    def make(email: str | None = None, **fields):
        data = {"email": email or f"c-{uuid.uuid4().hex[:10]}@example.com", "name": "Ada Lovelace",
                "source": "event", "lawful_basis": "legitimate_interest", **fields}
        contact = service.create(data)
        ready.commit()
        return contact

    return make


@pytest.fixture
def role_headers(session, make_staff):
    """Return bearer headers for a new staff member of `role`."""
    from privacy_saas.auth import tokens

    def make(role: str) -> dict:
        staff, _password = make_staff(role)
        token = tokens.issue(kind="staff", name="test", staff_id=staff.id)[1]
        session.commit()
        return bearer(token)

    return make


@pytest.fixture
def admin_headers(role_headers):
    return role_headers("admin")


@pytest.fixture
def console_login(client, session, make_staff):
    """Sign a new staff member of `role` in to the console (through the real form)."""

    def login(role: str):
        staff, password = make_staff(role)
        session.commit()
        page = client.get("/console/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/console/login", data={"csrf_token": token, "email": staff.email,
                                                       "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return staff

    return login


def csrf_token(client, path: str) -> str:
    """Return the CSRF token of the form on `path`."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
