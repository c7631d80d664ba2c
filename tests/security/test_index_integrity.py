"""Blind-index look-ups confirm the decrypted value: swapped index values never hand out another person's row.

Someone with write access to the database (not to the keys) swaps the e-mail index of two rows; every
look-up by e-mail must then find nothing rather than the other person.
"""
import logging

import pytest

from privacy_saas.processor.users import service as users
from privacy_saas.processor.users import signin
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights import service as rights
from tests.helpers import PASSWORD, bearer, swap_indexes

SCIM = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def swapped(session, org, make_user, caplog):
    """Ada and Bob of the org, their e-mail indexes swapped in the database."""
    ada = make_user(org, "ada@example.com", role="admin", password=PASSWORD, display_name="Ada")
    bob = make_user(org, "bob@example.com", password="bob's own password!", display_name="Bob")
    swap_indexes(session, RegisteredUser, ada, bob, tenant_id=org.id)
    caplog.set_level(logging.ERROR, logger="privacy_saas.processor.users.service")
    return ada, bob


def test_service_look_ups_find_nobody(session, org, swapped, caplog):
    ada, bob = swapped
    assert users.find_by_email(org, "ada@example.com") is None
    assert users.find_by_email(org, "bob@example.com") is None
    assert users.list_for(org, email="ada@example.com") == ([], 0)
    # Neither person can be signed in as by their own or the other's password.
    assert signin.authenticate(org, "ada@example.com", PASSWORD) is None
    assert signin.authenticate(org, "ada@example.com", "bob's own password!") is None
    logged = [r.getMessage() for r in caplog.records]
    assert any(str(ada.id) in m or str(bob.id) in m for m in logged)
    assert not [m for m in logged if "@" in m], logged  # ids only, never the addresses


def test_api_and_scim_look_ups_return_nothing(client, org, org_token, swapped):
    response = client.get("/api/v1/users", query_string={"email": "ada@example.com"}, headers=bearer(org_token))
    assert response.status_code == 200 and response.json == []
    response = client.get(f"{SCIM}/Users", query_string={"filter": 'userName eq "ada@example.com"'},
                          headers=bearer(org_token))
    assert response.status_code == 200
    assert response.json["Resources"] == [] and response.json["totalResults"] == 0
    # Through the index inside a compound filter, the row is not returned either.
    response = client.get(f"{SCIM}/Users", query_string={
        "filter": '(userName eq "ada@example.com") or (externalId pr)'}, headers=bearer(org_token))
    assert response.status_code == 200 and response.json["Resources"] == []


def test_unswapped_rows_are_found_as_before(session, org, make_user, client, org_token):
    carol = make_user(org, "Carol@Example.com")
    assert users.find_by_email(org, " carol@example.COM ").id == carol.id
    response = client.get(f"{SCIM}/Users", query_string={"filter": 'userName eq "carol@example.com"'},
                          headers=bearer(org_token))
    assert [r["id"] for r in response.json["Resources"]] == [str(carol.id)] and response.json["totalResults"] == 1


def test_dsr_look_up_finds_no_one_for_a_swapped_index(session, org, swapped):
    assert rights.lookup("ada@example.com").users == []
    assert rights.lookup("bob@example.com").users == []


# --- SCIM PATCH paths with filters this server does not evaluate ------------------------------------

@pytest.mark.parametrize("path", [
    'emails[value eq "x" or 1 eq 1].value',
    'emails[value eq "x" or type eq "work"].value',
    'emails[not (type eq "work")].value',
    'emails[type pr].value',
    'emails[type gt "a"].value',
    'emails[type eq "work"',
    'emails[name.givenName eq "a"].value',
])
def test_an_unsupported_patch_path_filter_is_invalid_path(client, session, org, org_token, make_user, path):
    user = make_user(org, "ada@example.com", display_name="Ada")
    url = f"{SCIM}/Users/{user.id}"
    for operation in ({"op": "replace", "path": path, "value": "x@example.com"},
                      {"op": "replace", "value": {path: "x@example.com", "displayName": "Changed"}}):
        response = client.patch(url, json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"}, operation]}, headers=bearer(org_token))
        assert response.status_code == 400, response.json
        assert response.json["scimType"] == "invalidPath" and path in response.json["detail"]
    session.expire_all()
    stored = session.get(RegisteredUser, (org.id, user.id))
    assert stored.display_name == "Ada" and stored.version == user.version


def test_the_value_paths_identity_providers_send_still_apply(client, org, org_token, make_user):
    user = make_user(org, "ada@example.com", display_name="Ada")
    response = client.patch(f"{SCIM}/Users/{user.id}", json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@example.com"},
        {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+44 20 7946 0000"},
        {"op": "replace", "path": "displayName", "value": "Ada L."}]}, headers=bearer(org_token))
    assert response.status_code == 200 and response.json["displayName"] == "Ada L."
