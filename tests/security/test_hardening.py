"""Hardening: sign-in rate limits, cookie flags, session rotation, CSP-safe templates, body limits."""
import pathlib
import re

import pytest

from privacy_saas.extensions import limiter
from tests import conftest
from tests.helpers import RequestContextClient, csrf_token

TEMPLATE_DIRS = sorted(pathlib.Path("privacy_saas").rglob("templates"))


@pytest.fixture
def limited_app(app, committed, tmp_path_factory):
    """A fresh app with rate limiting on, on the test database (Redis storage when REDIS_URL is set)."""
    from privacy_saas import create_app

    was_enabled = limiter.enabled
    config = {**conftest.test_config(tmp_path_factory), "RATELIMIT_ENABLED": True,
              "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    fresh = create_app(config)
    with fresh.app_context():
        limiter.reset()
    try:
        yield fresh
    finally:
        with fresh.app_context():
            limiter.reset()
            from privacy_saas.extensions import db

            db.session.remove()
            db.engine.dispose()
        # The Limiter is module-level: init_app on the fresh app switched it on for every app.
        limiter.enabled = was_enabled


def _post_login(client, path, data):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(page.text), **data})


@pytest.mark.parametrize("path, data", [
    ("/console/login", {"email": "nobody@vendor.example", "password": "wrong password!!"}),
    ("/console/t/login", {"organisation": "nope", "email": "nobody@x.example", "password": "wrong password!!"}),
])
def test_sign_in_is_rate_limited_per_address(limited_app, path, data):
    if not any(rule.rule == path for rule in limited_app.url_map.iter_rules()):
        pytest.skip(f"{path} not routed")
    client = RequestContextClient(limited_app, limited_app.response_class, use_cookies=True)
    statuses = [_post_login(client, path, data).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    page = _post_login(client, path, data)
    assert page.status_code == 429 and page.mimetype == "text/html"
    # Reading the form is not limited.
    assert client.get(path).status_code == 200


def test_rate_limit_answers_json_on_the_api_side(limited_app):
    client = limited_app.test_client()
    statuses = [client.get("/unsubscribe/not-a-token").status_code for _ in range(31)]
    assert 429 not in statuses[:30] and statuses[30] == 429
    response = client.get("/unsubscribe/not-a-token")
    assert response.status_code == 429 and response.json["status"] == 429


def test_production_cookie_flags(monkeypatch, tmp_path):
    from privacy_saas.config import from_env

    monkeypatch.delenv("PRIVACY_SAAS_INSECURE_COOKIES", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # SQLite installs get Secure cookies too
    config = from_env(str(tmp_path), {"SECRET_KEY": "x", "PRIVACY_SAAS_MASTER_KEYS": "1:" + "A" * 43 + "="})
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("PRIVACY_SAAS_INSECURE_COOKIES", "1")
    assert not from_env(str(tmp_path), {"SECRET_KEY": "x"})["SESSION_COOKIE_SECURE"]


def test_session_cookie_is_httponly_lax_and_rotated_on_sign_in(client, make_staff, session):
    _, password = make_staff("admin", email="rotate@vendor.example")
    session.commit()
    page = client.get("/console/login")
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    response = client.post("/console/login", data={"csrf_token": csrf_token(page.text),
                                                   "email": "rotate@vendor.example", "password": password})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with client.session_transaction() as after:
        assert "planted" not in after and "_user_id" in after


def test_templates_have_no_inline_script_or_style():
    assert TEMPLATE_DIRS
    for path in (p for d in TEMPLATE_DIRS for p in d.rglob("*.html")):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text, re.I), path
        assert not re.search(r"\sstyle\s*=", text, re.I), path
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), path


def test_csp_forbids_inline_script_and_framing(client):
    csp = client.get("/console/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_oversized_body_is_413_json(client, staff_token):
    from tests.helpers import bearer

    limit = client.application.config["MAX_CONTENT_LENGTH"]
    response = client.post("/api/v1/users", data=b"x" * (limit + 1), headers={
        **bearer(staff_token), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json["status"] == 413


def test_a_value_the_database_cannot_store_is_400_not_500(client, staff_token):
    from tests.helpers import bearer

    response = client.post("/api/v1/subprocessors", headers=bearer(staff_token), json={
        "name": "nul\u0000byte", "purpose": "p", "location": "eu", "safeguards": "scc"})
    # Found by the schemathesis run: PostgreSQL refuses NUL in text and this was a 500. Refused on
    # both databases now, before the schema (SQLite used to store it).
    assert response.status_code == 400 and response.json["errors"] == {"name": ["must not contain NUL characters"]}
    assert client.get("/api/v1/subprocessors", headers=bearer(staff_token)).json == []
