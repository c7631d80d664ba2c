"""SCIM behaviour that identity providers rely on, isolation, and bad input."""
import uuid

import pytest
import sqlalchemy as sa

from privacy_saas.processor.users import service
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import bearer

BASE = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def scim(client, org_token):
    """Call the SCIM API as the org's token: scim("get", "/Users", json=...)."""
    def call(method, path, token=None, **kwargs):
        return getattr(client, method)(BASE + path, headers={**bearer(token or org_token), **kwargs.pop("headers", {})},
                                       **kwargs)
    return call


def new_user(scim, user_name="ada@example.com", **extra):
    response = scim("post", "/Users", json={"schemas": [USER], "userName": user_name, **extra})
    assert response.status_code == 201, response.json
    return response.json


def patch(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def filter_users(scim, text, token=None):
    response = scim("get", "/Users", token=token, query_string={"filter": text})
    assert response.status_code == 200, response.json
    return response.json


def test_create_read_and_media_type(scim, session, org):
    body = new_user(scim, "Ada@Example.com", externalId="okta-1", displayName="Ada Lovelace",
                    name={"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
                    emails=[{"value": "other@example.com", "type": "work", "primary": True}],
                    password="ignored-for-scim-users")
    response = scim("get", f"/Users/{body['id']}")
    assert response.status_code == 200 and response.mimetype == "application/scim+json"
    assert response.json["userName"] == "Ada@Example.com" and response.json["externalId"] == "okta-1"
    assert response.json["name"] == {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"}
    assert response.json["emails"] == [{"value": "other@example.com", "type": "work", "primary": True}]
    assert response.headers["ETag"] == response.json["meta"]["version"] == 'W/"1"'
    assert response.json["meta"]["location"] == f"http://localhost{BASE}/Users/{body['id']}"
    user = service.get(org, uuid.UUID(body["id"]))
    assert user.password_hash is None  # SCIM users sign in through their identity provider


def test_unknown_user_filter_is_empty_200(scim, org):
    body = filter_users(scim, 'userName eq "nobody@example.com"')
    assert body["totalResults"] == 0 and body["Resources"] == []
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


def test_filters(scim, org):
    ada = new_user(scim, "ada@example.com", externalId="e-ada")
    bob = new_user(scim, "bob@example.com", externalId="e-bob", active=False,
                   emails=[{"value": "bob@example.com", "type": "work"}])
    new_user(scim, "carol@example.com")

    def ids(text):
        return sorted(r["id"] for r in filter_users(scim, text)["Resources"])

    assert ids('userName eq "ADA@example.com"') == [ada["id"]]
    assert ids('emails.value eq "bob@example.com"') == [bob["id"]]
    assert ids('emails[type eq "work"].value eq "bob@example.com"') == [bob["id"]]
    assert ids('externalId eq "e-ada"') == [ada["id"]]
    assert ids("active eq false") == [bob["id"]]
    assert ids('userName eq "ada@example.com" or userName eq "bob@example.com"') == sorted([ada["id"], bob["id"]])
    assert ids('externalId eq "e-bob" and active eq false') == [bob["id"]]
    assert ids('(userName eq "ada@example.com" or externalId eq "e-bob") and active eq true') == [ada["id"]]
    assert ids('USERNAME EQ "ada@example.com"') == [ada["id"]]
    assert ids(f'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@example.com"') == [ada["id"]]


@pytest.mark.parametrize("text", [
    'userName eq', "userName eq 'x'", 'userName co "ada"', 'displayName eq "Ada"', 'nonsense',
    'userName eq "a" or userName eq "b" and active eq true', "x" * 1001,
])
def test_invalid_filters_are_400_invalid_filter(scim, org, text):
    response = scim("get", "/Users", query_string={"filter": text})
    assert response.status_code == 400
    assert response.json["schemas"] == [ERROR] and response.json["scimType"] == "invalidFilter"
    assert response.json["status"] == "400"


def test_username_filter_uses_the_blind_index_not_decryption(scim, org, make_user, monkeypatch):
    from privacy_saas.crypto.envelope import FieldCipher

    for n in range(20):
        make_user(org, f"user{n}@example.com")
    opened = []
    original = FieldCipher.open
    monkeypatch.setattr(FieldCipher, "open", lambda self, *a, **k: opened.append(1) or original(self, *a, **k))
    body = filter_users(scim, 'userName eq "user7@example.com"')
    assert body["totalResults"] == 1
    assert len(opened) <= 4  # only the one match is decrypted, to render it


def test_patch_variants_idps_send(scim, session, org):
    user = new_user(scim, "ada@example.com", displayName="Ada")
    url = f"/Users/{user['id']}"
    # Entra ID: capitalised op, string booleans.
    response = scim("patch", url, json=patch({"op": "Replace", "path": "active", "value": "False"}))
    assert response.status_code == 200 and response.json["active"] is False
    response = scim("patch", url, json=patch({"op": "replace", "path": "active", "value": "True"}))
    assert response.json["active"] is True
    # Okta: no path, a value object.
    response = scim("patch", url, json=patch({"op": "replace", "value": {"active": False, "displayName": "Ada L."}}))
    assert response.json["active"] is False and response.json["displayName"] == "Ada L."
    # Sub-attribute paths, with and without path.
    response = scim("patch", url, json=patch({"op": "Add", "path": "name.givenName", "value": "Ada"},
                                             {"op": "add", "value": {"name.familyName": "Lovelace"}}))
    assert response.json["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    response = scim("patch", url, json=patch({"op": "remove", "path": "displayName"}))
    assert "displayName" not in response.json
    # A value-filter path creates the work e-mail the user lacks; the extension is stored.
    response = scim("patch", url, json=patch(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x@example.com"},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
         "value": "R&D"}))
    assert response.status_code == 200 and response.json["userName"] == "ada@example.com"
    assert response.json["emails"] == [{"type": "work", "value": "x@example.com"}]
    assert response.json[ENTERPRISE] == {"department": "R&D"}
    assert response.json["schemas"] == [USER, ENTERPRISE]
    assert response.json["meta"]["version"] == response.headers["ETag"]


@pytest.mark.parametrize("body,scim_type", [
    ({"schemas": [PATCH]}, "invalidSyntax"),
    (patch({"op": "merge", "path": "active", "value": True}), "invalidSyntax"),
    (patch({"op": "replace", "path": "active", "value": "maybe"}), "invalidValue"),
    (patch({"op": "remove"}), "noTarget"),
    (patch({"op": "remove", "path": "userName"}), "mutability"),
    (patch({"op": "replace", "path": "displayName", "value": "x" * 201}), "invalidValue"),
])
def test_bad_patch_is_400_and_changes_nothing(scim, session, org, body, scim_type):
    user = new_user(scim, "ada@example.com", displayName="Ada")
    session.commit()
    response = scim("patch", f"/Users/{user['id']}", json=body)
    assert response.status_code == 400 and response.json["scimType"] == scim_type
    session.expire_all()
    stored = session.get(RegisteredUser, (org.id, uuid.UUID(user["id"])))
    assert stored.display_name == "Ada" and stored.version == 1


def test_active_false_disables_and_delete_removes(scim, session, org):
    user = new_user(scim, "ada@example.com")
    url = f"/Users/{user['id']}"
    scim("patch", url, json=patch({"op": "replace", "path": "active", "value": False}))
    response = scim("get", url)
    assert response.status_code == 200 and response.json["active"] is False
    assert service.get(org, uuid.UUID(user["id"])).status == "disabled"
    assert scim("delete", url).status_code == 204
    response = scim("get", url)
    assert response.status_code == 404 and response.json["schemas"] == [ERROR]


def test_put_replaces(scim, org):
    user = new_user(scim, "ada@example.com", displayName="Ada", externalId="e1")
    response = scim("put", f"/Users/{user['id']}", json={"schemas": [USER], "userName": "ada.l@example.com",
                                                         "active": True, "name": {"givenName": "Ada"}})
    assert response.status_code == 200
    assert response.json["userName"] == "ada.l@example.com" and "displayName" not in response.json
    assert "externalId" not in response.json
    assert filter_users(scim, 'userName eq "ada.l@example.com"')["totalResults"] == 1


def test_uniqueness_is_409(scim, org):
    new_user(scim, "ada@example.com", externalId="e1")
    for body in ({"userName": "ADA@example.com"}, {"userName": "other@example.com", "externalId": "e1"}):
        response = scim("post", "/Users", json={"schemas": [USER], **body})
        assert response.status_code == 409 and response.json["scimType"] == "uniqueness"


def test_etag_if_match(scim, org):
    user = new_user(scim, "ada@example.com")
    url = f"/Users/{user['id']}"
    response = scim("patch", url, headers={"If-Match": 'W/"7"'}, json=patch({"op": "replace", "path": "displayName", "value": "x"}))
    assert response.status_code == 412
    response = scim("patch", url, headers={"If-Match": 'W/"1"'}, json=patch({"op": "replace", "path": "displayName", "value": "x"}))
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"2"'
    assert scim("get", url, headers={"If-None-Match": 'W/"2"'}).status_code == 304


def test_attributes_and_paging(scim, org):
    for n in range(5):
        new_user(scim, f"u{n}@example.com", displayName=f"U{n}", externalId=f"e{n}")
    body = scim("get", "/Users", query_string={"startIndex": 2, "count": 2, "attributes": "userName,name.givenName"}).json
    assert body["totalResults"] == 5 and body["startIndex"] == 2 and body["itemsPerPage"] == 2
    assert set(body["Resources"][0]) == {"schemas", "id", "userName"}
    assert body["Resources"][0]["userName"] == "u1@example.com"
    body = scim("get", "/Users", query_string={"excludedAttributes": "emails,meta,displayName"}).json
    assert not {"emails", "meta", "displayName"} & set(body["Resources"][0])
    body = scim("post", "/Users/.search", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                               "filter": 'externalId eq "e3"', "attributes": ["externalId"]}).json
    assert body["totalResults"] == 1 and body["Resources"][0]["externalId"] == "e3"
    assert scim("get", "/Users", query_string={"count": 0}).json["Resources"] == []


def test_discovery(scim):
    assert scim("get", "/ServiceProviderConfig").json["patch"]["supported"] is True
    assert {r["id"] for r in scim("get", "/ResourceTypes").json["Resources"]} == {"User", "Group"}
    assert {s["id"] for s in scim("get", "/Schemas").json["Resources"]} == {USER, GROUP, ENTERPRISE}
    assert scim("get", f"/Schemas/{USER}").status_code == 200
    user_type = scim("get", "/ResourceTypes/User").json
    assert user_type["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    enterprise = {a["name"]: a for a in scim("get", f"/Schemas/{ENTERPRISE}").json["attributes"]}
    assert set(enterprise) == {"employeeNumber", "costCenter", "organization", "division", "department", "manager"}
    core = {a["name"]: a for a in scim("get", f"/Schemas/{USER}").json["attributes"]}
    assert core["emails"]["mutability"] == "readWrite"
    assert {"title", "phoneNumbers", "addresses", "preferredLanguage", "nickName"} <= set(core)
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        for method in ("post", "put", "patch", "delete"):
            response = scim(method, path, json={})
            assert response.status_code == 405 and response.json["schemas"] == [ERROR]
    # A method a resource endpoint lacks is 405 with what it allows, not the catch-all's 404.
    user = new_user(scim)
    for method, path, allow in (("put", "/Users", "GET, POST"), ("delete", "/Groups", "GET, POST"),
                                ("post", f"/Users/{user['id']}", "DELETE, GET, PATCH, PUT"),
                                ("get", "/Users/.search", "POST")):
        response = scim(method, path, json={})
        assert response.status_code == 405, (method, path)
        assert response.json["schemas"] == [ERROR] and response.headers["Allow"] == allow
    assert scim("get", f"/Users/{user['id']}").json["id"] == user["id"]  # nothing changed
    response = scim("get", f"/Schemas/{uuid.uuid4()}")
    assert response.status_code == 404 and response.json["schemas"] == [ERROR]
    assert scim("get", f"/{uuid.uuid4()}").status_code == 404


def test_auth(client, session, staff_token):
    session.commit()
    response = client.get(f"{BASE}/Users")
    assert response.status_code == 401 and response.json["schemas"] == [ERROR]
    assert client.get(f"{BASE}/Users", headers=bearer("pst_nope")).status_code == 401
    assert client.get(f"{BASE}/Users", headers=bearer(staff_token)).status_code == 403


def test_admins_group_maps_to_role(scim, org, make_user):
    first = make_user(org, "first@example.com", role="admin")
    member = new_user(scim, "member@example.com")
    groups = scim("get", "/Groups", query_string={"filter": 'displayName eq "admins"'}).json
    assert groups["totalResults"] == 1
    admins = groups["Resources"][0]
    assert [m["value"] for m in admins["members"]] == [str(first.id)]
    url = f"/Groups/{admins['id']}"
    response = scim("patch", url, json=patch({"op": "add", "path": "members", "value": [{"value": member["id"]}]}))
    assert response.status_code == 200
    assert service.get(org, uuid.UUID(member["id"])).role == "admin"
    assert any(g["display"] == "admins" for g in scim("get", f"/Users/{member['id']}").json["groups"])
    response = scim("patch", url, json=patch({"op": "remove", "path": f'members[value eq "{member["id"]}"]'}))
    assert response.status_code == 200 and service.get(org, uuid.UUID(member["id"])).role == "member"
    response = scim("patch", url, json=patch({"op": "remove", "path": "members"}))
    assert response.status_code == 409  # the last admin
    assert scim("delete", url).status_code == 400
    response = scim("post", "/Groups", json={"schemas": [GROUP], "displayName": "Admins"})
    assert response.status_code == 409 and response.json["scimType"] == "uniqueness"


def test_groups_crud_and_members(scim, org):
    ada = new_user(scim, "ada@example.com")
    bob = new_user(scim, "bob@example.com")
    response = scim("post", "/Groups", json={"schemas": [GROUP], "displayName": "Engineering",
                                             "members": [{"value": ada["id"]}]})
    assert response.status_code == 201
    group = response.json
    url = f"/Groups/{group['id']}"
    # Entra removes members with a value list on the members path.
    scim("patch", url, json=patch({"op": "Add", "path": "members", "value": [{"value": bob["id"]}]}))
    response = scim("patch", url, json=patch({"op": "Remove", "path": "members", "value": [{"value": ada["id"]}]}))
    assert [m["value"] for m in response.json["members"]] == [bob["id"]]
    found = scim("get", "/Groups", query_string={"filter": f'members[value eq "{bob["id"]}"]'}).json
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    assert scim("delete", f"/Users/{bob['id']}").status_code == 204
    assert "members" not in scim("get", url).json
    assert scim("delete", url).status_code == 204
    assert scim("get", url).status_code == 404


def test_isolation_between_tenant_tokens(scim, session, org, other_org, org_token, other_token):
    theirs = new_user(scim, "ada@example.com", externalId="e1")
    their_group = scim("post", "/Groups", json={"schemas": [GROUP], "displayName": "G"}).json
    session.commit()
    user_url, group_url = f"/Users/{theirs['id']}", f"/Groups/{their_group['id']}"
    for method, path, body in (("get", user_url, None), ("put", user_url, {"userName": "x@example.com"}),
                               ("patch", user_url, patch({"op": "replace", "path": "active", "value": False})),
                               ("delete", user_url, None), ("get", group_url, None),
                               ("patch", group_url, patch({"op": "replace", "path": "displayName", "value": "x"})),
                               ("put", group_url, {"displayName": "x"}), ("delete", group_url, None)):
        response = scim(method, path, token=other_token, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json["schemas"] == [ERROR]
    assert filter_users(scim, 'userName eq "ada@example.com"', token=other_token)["totalResults"] == 0
    assert filter_users(scim, 'externalId eq "e1"', token=other_token)["totalResults"] == 0
    assert scim("get", "/Users", token=other_token).json["totalResults"] == 0
    # The other tenant may use the same userName and externalId: nothing leaks through uniqueness.
    assert scim("post", "/Users", token=other_token,
                json={"schemas": [USER], "userName": "ada@example.com", "externalId": "e1"}).status_code == 201
    # Another tenant's user cannot be made a member (same answer as an unknown id).
    response = scim("post", "/Groups", token=other_token,
                    json={"schemas": [GROUP], "displayName": "X", "members": [{"value": theirs["id"]}]})
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    session.expire_all()
    assert session.get(RegisteredUser, (org.id, uuid.UUID(theirs["id"]))).status == "active"


def test_bad_bodies_are_400_or_413_and_write_nothing(scim, client, org, org_token, session):
    response = client.post(f"{BASE}/Users", data="{oops", content_type="application/scim+json",
                           headers=bearer(org_token))
    assert response.status_code == 400 and response.json["scimType"] == "invalidSyntax"
    for body in ({"schemas": [USER]}, {"userName": 42}, {"userName": "x" * 300},
                 {"userName": "a@example.com", "displayName": "x" * 201}, {"userName": "a@example.com", "active": "yes"}):
        response = scim("post", "/Users", json=body)
        assert response.status_code == 400 and response.json["scimType"] == "invalidValue", body
    response = scim("post", "/Users", json={"userName": "a@example.com", "displayName": "x" * 300_000})
    assert response.status_code == 413 and response.json["schemas"] == [ERROR]
    assert session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)) == 0


def test_ended_tenant_refuses_scim_writes(scim, session, org):
    user = new_user(scim, "ada@example.com")
    org.end_contract()
    session.commit()
    response = scim("post", "/Users", json={"schemas": [USER], "userName": "b@example.com"})
    assert response.status_code == 403 and response.json["schemas"] == [ERROR]
    response = scim("patch", f"/Users/{user['id']}", json=patch({"op": "replace", "path": "active", "value": False}))
    assert response.status_code == 403
    assert scim("get", f"/Users/{user['id']}").status_code == 200
