"""Tenant admin console: sign-in, users, tokens, CSRF, last admin, ended tenant, invitations."""
import email
import email.policy
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.processor.users import invitations, service
from tests.helpers import PASSWORD, bearer, form_token

T = "/console/t"


def sign_in(client, org="acme", email="admin@acme.example", password=PASSWORD):
    token = form_token(client, f"{T}/login")
    return client.post(f"{T}/login", data={"csrf_token": token, "organisation": org, "email": email,
                                           "password": password})


def post(client, url, data=None, page=f"{T}/users"):
    """Post a console form with the CSRF token of `page`; re-read what the request changed."""
    response = client.post(url, data={"csrf_token": form_token(client, page), **(data or {})})
    db.session.expire_all()  # the request ran in its own session: re-read what it changed
    return response


def test_sign_in_uses_a_user_session_separate_from_staff(client, session, org, org_admin):
    assert sign_in(client, password="wrong password!").status_code == 401
    assert sign_in(client, org="nope").status_code == 401
    assert sign_in(client).status_code == 302
    with client.session_transaction() as flask_session:
        assert flask_session["_user_id"] == f"user:{org.id}:{org_admin.id}"
    assert client.get(f"{T}/").headers["Location"].endswith(f"{T}/users")
    assert client.get("/console/").status_code == 302  # staff pages stay closed to tenant admins
    assert org_admin.last_login_at is not None


def test_forms_need_csrf(client, session, org, org_admin, make_user):
    response = client.post(f"{T}/login", data={"organisation": "acme", "email": "admin@acme.example",
                                               "password": PASSWORD})
    assert response.status_code == 400
    sign_in(client)
    user = make_user(org, "m@example.com")
    assert client.post(f"{T}/users/{user.id}/disable").status_code == 400
    assert client.post(f"{T}/users/new", data={"email": "x@example.com", "role": "member"}).status_code == 400
    assert client.post(f"{T}/tokens", data={"name": "x"}).status_code == 400
    assert service.get(org, user.id).status == "active"
    assert service.find_by_email(org, "x@example.com") is None


def test_pages_have_no_inline_script(admin_client):
    for url in (f"{T}/users", f"{T}/users/new", f"{T}/tokens"):
        html = admin_client.get(url).get_data(as_text=True)
        assert "<script" not in html and "onclick" not in html.lower()


def test_list_and_exact_email_search(admin_client, org, other_org, make_user):
    make_user(org, "ada@example.com", display_name="Ada Lovelace")
    make_user(org, "bob@example.com")
    make_user(other_org, "carol@example.com")
    html = admin_client.get(f"{T}/users").get_data(as_text=True)
    assert "ada@example.com" in html and "bob@example.com" in html and "carol@example.com" not in html
    html = admin_client.get(f"{T}/users?email=ADA@example.com").get_data(as_text=True)
    assert "Ada Lovelace" in html and "bob@example.com" not in html
    html = admin_client.get(f"{T}/users?email=carol@example.com").get_data(as_text=True)
    assert "No user matches “carol@example.com”." in html


def test_add_user_shows_the_invitation_once_and_mails_it(admin_client, app, org, caplog):
    caplog.set_level(logging.DEBUG)
    response = post(admin_client, f"{T}/users/new", {"email": "new@example.com", "display_name": "New Person",
                                                      "role": "member"}, page=f"{T}/users/new")
    assert response.status_code == 201
    link = re.search(r'id="invitation-link">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert "/console/t/set-password/" in link
    user = service.find_by_email(org, "new@example.com")
    assert user.display_name == "New Person" and user.password_hash is None
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in Path(app.config["OUTBOX_DIR"]).rglob("*.eml")]
    assert any(m["To"] == "new@example.com" and link in m.get_content() and "New Person" in m.get_content()
               for m in mails)
    assert "new@example.com" not in caplog.text and "New Person" not in caplog.text
    duplicate = post(admin_client, f"{T}/users/new", {"email": "NEW@example.com", "role": "member"},
                     page=f"{T}/users/new")
    assert duplicate.status_code == 409 and "exists" in duplicate.get_data(as_text=True)


def test_role_disable_enable(admin_client, org, make_user):
    user = make_user(org, "m@example.com")
    assert post(admin_client, f"{T}/users/{user.id}/role", {"role": "admin"}).status_code == 302
    assert service.get(org, user.id).role == "admin"
    assert post(admin_client, f"{T}/users/{user.id}/disable").status_code == 302
    assert service.get(org, user.id).status == "disabled"
    assert post(admin_client, f"{T}/users/{user.id}/enable").status_code == 302
    assert service.get(org, user.id).status == "active"


def test_last_admin_gets_a_clear_error(admin_client, org, org_admin):
    for url, data in ((f"{T}/users/{org_admin.id}/role", {"role": "member"}),
                      (f"{T}/users/{org_admin.id}/disable", None),
                      (f"{T}/users/{org_admin.id}/remove", None)):
        response = post(admin_client, url, data)
        assert response.status_code == 409
        assert "last active admin" in response.get_data(as_text=True)
    assert service.get(org, org_admin.id).role == "admin"


