"""SCIM discovery documents: ServiceProviderConfig, ResourceTypes, Schemas (RFC 7643 §5-7).

Only the attributes this server really stores are published, so clients (and scim2-tester)
build their models from what round-trips.
"""
from __future__ import annotations

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

MAX_RESULTS = 200


def _attr(name, type_="string", *, required=False, mutability="readWrite", returned="default",
          uniqueness="none", multi=False, case_exact=False, sub=None, description="", reference_types=None,
          canonical_values=None):
    attr = {"name": name, "type": type_, "multiValued": multi, "description": description,
            "required": required, "caseExact": case_exact, "mutability": mutability,
            "returned": returned, "uniqueness": uniqueness}
    if sub is not None:
        attr["subAttributes"] = sub
    if reference_types is not None:
        attr["referenceTypes"] = reference_types
    if canonical_values is not None:
        attr["canonicalValues"] = canonical_values
    return attr


def _user_schema() -> dict:
    return {
        "id": USER, "name": "User", "description": "A registered user of the tenant",
        "attributes": [
            _attr("userName", required=True, uniqueness="server",
                  description="Unique sign-in identifier (the e-mail address or UPN)"),
            _attr("name", "complex", description="The user's name", sub=[
                _attr("givenName", description="Given name"),
                _attr("familyName", description="Family name"),
            ]),
            _attr("displayName", description="Name displayed to other users"),
            # Always set here (a user is active or disabled), hence required.
            _attr("active", "boolean", required=True, description="false disables the user"),
            _attr("emails", "complex", multi=True, mutability="readOnly",
                  description="The sign-in address; derived from userName", sub=[
                      _attr("value", mutability="readOnly"),
                      _attr("type", mutability="readOnly", canonical_values=["work"]),
                      _attr("primary", "boolean", mutability="readOnly"),
                  ]),
            _attr("groups", "complex", multi=True, mutability="readOnly",
                  description="Groups the user belongs to", sub=[
                      _attr("value", mutability="readOnly"),
                      _attr("$ref", "reference", mutability="readOnly", reference_types=["Group"]),
                      _attr("display", mutability="readOnly"),
                      _attr("type", mutability="readOnly"),
                  ]),
        ],
    }


def _group_schema() -> dict:
    return {
        "id": GROUP, "name": "Group", "description": "A group of the tenant's users; `admins` maps to the admin role",
        "attributes": [
            _attr("displayName", required=True, description="The group's name"),
            _attr("members", "complex", multi=True, description="Users in the group", sub=[
                _attr("value", mutability="immutable", description="The user's id"),
                _attr("$ref", "reference", mutability="immutable", reference_types=["User"]),
                _attr("type", mutability="immutable", description="Always User", canonical_values=["User"]),
            ]),
        ],
    }


def schemas(base: str) -> dict:
    """Return {schema URN: schema resource}."""
    out = {}
    for schema in (_user_schema(), _group_schema()):
        out[schema["id"]] = {**schema, "schemas": [SCHEMA],
                             "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{schema['id']}"}}
    return out


def resource_types(base: str) -> dict:
    """Return {resource type id: resource type}."""
    return {
        name: {"schemas": [RESOURCE_TYPE], "id": name, "name": name, "endpoint": f"/{name}s",
               "description": f"{name}s of the tenant", "schema": urn, "schemaExtensions": [],
               "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"}}
        for name, urn in (("User", USER), ("Group", GROUP))
    }


def service_provider_config(base: str) -> dict:
    """Return the ServiceProviderConfig: what this server supports."""
    return {
        "schemas": [SPC],
        "documentationUri": f"{base}/ServiceProviderConfig",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
            "description": "A tenant API token (privacy-saas tenants token SLUG, or the console)",
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }
