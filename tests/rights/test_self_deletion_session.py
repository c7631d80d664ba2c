"""A registered user signed in to the console deletes their own account (where the tenant allows it)."""
import sqlalchemy as sa

from privacy_saas.processor.users.models import RegisteredUser
from tests.console.test_tenant_views import T, sign_in
from tests.helpers import PASSWORD, form_token


def test_member_deletes_own_account_by_session(client, session, org, org_admin, make_user):
    org.self_service_deletion = True
    session.commit()
    member_id = make_user(org, "member@acme.example", password=PASSWORD).id
    assert sign_in(client, email="member@acme.example").status_code == 302
    token = form_token(client, f"{T}/")
    assert client.post("/api/v1/me/deletion").status_code == 400  # the session cookie needs its CSRF token
    response = client.post("/api/v1/me/deletion", headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.json
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)
                          .where(RegisteredUser.id == member_id)) == 0


def test_member_request_is_queued_where_not_allowed(client, session, org, org_admin, make_user):
    member = make_user(org, "member@acme.example", password=PASSWORD)
    assert sign_in(client, email="member@acme.example").status_code == 302
    token = form_token(client, f"{T}/")
    response = client.post("/api/v1/me/deletion", headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.json
    session.expire_all()
    assert session.get(RegisteredUser, (org.id, member.id)) is not None
