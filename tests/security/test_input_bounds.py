"""Bounded input: every input that answered 500 answers a 400 naming the field, in the caller's format."""
import json
from datetime import date

import pytest
import sqlalchemy as sa

from privacy_saas.inputs import MAX_JSON_DEPTH, InputRefused, load_json
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import bearer
from tests.console.test_console_login import sign_in as staff_sign_in
from tests.console.test_tenant_views import T, post, sign_in

SCIM = "/scim/v2"
SCIM_JSON = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def user_count(session, tenant) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)
                          .where(RegisteredUser.tenant_id == tenant.id))


def api_refusal(response, field: str, reason_part: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["code"] == "invalid_input", response.json
    assert list(response.json["errors"]) == [field] and reason_part in response.json["errors"][field][0]


def scim_refusal(response, scim_type: str, detail_start: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    body = response.json
    assert body["schemas"] == [ERROR] and body["status"] == "400" and body["scimType"] == scim_type
    assert body["detail"].startswith(detail_start), body


# --- JSON bodies ----------------------------------------------------------------------------------

# Raw JSON text: each a refused input, the field it names and what the reason says.
JSON_CASES = [
    ('{"email": %s}' % nested(5000), "email", "nests deeper than 32"),
    ('{"email": "a@example.com", "display_name": {"x": %s}}' % nested(40), "display_name", "nests deeper"),
    ('{"email": "a@example.com", "display_name": "\\ud800"}', "display_name", "lone surrogates"),
    ('{"email": "a@example.com", "display_name": "x\\udc00y"}', "display_name", "lone surrogates"),
    ('{"email": "a@example.com", "display_name": "nul\\u0000"}', "display_name", "NUL"),
    ('{"email": "a@example.com", "\\ud800": 1}', "\\ud800", "name must not contain lone surrogates"),
    ('{"email": "a@example.com", "display_name": NaN}', "display_name", "not NaN"),
    ('{"email": "a@example.com", "display_name": -Infinity}', "display_name", "not -Infinity"),
    ('{"email": "a@example.com", "display_name": 1e400}', "display_name", "out of range"),
    ('{"email": "a@example.com", "display_name": 99999999999999999999}', "display_name", "out of range"),
    ('{"email": "a@example.com", "display_name": %s}' % ("9" * 5000), "display_name", "out of range"),
    ('{"email": "a@example.com", "display_name": ["ok", {"deep": "\\u0000"}]}', "display_name[1].deep", "NUL"),
    ('{"email": "a@example.com"', "_body", "not valid JSON"),
]


@pytest.mark.parametrize("text, field, reason", JSON_CASES)
def test_users_api_refuses_bad_json_naming_the_field(client, session, org, org_token, text, field, reason):
    before = user_count(session, org)
    response = client.post("/api/v1/users", data=text, content_type="application/json", headers=bearer(org_token))
    api_refusal(response, field, reason)
    assert user_count(session, org) == before


def test_a_body_that_is_not_utf8_is_refused(client, org, org_token):
    response = client.post("/api/v1/users", data=b'{"email": "\xff@example.com"}', content_type="application/json",
                           headers=bearer(org_token))
    api_refusal(response, "_body", "not UTF-8")


@pytest.mark.parametrize("text, scim_type, detail", [
    ('{"userName": %s}' % nested(5000), "invalidSyntax", "userName: nests deeper"),
    ('{"schemas": ["%s"], "userName": "a\\ud800@example.com"}' % USER, "invalidValue", "userName: must not contain lone"),
    ('{"schemas": ["%s"], "userName": "a@example.com", "name": {"givenName": "\\u0000"}}' % USER, "invalidValue",
     "name.givenName: must not contain NUL"),
    ('{"schemas": ["%s"], "userName": "a@example.com", "active": 1e999}' % USER, "invalidValue", "active: is out of range"),
    ("{oops", "invalidSyntax", "_body: is not valid JSON"),
])
def test_scim_refuses_bad_json_with_its_own_error_schema(client, session, org, org_token, text, scim_type, detail):
    before = user_count(session, org)
    response = client.post(f"{SCIM}/Users", data=text, content_type=SCIM_JSON, headers=bearer(org_token))
    scim_refusal(response, scim_type, detail)
    assert user_count(session, org) == before


def test_scim_patch_with_deep_or_surrogate_values_changes_nothing(client, session, org, org_token, make_user):
    user = make_user(org, "ada@example.com", display_name="Ada")
    url = f"{SCIM}/Users/{user.id}"
    operations = '{"schemas": ["%s"], "Operations": [{"op": "replace", "path": "displayName", "value": %s}]}'
    for value, scim_type in ((nested(3000), "invalidSyntax"), ('"Ada\\udfff"', "invalidValue")):
        response = client.patch(url, data=operations % (PATCH, value), content_type=SCIM_JSON,
                                headers=bearer(org_token))
        scim_refusal(response, scim_type, "Operations")
    session.expire_all()
    assert session.get(RegisteredUser, (org.id, user.id)).display_name == "Ada"


def test_a_proper_surrogate_pair_escape_is_kept_exactly(client, session, org, org_token):
    response = client.post("/api/v1/users", data='{"email": "emoji@example.com", "display_name": "Ada \\ud83d\\ude00"}',
                           content_type="application/json", headers=bearer(org_token))
    assert response.status_code == 201, response.json
    assert response.json["display_name"] == "Ada \U0001F600"


def test_the_nesting_limit_is_exact():
    load_json(nested(MAX_JSON_DEPTH))
    with pytest.raises(InputRefused) as refused:
        load_json(nested(MAX_JSON_DEPTH + 1))
    assert refused.value.field == "_body" and refused.value.scim_type == "invalidSyntax"
    # Brackets inside strings are text, not nesting; escaped quotes do not end a string.
    assert load_json(json.dumps({"k": "[" * 1000 + '\\"{' * 500})) == {"k": "[" * 1000 + '\\"{' * 500}


# --- query strings, paths, forms --------------------------------------------------------------------

@pytest.mark.parametrize("url, field, reason", [
    ("/api/v1/users?page=99999999999999999999", "page", "between 1 and 2147483647"),
    ("/api/v1/users?page=2147483648", "page", "between 1"),
    ("/api/v1/users?page=-1", "page", "between 1"),
    ("/api/v1/users?page=1e3", "page", "must be an integer"),
    ("/api/v1/users?page_size=99999999999999999999", "page_size", "between 1"),
    ("/api/v1/users?per_page=99999999999999999999", "per_page", "between 1"),
    ("/api/v1/users?email=a%00b@example.com", "email", "NUL"),
    ("/api/v1/users?st%00atus=active", "st\\x00atus", "NUL"),
    ("/api/v1/users?page=0", "page", "between 1"),
])
def test_users_list_query_bounds(client, org, org_token, url, field, reason):
    api_refusal(client.get(url, headers=bearer(org_token)), field, reason)


@pytest.mark.parametrize("query, field", [
    ("page=9223372036854775808", "page"),
    ("since=0001-01-01T00:00:00%2B14:00", "since"),
    ("until=9999-12-31T23:00:00-14:00", "until"),
    ("action=user.%00", "action"),
])
def test_audit_query_bounds(client, staff_token, query, field):
    response = client.get(f"/api/v1/audit?{query}", headers=bearer(staff_token))
    assert response.status_code == 400 and field in response.json["errors"], response.json
    assert client.get(f"/api/v1/audit.csv?{query}", headers=bearer(staff_token)).status_code == 400


def test_audit_since_without_offset_is_utc(client, staff_token):
    response = client.get("/api/v1/audit?since=2020-01-01T00:00:00", headers=bearer(staff_token))
    assert response.status_code == 200


@pytest.mark.parametrize("query, detail", [
    ("startIndex=1e23", "startIndex: must be an integer"),
    ("startIndex=99999999999999999999", "startIndex: must be between"),
    ("count=-99999999999999999999", "count: must be between"),
    ("filter=userName%20eq%20%22a%00%22", "filter: must not contain NUL"),
])
def test_scim_query_bounds(client, org, org_token, query, detail):
    scim_refusal(client.get(f"{SCIM}/Users?{query}", headers=bearer(org_token)), "invalidValue", detail)


@pytest.mark.parametrize("start", ["1e23", 1e23, "99999999999999999999", 2**70, 2.5, True, [1]])
def test_scim_search_body_paging_bounds(client, org, org_token, start):
    response = client.post(f"{SCIM}/Users/.search", headers=bearer(org_token), content_type=SCIM_JSON,
                           data=json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                            "startIndex": start}))
    scim_refusal(response, "invalidValue", "startIndex:")


