"""CSRF on the JSON API: a session cookie authorises a change only with its CSRF token; bearer tokens need none."""
import re

import pytest
import sqlalchemy as sa

from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.subprocessors.models import Subprocessor
from tests.console.test_console_login import sign_in as staff_sign_in
from tests.helpers import bearer
from tests.console.test_tenant_views import T, sign_in

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
NEW_SUBPROCESSOR = {"name": "Mailer Ltd", "purpose": "e-mail", "location": "eu", "safeguards": "scc"}


def page_token(client, url: str) -> str:
    """The CSRF token a console page gives its scripts."""
    page = client.get(url)
    assert page.status_code == 200
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page.get_data(as_text=True)).group(1)


def user_emails(session, tenant) -> list[str]:
    session.expire_all()
    return sorted(u.email for u in session.scalars(sa.select(RegisteredUser)
                                                   .where(RegisteredUser.tenant_id == tenant.id)))


@pytest.fixture
def tenant_session(client, session, org, org_admin):
    """The client holds a tenant admin's console session cookie."""
    assert sign_in(client).status_code == 302
    return client


def test_a_tenant_session_cookie_alone_cannot_change_anything(tenant_session, session, org, org_admin):
    client = tenant_session
    before = user_emails(session, org)
    response = client.post("/api/v1/users", json={"email": "mallory@example.com"})
    assert response.status_code == 403 and response.json["code"] == "csrf_failed"
    assert client.post("/api/v1/users", json={"email": "mallory@example.com"},
                       headers={"X-CSRFToken": "forged"}).json["code"] == "csrf_failed"
    for method in ("patch", "delete"):
        response = getattr(client, method)(f"/api/v1/users/{org_admin.id}", json={"role": "member"})
        assert response.status_code == 403 and response.json["code"] == "csrf_failed"
    assert user_emails(session, org) == before
    # Reads need no token.
    assert client.get("/api/v1/users").status_code == 200


def test_a_tenant_session_cookie_with_its_token_works(tenant_session, session, org):
    client = tenant_session
    token = page_token(client, f"{T}/users")
    response = client.post("/api/v1/users", json={"email": "new@example.com"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.json
    assert "new@example.com" in user_emails(session, org)


def test_a_staff_session_cookie_needs_its_token(client, session, make_staff):
    make_staff("admin", email="csrf-admin@vendor.example")
    session.commit()
    assert staff_sign_in(client, "csrf-admin@vendor.example").status_code == 302
    response = client.post("/api/v1/subprocessors", json=NEW_SUBPROCESSOR)
    assert response.status_code == 403 and response.json["code"] == "csrf_failed"
    assert session.scalar(sa.select(sa.func.count()).select_from(Subprocessor)) == 0
    token = page_token(client, "/console/")
    response = client.post("/api/v1/subprocessors", json=NEW_SUBPROCESSOR, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.json


def test_bearer_tokens_need_no_csrf_token_even_beside_a_cookie(tenant_session, org, org_token):
    response = tenant_session.post("/api/v1/users", json={"email": "bearer@example.com"}, headers=bearer(org_token))
    assert response.status_code == 201


def test_scim_takes_no_cookie_even_with_its_token(tenant_session, session, org):
    client = tenant_session
    token = page_token(client, f"{T}/users")
    for headers in ({}, {"X-CSRFToken": token}):
        response = client.post("/scim/v2/Users", json={"schemas": [USER], "userName": "cookie@example.com"},
                               headers=headers)
        assert response.status_code in (401, 403) and response.mimetype == "application/scim+json"
    assert "cookie@example.com" not in user_emails(session, org)


def test_over_https_the_token_must_come_from_one_of_our_pages(client, session, org, org_admin):
    base = "https://localhost"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      client.get(f"{T}/login", base_url=base).get_data(as_text=True)).group(1)
    assert client.post(f"{T}/login", base_url=base, headers={"Referer": f"{base}{T}/login"}, data={
        "csrf_token": token, "organisation": "acme", "email": org_admin.email,
        "password": "correct horse battery staple"}).status_code == 302
    page = client.get(f"{T}/users", base_url=base)
    # Our pages let same-origin requests carry the Referer that Flask-WTF's HTTPS check wants.
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": token}
    response = client.post("/api/v1/users", json={"email": "a@example.com"}, base_url=base, headers=headers)
    assert response.status_code == 403 and "referrer" in response.json["message"]
    response = client.post("/api/v1/users", json={"email": "a@example.com"}, base_url=base,
                           headers={**headers, "Referer": "https://evil.example/page"})
    assert response.status_code == 403
    response = client.post("/api/v1/users", json={"email": "a@example.com"}, base_url=base,
                           headers={**headers, "Referer": f"{base}{T}/users"})
    assert response.status_code == 201, response.json
