"""Registered users signing in: password rules per status, the lockout."""
from privacy_saas.auth import lockout
from privacy_saas.processor.users import service, signin
from tests.helpers import PASSWORD


def test_sign_in_rules(session, org, make_user):
    admin = make_user(org, "admin@example.com", role="admin", password=PASSWORD)
    member = make_user(org, "member@example.com", password=PASSWORD)
    assert signin.authenticate(org, "ADMIN@example.com", PASSWORD) is admin
    assert signin.authenticate(org, "admin@example.com", "wrong password!") is None
    assert signin.authenticate(org, "nobody@example.com", PASSWORD) is None
    scim = make_user(org, "scim@example.com", external_id="x1")
    assert signin.authenticate(org, "scim@example.com", "") is None  # IdP users have no password here
    service.disable(org, member)
    assert signin.authenticate(org, "member@example.com", PASSWORD) is None
    service.enable(org, member)
    org.end_contract()
    assert signin.authenticate(org, "member@example.com", PASSWORD) is None
    assert signin.authenticate(org, "admin@example.com", PASSWORD) is admin
    assert scim.password_hash is None


def test_sign_in_lockout(org, make_user):
    make_user(org, "ada@example.com", password=PASSWORD)
    for _ in range(lockout.MAX_FAILED_LOGINS):
        assert signin.authenticate(org, "ada@example.com", "wrong password!") is None
    assert signin.authenticate(org, "ada@example.com", PASSWORD) is None