def test_scim_reads_negative_paging_as_the_rfc_says(client, org, org_token, make_user):
    make_user(org, "ada@example.com")
    body = client.get(f"{SCIM}/Users?startIndex=-5&count=-1", headers=bearer(org_token)).json
    assert body["startIndex"] == 1 and body["itemsPerPage"] == 0 and body["totalResults"] == 1


def test_nul_in_a_path_segment_is_refused(client, staff_token):
    response = client.get("/api/v1/tenants/acme%00x/legal-holds", headers=bearer(staff_token))
    api_refusal(response, "slug", "NUL")


def test_console_refuses_nul_in_forms_and_huge_pages(client, session, org, org_admin):
    assert sign_in(client).status_code == 302
    before = user_count(session, org)
    response = post(client, f"{T}/users/new", {"email": "new@example.com", "display_name": "Ne\x00w",
                                                     "role": "member"}, page=f"{T}/users/new")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "display_name: must not contain NUL" in response.get_data(as_text=True)
    assert user_count(session, org) == before
    response = client.get(f"{T}/users?page=99999999999999999999")
    assert response.status_code == 400 and "page: must be between" in response.get_data(as_text=True)


def test_console_audit_page_refuses_moments_it_cannot_store(client, make_staff, session):
    make_staff("dpo", email="dpo-bounds@vendor.example")
    session.commit()
    assert staff_sign_in(client, "dpo-bounds@vendor.example").status_code == 302
    assert client.get("/console/audit?since=0001-01-01T00:00:00%2B14:00").status_code == 400
    assert client.get("/console/audit?since=2026-01-01T00:00:00").status_code == 200
    assert client.get(f"/console/audit?until={date(2026, 1, 1).isoformat()}T00:00:00Z").status_code == 200
