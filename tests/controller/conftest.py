"""Fixtures of the controller-scope tests."""
from __future__ import annotations

import uuid

import pytest

from tests import helpers
from tests.helpers import bearer


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
        token = csrf_token(client, "/console/login")
        response = client.post("/console/login", data={"csrf_token": token, "email": staff.email,
                                                       "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return staff

    return login


def csrf_token(client, path: str) -> str:
    """Return the CSRF token of the first form on `path`."""
    return helpers.csrf_token(client.get(path).get_data(as_text=True))
