"""JSON API over registered users: CRUD, pagination, filters, isolation, bad input, import."""
import json
import uuid

import pytest
import sqlalchemy as sa

from privacy_saas.processor.users import service
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import bearer

URL = "/api/v1/users"


def count(session):
    return session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser))


def test_create_read_update_delete(client, session, org, org_token):
    response = client.post(URL, json={"email": "ada@example.com", "display_name": "Ada Lovelace",
                                       "given_name": "Ada", "family_name": "Lovelace", "role": "member"},
                           headers=bearer(org_token))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["email"] == "ada@example.com" and body["status"] == "active" and body["has_password"] is False
    assert body["invitation"]["url"].startswith("http://localhost/console/t/set-password/")
    user_id = body["id"]
    response = client.get(f"{URL}/{user_id}", headers=bearer(org_token))
    assert response.status_code == 200 and response.json["display_name"] == "Ada Lovelace"
    assert response.json["invitation"] is None
    response = client.patch(f"{URL}/{user_id}", json={"display_name": "Ada L.", "status": "disabled"},
                            headers=bearer(org_token))
    assert response.status_code == 200
    assert response.json["display_name"] == "Ada L." and response.json["status"] == "disabled"
    assert response.json["disabled_at"] is not None
    response = client.delete(f"{URL}/{user_id}", headers=bearer(org_token))
    assert response.status_code == 204
    assert client.get(f"{URL}/{user_id}", headers=bearer(org_token)).status_code == 404


def test_create_with_password_sends_no_invitation(client, org, org_token):
    response = client.post(URL, json={"email": "ada@example.com", "password": "a long enough password"},
                           headers=bearer(org_token))
    assert response.status_code == 201
    assert response.json["has_password"] is True and response.json["invitation"] is None
    assert "password" not in response.json


def test_duplicate_email_is_409(client, org, org_token, make_user):
    make_user(org, "ada@example.com")
    response = client.post(URL, json={"email": "ADA@example.com"}, headers=bearer(org_token))
    assert response.status_code == 409 and response.json["code"] == "user_exists"


def test_list_paginates_and_filters(client, org, org_token, make_user, other_org):
    for n in range(7):
        make_user(org, f"m{n}@example.com")
    make_user(org, "boss@example.com", role="admin")
    make_user(other_org, "m0@example.com")
    service.disable(org, service.find_by_email(org, "m3@example.com"))
    response = client.get(f"{URL}?page=2&page_size=3", headers=bearer(org_token))
    assert response.status_code == 200 and len(response.json) == 3
    meta = json.loads(response.headers["X-Pagination"])
    assert meta["total"] == 8 and meta["total_pages"] == 3 and meta["page"] == 2
    assert [u["email"] for u in client.get(f"{URL}?role=admin", headers=bearer(org_token)).json] == ["boss@example.com"]
    assert [u["email"] for u in client.get(f"{URL}?status=disabled", headers=bearer(org_token)).json] == ["m3@example.com"]
    found = client.get(f"{URL}?email=M0@example.com", headers=bearer(org_token)).json
    assert len(found) == 1 and found[0]["email"] == "m0@example.com"
    assert client.get(f"{URL}?email=nobody@example.com", headers=bearer(org_token)).json == []


def test_undecryptable_record_is_marked_not_fatal(client, session, org, org_token, make_user):
    good = make_user(org, "good@example.com")
    bad = make_user(org, "bad@example.com")
    other = make_user(org, "other@example.com")
    bad.email_ct = other.email_ct  # a ciphertext moved to another row no longer decrypts (AAD)
    session.commit()
    good, bad = str(good.id), str(bad.id)
    session.expunge_all()
    response = client.get(URL, headers=bearer(org_token))
    assert response.status_code == 200
    by_id = {u["id"]: u for u in response.json}
    assert by_id[bad]["error"] == "undecryptable" and "email" not in by_id[bad]
    assert by_id[good]["email"] == "good@example.com" and "error" not in by_id[good]


def test_tenant_isolation_for_every_verb(client, session, org, other_org, org_token, other_token, make_user):
    theirs = make_user(other_org, "ada@example.com", display_name="Theirs")
    make_user(org, "mine@example.com")
    url = f"{URL}/{theirs.id}"
    assert client.get(url, headers=bearer(org_token)).status_code == 404
    assert client.patch(url, json={"display_name": "x"}, headers=bearer(org_token)).status_code == 404
    assert client.delete(url, headers=bearer(org_token)).status_code == 404
    assert client.get(f"{URL}?email=ada@example.com", headers=bearer(org_token)).json == []
    assert [u["email"] for u in client.get(URL, headers=bearer(org_token)).json] == ["mine@example.com"]
    # Same e-mail in my tenant is fine: uniqueness never reveals the other tenant.
    assert client.post(URL, json={"email": "ada@example.com"}, headers=bearer(org_token)).status_code == 201
    session.expire_all()
    assert session.get(RegisteredUser, (other_org.id, theirs.id)).display_name == "Theirs"
    assert client.get(f"{URL}/{uuid.uuid4()}", headers=bearer(org_token)).status_code == 404
    assert client.get(f"{URL}/not-a-uuid", headers=bearer(org_token)).status_code == 404


