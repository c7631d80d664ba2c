"""Links only from configuration: a foreign Host header never ends up in a link or an e-mail, and never a 500."""
import email
import email.policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy_saas import links
from privacy_saas.config import from_env
from privacy_saas.processor.users.models import RegisteredUser
from tests.console.test_tenant_views import T, sign_in
from tests.helpers import bearer, form_token

EVIL = "evil.example"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(autouse=True)
def own_outbox(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)


def outbox(app) -> list:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(Path(app.config["OUTBOX_DIR"]).rglob("*.eml"))]


def users_named(session, tenant, address: str) -> int:
    session.expire_all()
    return sum(1 for u in session.scalars(sa.select(RegisteredUser).where(RegisteredUser.tenant_id == tenant.id))
               if u.email == address)


@pytest.mark.parametrize("host, expected", [
    ("localhost", True), ("LOCALHOST:5000", True), ("127.0.0.1", True), ("127.9.9.9:80", True),
    ("[::1]:5000", True), ("[::1]", True),
    (EVIL, False), ("127.0.0.1.evil.example", False), ("localhost.evil.example", False), ("10.0.0.1", False),
    ("", False), ("localhost:notaport", False), ("[::1", False), ("user@localhost", False),
])
def test_loopback_hosts(host, expected):
    assert links.is_loopback(host) is expected


def test_invitation_from_a_foreign_host_is_421_and_writes_and_mails_nothing(app, client, session, org, org_token):
    response = client.post("/api/v1/users", json={"email": "ada@example.com"}, headers=bearer(org_token),
                           base_url=f"http://{EVIL}")
    assert response.status_code == 421 and response.json["code"] == "misdirected_request"
    assert EVIL not in response.get_data(as_text=True)
    assert users_named(session, org, "ada@example.com") == 0 and outbox(app) == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8080", "[::1]:5000"])
def test_loopback_requests_get_links_to_themselves(app, client, org, org_token, host):
    response = client.post("/api/v1/users", json={"email": "ada@example.com"}, headers=bearer(org_token),
                           base_url=f"http://{host}")
    assert response.status_code == 201, response.json
    url = response.json["invitation"]["url"]
    assert url.startswith(f"http://{host}/console/t/set-password/")
    [mail] = outbox(app)
    assert url in mail.get_content()


def test_configured_public_url_wins_over_any_host(app, client, org, org_token, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://privacy.example.com/")
    response = client.post("/api/v1/users", json={"email": "ada@example.com"}, headers=bearer(org_token),
                           base_url=f"http://{EVIL}")
    assert response.status_code == 201
    assert response.json["invitation"]["url"].startswith("https://privacy.example.com/console/t/set-password/")
    [mail] = outbox(app)
    assert EVIL not in mail.as_string() and "https://privacy.example.com/console/t/set-password/" in mail.get_content()


def test_scim_locations_come_from_configuration(client, session, org, org_token, monkeypatch, app):
    headers = bearer(org_token)
    response = client.post("/scim/v2/Users", json={"schemas": [USER], "userName": "ada@example.com"},
                           headers=headers, base_url=f"http://{EVIL}")
    assert response.status_code == 421 and response.json["status"] == "421"
    assert EVIL not in response.get_data(as_text=True) and users_named(session, org, "ada@example.com") == 0
    assert client.get("/scim/v2/Users", headers=headers, base_url=f"http://{EVIL}").status_code == 421
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://privacy.example.com")
    response = client.post("/scim/v2/Users", json={"schemas": [USER], "userName": "ada@example.com"},
                           headers=headers, base_url=f"http://{EVIL}")
    assert response.status_code == 201
    location = f"https://privacy.example.com/scim/v2/Users/{response.json['id']}"
    assert response.json["meta"]["location"] == response.headers["Location"] == location
    listed = client.get("/scim/v2/Users", headers=headers, base_url=f"http://{EVIL}")
    assert EVIL not in listed.get_data(as_text=True)


def test_console_invitation_from_a_foreign_host(app, client, session, org, org_admin):
    assert sign_in(client).status_code == 302
    token = form_token(client, f"{T}/users/new")
    # The Host as a proxy that passes the client's own on would deliver it, with the admin's session.
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value,
                      domain=EVIL)
    response = client.post(f"{T}/users/new", data={"csrf_token": token, "email": "ada@example.com",
                                                   "role": "member"}, environ_overrides={"HTTP_HOST": EVIL})
    assert response.status_code == 421 and response.mimetype == "text/html"
    assert EVIL not in response.get_data(as_text=True)
    assert users_named(session, org, "ada@example.com") == 0 and outbox(app) == []


def test_outside_a_request_links_point_at_the_local_default(app):
    with app.app_context():
        assert links.external_url("unsubscribe.confirm", token="x") == f"{links.UNCONFIGURED_BASE}/unsubscribe/x"


@pytest.mark.parametrize("value", ["privacy.example.com", "ftp://privacy.example.com", "https://",
                                   "https://privacy.example.com/?next=x", "https://privacy.example.com/#f"])
def test_a_bad_public_url_stops_the_app_with_a_message(monkeypatch, tmp_path, value):
    monkeypatch.setenv("PRIVACY_SAAS_PUBLIC_URL", value)
    with pytest.raises(ValueError, match="PRIVACY_SAAS_PUBLIC_URL must be an absolute http"):
        from_env(str(tmp_path), {"SECRET_KEY": "x", "PRIVACY_SAAS_MASTER_KEYS": "1:" + "A" * 43 + "="})
    monkeypatch.setenv("PRIVACY_SAAS_PUBLIC_URL", "https://privacy.example.com/base")
    assert from_env(str(tmp_path), {"SECRET_KEY": "x"})["PUBLIC_URL"] == "https://privacy.example.com/base"
