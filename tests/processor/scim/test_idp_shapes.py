"""SCIM requests exactly as Microsoft Entra ID and Okta send them, replayed against the app: what is stored and
what comes back.

Request bodies are copied from the identity providers' public documentation:
- Entra: MicrosoftDocs/entra-docs docs/identity/app-provisioning/use-scim-to-provision-users-and-groups.md
  ("Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID", ms.date 03/04/2025) and
  .../application-provisioning-config-problem-scim-compatibility.md ("Known issues and resolutions with SCIM 2.0
  protocol compliance", ms.date 04/15/2025); one tenant's real create from Microsoft Q&A 1684621 (2024-05-21).
- Okta: okta/okta-developer-docs packages/@okta/vuepress-site/docs/reference/scim/scim-20/index.md
"""
import uuid

import pytest
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.extensions import db
from privacy_saas.processor.users import service
from privacy_saas.processor.users.models import RegisteredUser, RegisteredUserEmail
from tests.helpers import bearer

BASE = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

# Entra: Create User (the tutorial's request).
ENTRA_CREATE = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [{
        "primary": True,
        "type": "work",
        "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    }],
    "meta": {
        "resourceType": "User"
    },
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName"
    },
    "roles": []
}
WORK_EMAIL = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"

# Okta: create (the reference's request).
OKTA_CREATE = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "test.user@okta.local",
               "name": {"givenName": "Test", "familyName": "User"},
               "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
               "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7", "groups": [],
               "password": "1mz050nq", "active": True}


@pytest.fixture
def scim(client, org_token):
    def call(method, path, **kwargs):
        return getattr(client, method)(BASE + path, headers=bearer(org_token), **kwargs)
    return call


def ops(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.json


def found(scim, text):
    body = ok(scim("get", "/Users", query_string={"filter": text}))
    return [r["id"] for r in body["Resources"]]


def stored(org, user_id) -> RegisteredUser:
    """Return the user as the database holds it now (not as an earlier look-up cached it)."""
    db.session.expire_all()
    return service.get(org, uuid.UUID(user_id))


def test_entra_create_keeps_the_upn_and_the_work_mailbox_apart(scim, org, session):
    body = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)
    assert body["userName"] == ENTRA_CREATE["userName"]
    assert body["emails"] == [{"primary": True, "type": "work", "value": WORK_EMAIL}]
    assert body["name"] == ENTRA_CREATE["name"] and body["active"] is True
    assert body["externalId"] == ENTRA_CREATE["externalId"]
    assert body["schemas"] == [USER] and body["meta"]["resourceType"] == "User"
    user = stored(org, body["id"])
    # The product mails the work mailbox, not the sign-in name.
    assert user.user_name == ENTRA_CREATE["userName"] and user.email == WORK_EMAIL
    assert user.emails == [{"primary": True, "type": "work", "value": WORK_EMAIL}]
    # The external id (Entra's default maps mailNickname) is sealed, not plaintext.
    raw = session.execute(sa.text("SELECT * FROM registered_users WHERE id = :id"),
                          {"id": user.id if session.get_bind().dialect.name == "postgresql" else user.id.hex}).one()
    assert not any(isinstance(v, str) and ENTRA_CREATE["externalId"] in v for v in raw)
    assert not any(isinstance(v, (bytes, memoryview)) and ENTRA_CREATE["externalId"].encode() in bytes(v)
                   for v in raw)
    # Every form of look-up Entra uses for matching, through blind indexes.
    assert found(scim, f'userName eq "{ENTRA_CREATE["userName"]}"') == [body["id"]]
    assert found(scim, f'emails[type eq "work"].value eq "{WORK_EMAIL.upper()}"') == [body["id"]]
    assert found(scim, f'emails.value eq "{WORK_EMAIL}"') == [body["id"]]
    assert found(scim, f'emails[type eq "home"].value eq "{WORK_EMAIL}"') == []
    assert found(scim, f'externalId eq "{ENTRA_CREATE["externalId"]}"') == [body["id"]]
    assert found(scim, f'userName eq "{WORK_EMAIL}"') == []
    # The DSR look-up finds the person by their mailbox too.
    pairs, _ = service.find_everywhere(WORK_EMAIL)
    assert (org.id, user.id) in pairs