def test_staff_token_and_no_token_are_refused(client, session, staff_token):
    session.commit()
    assert client.get(URL, headers=bearer(staff_token)).status_code == 403
    assert client.get(URL).status_code == 401


def test_revoked_token_is_refused(client, org, org_token):
    from privacy_saas.processor.users.tokens import list_tokens, revoke_token

    revoke_token(org, list_tokens(org)[0].id, actor=("test", None))
    assert client.get(URL, headers=bearer(org_token)).status_code == 401


@pytest.mark.parametrize("body,field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": "x@example.com", "display_name": "x" * 201}, "display_name"),
    ({"email": "x@example.com", "role": "owner"}, "role"),
    ({"email": "x@example.com", "password": "short"}, "password"),
    ({"email": "x@example.com", "tenant_id": str(uuid.uuid4())}, "tenant_id"),
    ({}, "email"),
])
def test_bad_input_is_400_with_field_errors_and_nothing_written(client, session, org, org_token, body, field):
    response = client.post(URL, json=body, headers=bearer(org_token))
    assert response.status_code == 400, response.json
    assert response.json["code"] == "invalid_input" and field in response.json["errors"]
    assert count(session) == 0


def test_malformed_json_is_400(client, session, org, org_token):
    response = client.post(URL, data="{not json", content_type="application/json", headers=bearer(org_token))
    assert response.status_code == 400
    assert count(session) == 0


def test_bad_patch_changes_nothing(client, session, org, org_token, make_user):
    user = make_user(org, "ada@example.com", display_name="Ada")
    response = client.patch(f"{URL}/{user.id}", json={"display_name": "ok", "role": "owner"},
                            headers=bearer(org_token))
    assert response.status_code == 400 and "role" in response.json["errors"]
    session.expire_all()
    assert session.get(RegisteredUser, (org.id, user.id)).display_name == "Ada"


def test_oversized_body_is_413_json(client, session, org, org_token):
    response = client.post(URL, json={"email": "x@example.com", "display_name": "x" * 100_000},
                           headers=bearer(org_token))
    assert response.status_code == 413
    assert response.json["status"] == 413
    assert count(session) == 0


def test_last_admin_rule_over_the_api(client, org, org_admin, org_token):
    url = f"{URL}/{org_admin.id}"
    for response in (client.patch(url, json={"role": "member"}, headers=bearer(org_token)),
                     client.patch(url, json={"status": "disabled"}, headers=bearer(org_token)),
                     client.delete(url, headers=bearer(org_token))):
        assert response.status_code == 409 and response.json["code"] == "last_admin"


def test_ended_tenant_is_403_on_writes_and_readable(client, session, org, org_token, make_user):
    user = make_user(org, "ada@example.com")
    org.end_contract()
    session.commit()
    assert client.get(URL, headers=bearer(org_token)).status_code == 200
    for response in (client.post(URL, json={"email": "b@example.com"}, headers=bearer(org_token)),
                     client.patch(f"{URL}/{user.id}", json={"display_name": "x"}, headers=bearer(org_token)),
                     client.delete(f"{URL}/{user.id}", headers=bearer(org_token)),
                     client.post(f"{URL}/import", data="c@example.com,C,member\n", content_type="text/csv",
                                 headers=bearer(org_token))):
        assert response.status_code == 403 and response.json["code"] == "tenant_ended"


def test_import_over_the_api(client, session, org, org_token, make_user):
    make_user(org, "exists@example.com")
    body = "email,name,role\nnew@example.com,New,admin\nbad,Bad,member\nexists@example.com,E,member\n"
    response = client.post(f"{URL}/import", data=body, content_type="text/csv", headers=bearer(org_token))
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["unchanged"], response.json["rejected"]) == (1, 1, 1)
    assert response.json["errors"] == [{"line": 3, "code": "invalid_input",
                                        "errors": {"email": ["not a valid e-mail address"]}}]
    assert len(response.json["invitations"]) == 1
    assert service.find_by_email(org, "new@example.com").role == "admin"


def test_import_needs_csv_content_type(client, org, org_token):
    response = client.post(f"{URL}/import", data="a@example.com,A,member\n", content_type="text/plain",
                           headers=bearer(org_token))
    assert response.status_code == 415


def test_openapi_lists_user_endpoints(client):
    paths = client.get("/api/openapi.json").json["paths"]
    assert {"/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/users/import"} <= set(paths)


def test_a_token_is_loaded_with_its_tenant(session, org, org_token):
    from privacy_saas.auth import tokens

    org_id = org.id
    session.expunge_all()
    token = tokens.resolve(org_token)
    # Joined with the token: a tenant request needs no second query for its tenant.
    assert "tenant" in sa.inspect(token).dict and token.tenant.id == org_id


def test_duplicate_external_id_is_409_and_nothing_written(client, session, org, org_token, make_user):
    make_user(org, "first@example.com", external_id="idp-7")
    before = session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser))
    response = client.post("/scim/v2/Users", headers=bearer(org_token),
                           json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                 "userName": "second@example.com", "externalId": "idp-7"})
    assert response.status_code == 409 and response.json["scimType"] == "uniqueness"
    assert "external id" in response.json["detail"]
    assert session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)) == before