def test_remove_asks_for_confirmation_naming_the_user(admin_client, org, make_user):
    user = make_user(org, "ada@example.com", display_name="Ada Lovelace")
    page = admin_client.get(f"{T}/users/{user.id}/remove")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Ada Lovelace" in html and "ada@example.com" in html
    assert service.find_by_email(org, "ada@example.com") is not None  # GET removes nothing
    response = post(admin_client, f"{T}/users/{user.id}/remove", page=f"{T}/users/{user.id}/remove")
    assert response.status_code == 302
    assert service.find_by_email(org, "ada@example.com") is None


def test_another_tenants_user_is_404(admin_client, other_org, make_user):
    theirs = make_user(other_org, "ada@example.com")
    assert admin_client.get(f"{T}/users/{theirs.id}/remove").status_code == 404
    assert post(admin_client, f"{T}/users/{theirs.id}/disable").status_code == 404
    assert service.get(other_org, theirs.id).status == "active"


def test_a_page_acts_for_the_signed_in_admin_whatever_bearer_token_comes_with_it(admin_client, org, other_org,
                                                                                 org_admin, make_user, make_token):
    from privacy_saas.audit.models import AuditEntry
    from privacy_saas.extensions import db

    make_user(org, "ours@example.com")
    make_user(other_org, "theirs@example.com")
    theirs = bearer(make_token(other_org))
    html = admin_client.get(f"{T}/users", headers=theirs).get_data(as_text=True)
    assert "ours@example.com" in html and "theirs@example.com" not in html
    response = admin_client.post(f"{T}/users/new", headers=theirs, data={
        "csrf_token": form_token(admin_client, f"{T}/users/new"), "email": "new@example.com", "role": "member"})
    assert response.status_code == 201
    db.session.expire_all()
    assert service.find_by_email(org, "new@example.com") is not None
    assert service.find_by_email(other_org, "new@example.com") is None
    created = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "user.create",
                                                             AuditEntry.tenant_id == org.id)).all()
    assert [(e.actor_kind, e.actor_id) for e in created][-1] == ("tenant_admin", str(org_admin.id))


def test_tokens_create_once_and_revoke(admin_client, client, org):
    response = post(admin_client, f"{T}/tokens", {"name": "okta"}, page=f"{T}/tokens")
    assert response.status_code == 201
    token = re.search(r'id="new-token">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert token not in admin_client.get(f"{T}/tokens").get_data(as_text=True)
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    token_id = re.search(r'/console/t/tokens/([0-9a-f-]+)/revoke', admin_client.get(f"{T}/tokens").get_data(as_text=True)).group(1)
    assert post(admin_client, f"{T}/tokens/{token_id}/revoke", page=f"{T}/tokens").status_code == 302
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 401


def test_member_can_sign_in_but_not_manage(client, session, org, org_admin, make_user):
    make_user(org, "member@example.com", password=PASSWORD)
    assert sign_in(client, email="member@example.com").status_code == 302
    assert "Only administrators" in client.get(f"{T}/").get_data(as_text=True)
    assert client.get(f"{T}/users").status_code == 403


def test_ended_tenant_admins_read_members_cannot_sign_in(client, session, org, org_admin, make_user):
    make_user(org, "member@example.com", password=PASSWORD)
    org.end_contract()
    session.commit()
    assert sign_in(client, email="member@example.com").status_code == 401
    assert sign_in(client).status_code == 302
    assert client.get(f"{T}/users").status_code == 200
    response = post(client, f"{T}/users/new", {"email": "x@example.com", "role": "member"}, page=f"{T}/users/new")
    assert response.status_code == 403


def invite(org, user):
    return invitations.invite_user(org, user, actor=("test", None)).url.rsplit("/", 1)[1]


def test_invitation_is_one_time(client, session, org, make_user):
    user = make_user(org, "ada@example.com")
    secret = invite(org, user)
    session.commit()
    url = f"{T}/set-password/{secret}"
    token = form_token(client, url)
    response = client.post(url, data={"csrf_token": token, "password": "a new long password", "confirm": "a new long password"})
    assert response.status_code == 302
    assert sign_in(client, email="ada@example.com", password="a new long password").status_code == 302
    assert client.get(url).status_code == 404
    with pytest.raises(service.NotFound):
        invitations.set_password(secret, "another long password")


def test_invitation_expires_after_72_hours(client, session, org, make_user):
    user = make_user(org, "ada@example.com")
    secret = invite(org, user)
    session.commit()
    clock.advance(timedelta(hours=71))
    assert client.get(f"{T}/set-password/{secret}").status_code == 200
    clock.advance(timedelta(hours=2))
    assert client.get(f"{T}/set-password/{secret}").status_code == 404


def test_new_invitation_supersedes_the_old_one_and_only_a_hash_is_stored(session, org, make_user):
    from privacy_saas.processor.users.models import UserInvitation

    user = make_user(org, "ada@example.com")
    first = invite(org, user)
    second = invite(org, user)
    with pytest.raises(service.NotFound):
        invitations.find_invitation(first)
    assert invitations.find_invitation(second)[1].id == user.id
    stored = session.query(UserInvitation).all()
    assert all(first.encode() not in row.token_hash and len(row.token_hash) == 32 for row in stored)


def test_short_password_is_refused(client, session, org, make_user):
    user = make_user(org, "ada@example.com")
    secret = invite(org, user)
    session.commit()
    url = f"{T}/set-password/{secret}"
    response = client.post(url, data={"csrf_token": form_token(client, url), "password": "short", "confirm": "short"})
    assert response.status_code == 400
    assert client.get(url).status_code == 200  # still usable