def test_entra_unquoted_external_id_filter(scim):
    created = ok(scim("post", "/Users", json={"schemas": [USER], "userName": "jyoung@contoso.com",
                                              "externalId": "jyoung"}), 201)
    # "GET /Users?filter=externalId eq jyoung" (sic, as the tutorial writes it).
    assert found(scim, "externalId eq jyoung") == [created["id"]]
    assert found(scim, "externalId eq Jyoung") == []  # externalId is case-exact
    # An object id starting with a digit (the tutorial's create sends one), unquoted the same way.
    guid = ok(scim("post", "/Users", json={"schemas": [USER], "userName": "ada@contoso.com",
                                           "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"}), 201)
    assert found(scim, "externalId eq 0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef") == [guid["id"]]


def test_entra_update_multi_valued_and_single_valued(scim, org):
    user_id = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)["id"]
    # Update User [Multi-valued properties]
    body = ok(scim("patch", f"/Users/{user_id}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}]}))
    assert body["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}]
    assert body["name"]["formatted"] == "givenName updatedFamilyName"
    assert body["name"]["familyName"] == "updatedFamilyName"
    assert stored(org, user_id).email == "updatedEmail@microsoft.com"
    assert found(scim, 'emails[type eq "work"].value eq "updatedEmail@microsoft.com"') == [user_id]
    assert found(scim, f'emails.value eq "{WORK_EMAIL}"') == []  # the old index row went with the old address
    # Update User [Single-valued properties]: userName changes, the work e-mail stays.
    new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    body = ok(scim("patch", f"/Users/{user_id}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": new_name}]}))
    assert body["userName"] == new_name
    assert body["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}]
    assert found(scim, f'userName eq "{new_name}"') == [user_id]
    assert found(scim, f'userName eq "{ENTRA_CREATE["userName"]}"') == []


@pytest.mark.parametrize("value", [False, "False"])
def test_entra_disable_with_and_without_the_flag(scim, org, value):
    user_id = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)["id"]
    body = ok(scim("patch", f"/Users/{user_id}", json={
        "Operations": [{"op": "Replace", "path": "active", "value": value}],
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}))
    assert body["active"] is False and stored(org, user_id).status == "disabled"


def test_entra_replace_multiple_attributes_without_and_with_the_flag(scim, org):
    user_id = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)["id"]
    body = ok(scim("patch", f"/Users/{user_id}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
             "value": "Eqpj"}]}))
    assert body["displayName"] == "Pvlo" and body["externalId"] == "Eqpj"
    assert body["name"] == {"givenName": "Gtfd", "familyName": "Pkqf", "formatted": "Gtfd Pkqf"}
    assert body["emails"] == [{"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": True}]
    assert body[ENTERPRISE] == {"employeeNumber": "Eqpj"} and body["schemas"] == [USER, ENTERPRISE]
    assert found(scim, 'externalId eq "Eqpj"') == [user_id]
    assert found(scim, f'externalId eq "{ENTRA_CREATE["externalId"]}"') == []
    # ... with the aadOptscim062020 flag: a path-less replace with dotted and URN-qualified keys.
    body = ok(scim("patch", f"/Users/{user_id}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":
                                            "Aklq"}}]}))
    assert body["displayName"] == "Bjfe" and body["name"]["givenName"] == "Kkom"
    assert body["name"]["familyName"] == "Unua" and body[ENTERPRISE] == {"employeeNumber": "Aklq"}
    user = stored(org, user_id)
    assert user.enterprise == {"employeeNumber": "Aklq"} and user.email == "TestMhvaes@test.microsoft.com"
    assert user.given_name == "Kkom" and user.display_name == "Bjfe"


def test_entra_real_tenant_create_and_patch(scim, org):
    # Microsoft Q&A 1684621: title, and a custom extension this server does not advertise (ignored).
    body = ok(scim("post", "/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "joe@testaccount.onmicrosoft.com", "active": True,
        "emails": [{"primary": True, "type": "work", "value": "joe@joe.com"}],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "TestLastName1", "givenName": "joe"},
        "title": "scim tester",
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"employeeNumber": "99887766",
                                                                    "worksiteId": "180"}}), 201)
    assert body["title"] == "scim tester" and ENTERPRISE not in body
    assert "urn:ietf:params:scim:schemas:extension:custom:2.0:User" not in body
    body = ok(scim("patch", f"/Users/{body['id']}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "title", "value": "tester"},
                       {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "joe2@joe.com"}]}))
    assert body["title"] == "tester"
    assert body["emails"] == [{"primary": True, "type": "work", "value": "joe2@joe.com"}]
    user = stored(org, body["id"])
    assert user.profile == {"title": "tester"} and user.email == "joe2@joe.com"


