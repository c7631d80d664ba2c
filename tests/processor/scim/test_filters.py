"""SCIM filters compiled to SQL (users, stored groups) and matched against the virtual admins group."""
import pytest

from privacy_saas import clock
from tests.helpers import bearer

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def scim(client, org_token):
    def call(method, path, **kwargs):
        return getattr(client, method)("/scim/v2" + path, headers=bearer(org_token), **kwargs)
    return call


@pytest.fixture
def people(scim, org, make_user):
    """Three users (one admin, one disabled, one without external id) and two stored groups."""
    ada = make_user(org, "ada@example.com", role="admin", external_id="e-ada")
    bob = make_user(org, "bob@example.com", external_id="e-bob", active=False)
    cy = make_user(org, "cy@example.com")
    engineering = scim("post", "/Groups", json={"schemas": [GROUP], "displayName": "Engineering",
                                                "externalId": "g-eng", "members": [{"value": str(bob.id)}]}).json
    empty = scim("post", "/Groups", json={"schemas": [GROUP], "displayName": "Empty Set"}).json
    admins = next(g for g in scim("get", "/Groups").json["Resources"] if g["displayName"] == "admins")
    return {"ada": str(ada.id), "bob": str(bob.id), "cy": str(cy.id), "engineering": engineering["id"],
            "empty": empty["id"], "admins": admins["id"]}


def found(scim, kind, text):
    response = scim("get", f"/{kind}", query_string={"filter": text})
    assert response.status_code == 200, (text, response.json)
    assert response.json["totalResults"] == len(response.json["Resources"])
    return sorted(r["id"] for r in response.json["Resources"])


def test_user_filters(scim, people):
    p = people
    cases = {
        "externalId pr": [p["ada"], p["bob"]],
        'externalId ne "e-ada"': [p["bob"], p["cy"]],
        "not (active eq true)": [p["bob"]],
        "active ne true": [p["bob"]],
        f'id eq "{p["cy"]}"': [p["cy"]],
        f'id ne "{p["cy"]}"': [p["ada"], p["bob"]],
        'id eq "not-a-uuid"': [],
        "userName pr and emails pr": [p["ada"], p["bob"], p["cy"]],
        f'meta.created le "{clock.now().isoformat()}"': [p["ada"], p["bob"], p["cy"]],
        'meta.lastModified gt "2999-01-01T00:00:00Z"': [],
        'emails[type eq "home"].value eq "ada@example.com"': [],
        'emails[primary eq true].value eq "ada@example.com"': [p["ada"]],
    }
    for text, ids in cases.items():
        assert found(scim, "Users", text) == sorted(ids), text


def test_group_filters_cover_stored_groups_and_the_admins_group(scim, people):
    p = people
    cases = {
        'displayName eq "ENGINEERING"': [p["engineering"]],
        'displayName eq "admins"': [p["admins"]],
        'displayName sw "e"': [p["empty"], p["engineering"]],
        'displayName co "min"': [p["admins"]],
        'displayName ne "admins"': [p["empty"], p["engineering"]],
        'externalId eq "g-eng"': [p["engineering"]],
        f'id eq "{p["admins"]}"': [p["admins"]],
        "members pr": [p["admins"], p["engineering"]],
        f'members[value eq "{p["bob"]}"]': [p["engineering"]],
        f'members.value eq "{p["ada"]}"': [p["admins"]],
        f'members eq "{p["ada"]}" or displayName eq "Empty Set"': [p["admins"], p["empty"]],
        'not (displayName sw "e")': [p["admins"]],
        "displayName pr and id pr": [p["admins"], p["empty"], p["engineering"]],
    }
    for text, ids in cases.items():
        assert found(scim, "Groups", text) == sorted(ids), text


@pytest.mark.parametrize("kind, text", [
    ("Users", 'name.givenName eq "Ada"'), ("Users", "displayName pr"), ("Users", 'groups[value eq "x"]'),
    ("Users", 'meta.created gt "yesterday"'), ("Users", 'meta.created gt "2025-01-01T00:00:00"'),
    ("Users", 'active eq "maybe"'), ("Groups", 'displayName gt "a"'), ("Groups", "externalId ne \"x\""),
    ("Groups", 'emails[type eq "work"]'), ("Groups", "meta.created pr"),
])
def test_unsupported_filters_are_400_invalid_filter(scim, people, kind, text):
    response = scim("get", f"/{kind}", query_string={"filter": text})
    assert response.status_code == 400, text
    assert response.json["scimType"] == "invalidFilter"
