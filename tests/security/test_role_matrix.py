"""Every staff endpoint and console page × every staff role and anonymous, per CAPABILITIES."""
import re
import uuid

import pytest

from privacy_saas.auth import tokens
from privacy_saas.auth.principal import CAPABILITIES, declared_capability
from tests.console.test_console_login import sign_in
from tests.helpers import RequestContextClient, bearer

ROLES = ("support", "account_manager", "dpo", "admin")


def _url(rule) -> str:
    def fill(match):
        converter = match.group(1) or "string"
        return str(uuid.uuid4()) if converter == "uuid" else ("1" if converter == "int" else "no-such-thing")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", fill, rule.rule)


def staff_routes(app, prefix):
    """(method, url, capability) for every route under `prefix` whose view declares a capability."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            capability = declared_capability(app.view_functions[rule.endpoint], method)
            if capability:
                found.append((method, _url(rule), capability))
    return found


def test_the_matrix_covers_the_staff_surface(app):
    api = staff_routes(app, "/api/v1")
    console = staff_routes(app, "/console")
    assert len(api) >= 15 and len(console) >= 10
    assert {c for _, _, c in api + console} >= {"tenants.read", "tenants.offboard", "contacts.read", "audit.read"}


@pytest.fixture
def role_tokens(session, make_staff):
    result = {role: tokens.issue(kind="staff", name="m", staff_id=make_staff(role)[0].id)[1] for role in ROLES}
    session.commit()
    return result


def test_api_matrix(app, client, role_tokens):
    failures = []
    for method, url, capability in staff_routes(app, "/api/v1"):
        for role in (None, *ROLES):
            headers = bearer(role_tokens[role]) if role else {}
            response = client.open(url, method=method, json={}, headers=headers)
            status = response.status_code
            if role is None:
                ok = status == 401
            elif role not in CAPABILITIES[capability]:
                ok = status == 403
            else:
                ok = status not in (401, 403) and status < 500
            if not ok:
                failures.append((method, url, role, status))
    assert not failures


def test_console_matrix(app, session, make_staff):
    clients = {}
    for role in ROLES:
        _, password = make_staff(role, email=f"matrix-{role}@vendor.example")
        session.commit()
        clients[role] = RequestContextClient(app, app.response_class, use_cookies=True)
        assert sign_in(clients[role], f"matrix-{role}@vendor.example", password).status_code == 302
    anonymous = RequestContextClient(app, app.response_class, use_cookies=True)
    failures = []
    for method, url, capability in staff_routes(app, "/console"):
        for role in (None, *ROLES):
            # Console POSTs without a CSRF token stop at 400 before the role check matters;
            # the GET pages are what a role sees.
            if method != "GET":
                continue
            status = (clients[role] if role else anonymous).open(url, method=method).status_code
            if role is None:
                ok = status == 302
            elif role not in CAPABILITIES[capability]:
                ok = status == 403
            else:
                ok = status not in (302, 401, 403) and status < 500
            if not ok:
                failures.append((method, url, role, status))
    assert not failures
