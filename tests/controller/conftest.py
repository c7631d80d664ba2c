"""Fixtures of the controller-scope tests."""
from __future__ import annotations

import uuid

import pytest

from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import service


@pytest.fixture
def ready(session):
    """The controller scope's keys and suppression key check exist."""
    ensure_ready()
    # Committed (a savepoint here), so a request's rollback after an error response keeps it.
    session.commit()
    return session


@pytest.fixture
def make_contact(ready):
    """Create contacts: make_contact(email=..., lawful_basis=..., **fields) through the service."""

    def make(email: str | None = None, **fields):
        data = {"email": email or f"c-{uuid.uuid4().hex[:10]}@example.com", "name": "Ada Lovelace",
                "source": "event", "lawful_basis": "legitimate_interest", **fields}
        contact = service.create(data)
        ready.commit()
        return contact

    return make


@pytest.fixture
def admin_headers(role_headers):
    return role_headers("admin")
