"""Fixtures for processor-scope tests: tenants with keys, their users and tokens."""
from __future__ import annotations

import uuid

import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_keyed_tenant(session, make_tenant):
    """Create a tenant with its data and index keys: make_keyed_tenant(slug=None, **fields)."""
    from privacy_saas.crypto.service import create_tenant_keys

    def make(slug: str | None = None, **fields):
        tenant = make_tenant(slug, **fields)
        create_tenant_keys(tenant)
        # Commits are savepoints here: an error response's rollback keeps the fixtures.
        session.commit()
        return tenant

    return make


@pytest.fixture
def org(make_keyed_tenant):
    return make_keyed_tenant("acme", name="Acme Ltd")


@pytest.fixture
def other_org(make_keyed_tenant):
    return make_keyed_tenant("globex", name="Globex Corp")


@pytest.fixture
def make_user(session):
    """Create users: make_user(tenant, email=None, role="member", password=None, **fields)."""
    from privacy_saas.processor.users import service

    def make(tenant, email: str | None = None, role: str = "member", **fields):
        fields.setdefault("display_name", "Test User")
        fields.setdefault("actor", ("test", None))
        user = service.create(tenant, email=email or f"u-{uuid.uuid4().hex[:8]}@example.com", role=role, **fields)
        session.commit()
        return user

    return make


@pytest.fixture
def org_admin(org, make_user):
    return make_user(org, "admin@acme.example", role="admin", password=PASSWORD, display_name="Ada Admin")


@pytest.fixture
def make_token(session):
    """Issue a tenant token: make_token(tenant) -> plaintext."""
    from privacy_saas.processor.users.tokens import create_token

    def make(tenant, name: str = "test"):
        plaintext = create_token(tenant, name, actor=("test", None))[1]
        session.commit()
        return plaintext

    return make


@pytest.fixture
def org_token(org, make_token):
    return make_token(org)


@pytest.fixture
def other_token(other_org, make_token):
    return make_token(other_org)
