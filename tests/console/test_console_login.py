"""Staff console: sign-in, CSRF, sign-out, tenants pages."""
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from privacy_saas import clock
from tests.helpers import csrf_token

EMAIL = "console@vendor.example"


@pytest.fixture
def account(make_staff, session):
    """An admin staff member, committed (a refused request rolls back only its own work)."""
    staff, password = make_staff("admin", email=EMAIL)
    session.commit()
    return staff, password


@pytest.fixture
def tenants(make_tenant, session):
    clock.travel_to(date(2026, 11, 23))
    acme = make_tenant("acme", name="Acme Ltd", contract_end=date(2027, 12, 31))
    globex = make_tenant("globex", name="Globex Corporation", contract_start=date(2024, 7, 1),
                         contract_end=date(2026, 6, 30))
    globex.end_contract()
    session.commit()
    return acme, globex


def sign_in(client, email=EMAIL, password="correct horse battery", next_url=None):
    page = client.get("/console/login")
    assert page.status_code == 200
    url = "/console/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": csrf_token(page.text), "email": email,
                                  "password": password})


def redirected_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/console/login"


def test_csrf_protection_is_on_in_the_test_app(app):
    # Flask-WTF keeps CSRF on under TESTING unless WTF_CSRF_ENABLED is False.
    assert app.config["TESTING"] is True
    assert app.config.get("WTF_CSRF_ENABLED", True) is True


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/console/")
    assert redirected_to_login(response)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == ["/console/"]


def test_sign_in_shows_the_tenants(client, account, tenants):
    response = sign_in(client)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200
    html = page.text
    for text in ("acme", "Acme Ltd", "2029-01-01", "globex", "Globex Corporation", "2027-07-01", "ended"):
        assert text in html, text
    assert page.headers["Cache-Control"] == "no-store"


def test_status_filter_lists_only_that_status(client, account, tenants):
    sign_in(client)
    html = client.get("/console/?status=ended").text
    assert "Globex Corporation" in html
    assert "Acme Ltd" not in html


def test_wrong_password_is_401_and_does_not_sign_in(client, account):
    response = sign_in(client, password="not the password")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text
    assert redirected_to_login(client.get("/console/"))


def test_unknown_email_looks_like_a_wrong_password(client, account):
    response = sign_in(client, email="nobody@vendor.example")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text


def test_sign_in_without_csrf_token_is_400(client, account):
    client.get("/console/login")
    response = client.post("/console/login", data={"email": EMAIL, "password": "correct horse battery"})
    assert response.status_code == 400
    assert redirected_to_login(client.get("/console/"))


def test_sign_in_with_a_forged_csrf_token_is_400(client, account):
    client.get("/console/login")
    response = client.post("/console/login", data={"csrf_token": "forged", "email": EMAIL,
                                                   "password": "correct horse battery"})
    assert response.status_code == 400
    assert redirected_to_login(client.get("/console/"))


def test_sign_out_needs_a_post_with_csrf(client, account):
    assert sign_in(client).status_code == 302
    page = client.get("/console/")
    assert page.status_code == 200

    assert client.get("/console/logout").status_code == 405
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in

    response = client.post("/console/logout", data={"csrf_token": csrf_token(page.text)})
    assert redirected_to_login(response)
    assert redirected_to_login(client.get("/console/"))


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/elsewhere",
                                    "javascript:alert(1)"])
def test_next_outside_the_console_is_ignored(client, account, target):
    response = sign_in(client, next_url=target)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path == "/console/"


def test_next_inside_the_console_is_followed(client, account, tenants):
    response = sign_in(client, next_url="/console/tenants/acme")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/console/tenants/acme"


def test_support_role_can_see_tenants(client, make_staff, session, tenants):
    make_staff("support", email="helpdesk@vendor.example")
    session.commit()
    assert sign_in(client, email="helpdesk@vendor.example").status_code == 302
    page = client.get("/console/")
    assert page.status_code == 200
    assert "acme" in page.text
    assert "support" in page.text


def test_tenant_page_shows_the_purge_due_date(client, account, tenants):
    sign_in(client)
    page = client.get("/console/tenants/globex")
    assert page.status_code == 200
    assert "Globex Corporation" in page.text
    assert "2026-06-30" in page.text
    assert "2027-07-01" in page.text


def test_open_ended_tenant_page_says_so(client, account, make_tenant, session):
    make_tenant("initech", name="Initech UK Ltd", region="uk")
    session.commit()
    sign_in(client)
    page = client.get("/console/tenants/initech")
    assert page.status_code == 200
    assert "open-ended" in page.text
    assert "no contract end" in page.text


def test_unknown_tenant_page_is_an_html_404(client, account):
    sign_in(client)
    response = client.get("/console/tenants/no-such-tenant")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "no tenant" in response.text


def test_tenant_page_needs_sign_in(client, tenants):
    assert redirected_to_login(client.get("/console/tenants/acme"))