def test_entra_default_mapping_attributes_and_manager(scim, org):
    manager = ok(scim("post", "/Users", json={"schemas": [USER], "userName": "boss@contoso.com"}), 201)
    user_id = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)["id"]
    body = ok(scim("patch", f"/Users/{user_id}", json=ops(
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
        {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1 555 0101"},
        {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
        {"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "smtp-alias@contoso.com"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
         "value": "Finance"},
        # Entra sends the manager as its bare id.
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
         "value": manager["id"]})))
    assert body["nickName"] == "Babs"
    assert body["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0100"},
                                    {"type": "fax", "value": "+1 555 0101"}]
    assert body["addresses"] == [{"type": "work", "postalCode": "98052"}]
    assert {"type": "other", "value": "smtp-alias@contoso.com"} in body["emails"]
    assert body[ENTERPRISE] == {"department": "Finance", "manager": {"value": manager["id"]}}
    # Any of the person's e-mails finds them; the work one stays the product's e-mail.
    assert found(scim, 'emails.value eq "smtp-alias@contoso.com"') == [user_id]
    user = stored(org, user_id)
    assert user.email == WORK_EMAIL
    assert user.contact == {"phoneNumbers": body["phoneNumbers"], "addresses": body["addresses"]}
    pairs, _ = service.find_everywhere("smtp-alias@contoso.com")
    assert (org.id, user.id) in pairs
    # Change the mobile number, drop the fax, remove the manager.
    body = ok(scim("patch", f"/Users/{user_id}", json=ops(
        {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
        {"op": "Remove", "path": "phoneNumbers[type eq \"fax\"]"},
        {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"})))
    assert body["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0199"}]
    assert body[ENTERPRISE] == {"department": "Finance"}


@pytest.mark.parametrize("path", [
    'emails[type ne "work"].value',
    'emails[type eq "work" or type eq "home"].value',
    'emails[value pr].value',
    'emails[nosuch eq "x"].value',
    'title[type eq "work"]',
    'nosuchattribute',
    'emails.value',
])
def test_unsupported_patch_paths_are_invalid_path(scim, org, path):
    user_id = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)["id"]
    response = scim("patch", f"/Users/{user_id}", json=ops({"op": "replace", "path": path, "value": "x@y.example"}))
    assert response.status_code == 400 and response.json["scimType"] == "invalidPath"
    assert response.json["schemas"] == [ERROR]
    assert stored(org, user_id).emails == ENTRA_CREATE["emails"]  # nothing changed


def test_read_only_repeated_with_its_value_is_accepted_and_changed_is_refused(scim):
    user_id = ok(scim("post", "/Users", json=OKTA_CREATE), 201)["id"]
    body = ok(scim("patch", f"/Users/{user_id}", json=ops(
        {"op": "replace", "value": {"id": user_id, "displayName": "Renamed", "meta": {"resourceType": "User"}}})))
    assert body["displayName"] == "Renamed"
    response = scim("patch", f"/Users/{user_id}", json=ops({"op": "replace", "value": {"id": str(uuid.uuid4())}}))
    assert response.status_code == 400 and response.json["scimType"] == "mutability"
    response = scim("patch", f"/Users/{user_id}", json=ops({"op": "replace", "path": "groups", "value": []}))
    assert response.status_code == 400 and response.json["scimType"] == "mutability"


def test_okta_user_lifecycle(scim, org):
    # Existence check first: integers, not strings.
    body = ok(scim("get", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"))
    assert body == {"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}
    created = ok(scim("post", "/Users", json=OKTA_CREATE), 201)
    assert created["locale"] == "en-US" and created["displayName"] == "Test User"
    assert created["emails"] == OKTA_CREATE["emails"] and "password" not in created
    user = stored(org, created["id"])
    assert user.password_hash is None and user.profile == {"locale": "en-US"}
    body = ok(scim("get", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"))
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == created["id"]
    duplicate = scim("post", "/Users", json=OKTA_CREATE)
    assert duplicate.status_code == 409 and duplicate.json["scimType"] == "uniqueness"
    assert duplicate.json["schemas"] == [ERROR] and duplicate.json["status"] == "409"
    # PUT with the full body: middleName and emails[].display are kept.
    put = {**OKTA_CREATE, "id": created["id"],
           "name": {"givenName": "Test", "middleName": "Excited", "familyName": "User"},
           "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work",
                       "display": "test.user@okta.local"}]}
    body = ok(scim("put", f"/Users/{created['id']}", json=put))
    assert body["name"] == {"givenName": "Test", "middleName": "Excited", "familyName": "User"}
    assert body["emails"][0]["display"] == "test.user@okta.local"
    # Deactivate: a path-less replace.
    body = ok(scim("patch", f"/Users/{created['id']}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}]}))
    assert body["active"] is False and stored(org, created["id"]).status == "disabled"


def _audit_details(session, group_id):
    session.commit()
    return [e.detail for e in session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "group.update").order_by(AuditEntry.seq)) if str(group_id) in map(str, e.targets)]


def test_entra_groups(scim, session):
    member = ok(scim("post", "/Users", json=ENTRA_CREATE), 201)["id"]
    group = ok(scim("post", "/Groups", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName",
        "meta": {"resourceType": "Group"}}), 201)
    assert group["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    body = ok(scim("get", "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22"))
    assert [g["id"] for g in body["Resources"]] == [group["id"]]
    renamed = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    ok(scim("patch", f"/Groups/{group['id']}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "displayName", "value": renamed}]}))
    ok(scim("patch", f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]}]}))
    body = ok(scim("get", f"/Groups/{group['id']}"))
    assert body["displayName"] == renamed and [m["value"] for m in body["members"]] == [member]
    assert "members" not in ok(scim("get", f"/Groups/{group['id']}?excludedAttributes=members"))
    ok(scim("patch", f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": member}]}]}))
    assert "members" not in ok(scim("get", f"/Groups/{group['id']}"))
    ok(scim("patch", f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]}]}))
    ok(scim("patch", f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f"members[value eq \"{member}\"]"}]}))
    assert "members" not in ok(scim("get", f"/Groups/{group['id']}"))
    response = scim("patch", f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f"members[value ne \"{member}\"]"}]})
    assert response.status_code == 400 and response.json["scimType"] == "invalidPath"


