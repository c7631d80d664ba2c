"""Fixtures of the console tests."""
import pytest

from tests.console.test_tenant_views import T, sign_in


@pytest.fixture
def admin_client(client, session, org_admin):
    """A client signed in to the tenant console as Acme's admin."""
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{T}/")
    return client
