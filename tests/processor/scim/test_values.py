"""Values an identity provider may send that the server must not take as sent: text that is no address in
`emails`, two primary values, a manager cleared with "", a userName cleared. What is stored and returned."""
import uuid

from privacy_saas.extensions import db
from privacy_saas.processor.users import service
from tests.helpers import bearer

BASE = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def call(client, token, method, path, **kwargs):
    return getattr(client, method)(BASE + path, headers=bearer(token), **kwargs)


def ops(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def stored(org, user_id):
    db.session.expire_all()
    return service.get(org, uuid.UUID(user_id))


def test_text_that_is_no_address_is_kept_as_sent_but_never_becomes_the_users_e_mail(client, org, org_token):
    body = {"schemas": [USER], "userName": "kim",
            "emails": [{"value": "SMTP:kim", "type": "work", "primary": True},
                       {"value": "kim@contoso.example", "type": "other"}]}
    response = call(client, org_token, "post", "/Users", json=body)
    assert response.status_code == 201, response.json
    # Returned and stored as the identity provider sent it...
    assert [e["value"] for e in response.json["emails"]] == ["SMTP:kim", "kim@contoso.example"]
    user = stored(org, response.json["id"])
    # ...but the product writes only to an address: the other e-mail, not the primary text.
    assert user.email == "kim@contoso.example"
    # With no address at all (and a userName that is none), the user has no product e-mail.
    response = call(client, org_token, "post", "/Users", json={
        "schemas": [USER], "userName": "lee", "emails": [{"value": "not an address", "type": "work"}]})
    assert response.status_code == 201, response.json
    user = stored(org, response.json["id"])
    assert user.email is None and user.email_bidx is None
    assert user.emails == [{"value": "not an address", "type": "work"}]


def test_two_primary_values_in_a_whole_list_are_refused_and_nothing_is_stored(client, org, org_token):
    body = {"schemas": [USER], "userName": "two@contoso.example",
            "emails": [{"value": "a@contoso.example", "primary": True},
                       {"value": "b@contoso.example", "primary": True}]}
    response = call(client, org_token, "post", "/Users", json=body)
    assert response.status_code == 400
    assert response.json["schemas"] == [ERROR] and response.json["scimType"] == "invalidValue"
    assert "primary" in response.json["detail"]
    assert service.find_by_user_name(org, "two@contoso.example") is None
    # A PATCH that marks a new primary demotes the old one (RFC 7644 §3.5.2): not an error.
    created = call(client, org_token, "post", "/Users", json={**body, "emails": body["emails"][:1]}).json
    response = call(client, org_token, "patch", f"/Users/{created['id']}", json=ops(
        {"op": "add", "path": "emails", "value": [{"value": "b@contoso.example", "primary": True}]}))
    assert response.status_code == 200, response.json
    assert [(e["value"], e.get("primary")) for e in response.json["emails"]] == [
        ("a@contoso.example", False), ("b@contoso.example", True)]
    assert stored(org, created["id"]).email == "b@contoso.example"


def test_a_manager_replaced_with_an_empty_id_is_cleared(client, org, org_token):
    boss = call(client, org_token, "post", "/Users", json={"schemas": [USER], "userName": "boss@contoso.example"}).json
    user = call(client, org_token, "post", "/Users", json={
        "schemas": [USER, ENTERPRISE], "userName": "kai@contoso.example",
        ENTERPRISE: {"department": "Sales", "manager": {"value": boss["id"]}}}).json
    assert user[ENTERPRISE]["manager"] == {"value": boss["id"]}
    for value in ("", {"value": ""}):
        response = call(client, org_token, "patch", f"/Users/{user['id']}", json=ops(
            {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": value}))
        assert response.status_code == 200, response.json
        assert response.json[ENTERPRISE] == {"department": "Sales"}
        assert stored(org, user["id"]).enterprise == {"department": "Sales"}
        call(client, org_token, "patch", f"/Users/{user['id']}", json=ops(
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}))


def test_clearing_the_user_name_is_refused_in_scim_words(client, org, org_token):
    user = call(client, org_token, "post", "/Users", json={"schemas": [USER], "userName": "sam@contoso.example"}).json
    for operation, scim_type, detail in (
            ({"op": "replace", "path": "userName", "value": ""}, "invalidValue", "userName is required"),
            ({"op": "replace", "value": {"userName": "  "}}, "invalidValue", "userName is required"),
            # Removing a required attribute (RFC 7644 §3.5.2.2).
            ({"op": "remove", "path": "userName"}, "mutability", "userName is required and cannot be removed")):
        response = call(client, org_token, "patch", f"/Users/{user['id']}", json=ops(operation))
        assert response.status_code == 400, operation
        assert (response.json["scimType"], response.json["detail"]) == (scim_type, detail)
        assert stored(org, user["id"]).user_name == "sam@contoso.example"