def test_okta_groups_rename_with_id_and_membership_batches(scim, session):
    first = ok(scim("post", "/Users", json=OKTA_CREATE), 201)["id"]
    second = ok(scim("post", "/Users", json={**OKTA_CREATE, "userName": "second@okta.local", "externalId": "00u2",
                                             "emails": []}), 201)["id"]
    group = ok(scim("post", "/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                             "displayName": "Test SCIMv2", "members": []}), 201)
    # Rename (sent on every membership update too), repeating the group's id.
    body = ok(scim("patch", f"/Groups/{group['id']}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2 renamed"}}]}))
    assert body["displayName"] == "Test SCIMv2 renamed"
    response = scim("patch", f"/Groups/{group['id']}", json=ops(
        {"op": "replace", "value": {"id": str(uuid.uuid4()), "displayName": "x"}}))
    assert response.status_code == 400 and response.json["scimType"] == "mutability"
    # A batch naming one id that is no user of the tenant: the known member is added, the unknown skipped.
    unknown = str(uuid.uuid4())
    body = ok(scim("patch", f"/Groups/{group['id']}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f"members[value eq \"{unknown}\"]"},
                       {"op": "add", "path": "members", "value": [
                           {"value": first, "display": "test.user@okta.local"},
                           {"value": unknown, "display": "gone@okta.local"}]}]}))
    assert [m["value"] for m in body["members"]] == [first]
    assert _audit_details(session, group["id"])[-1] == {"fields": ["members"], "skipped_members": [unknown]}
    # Full replace.
    body = ok(scim("patch", f"/Groups/{group['id']}", json=ops(
        {"op": "replace", "path": "members", "value": [{"value": second, "display": "second@okta.local"},
                                                       {"value": "not-a-uuid"}]})))
    assert [m["value"] for m in body["members"]] == [second]
    assert _audit_details(session, group["id"])[-1] == {"fields": ["members"], "skipped_members": ["not-a-uuid"]}
    # A POST naming an unknown member is still refused whole (nothing half-created).
    response = scim("post", "/Groups", json={"schemas": [GROUP], "displayName": "New", "members": [{"value": unknown}]})
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"


def test_json_api_email_is_the_primary_work_email_and_the_user_name(client, org, org_token, scim, session):
    response = client.post("/api/v1/users", json={"email": "api@example.com", "display_name": "Api"},
                           headers=bearer(org_token))
    assert response.status_code == 201 and response.json["email"] == "api@example.com"
    assert response.json["user_name"] == "api@example.com"
    body = ok(scim("get", f"/Users/{response.json['id']}"))
    assert body["userName"] == "api@example.com"
    assert body["emails"] == [{"value": "api@example.com", "type": "work", "primary": True}]
    rows = session.scalars(sa.select(RegisteredUserEmail).where(
        RegisteredUserEmail.user_id == uuid.UUID(body["id"]))).all()
    assert [(r.type, r.primary) for r in rows] == [("work", True)]
