"""SCIM discovery documents: ServiceProviderConfig, ResourceTypes, Schemas (RFC 7643 §5-7).

Only the attributes this server really stores are published, so clients (and scim2-tester)
build their models from what round-trips.
"""
from __future__ import annotations

from privacy_saas.processor.scim import attributes
from privacy_saas.processor.scim.attributes import ENTERPRISE, GROUP, USER

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

MAX_RESULTS = 200


def _user_schema() -> dict:
    return {"id": USER, "name": "User", "description": "A registered user of the tenant",
            "attributes": [a.schema() for a in attributes.USER_ATTRS]}


def _enterprise_schema() -> dict:
    return {"id": ENTERPRISE, "name": "EnterpriseUser", "description": "Enterprise User",
            "attributes": [a.schema() for a in attributes.ENTERPRISE_ATTRS]}


def _group_schema() -> dict:
    return {"id": GROUP, "name": "Group",
            "description": "A group of the tenant's users; `admins` maps to the admin role",
            "attributes": [a.schema() for a in attributes.GROUP_ATTRS]}


def schemas(base: str) -> dict:
    """Return {schema URN: schema resource}."""
    out = {}
    for schema in (_user_schema(), _enterprise_schema(), _group_schema()):
        out[schema["id"]] = {**schema, "schemas": [SCHEMA],
                             "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{schema['id']}"}}
    return out


def resource_types(base: str) -> dict:
    """Return {resource type id: resource type}."""
    return {
        name: {"schemas": [RESOURCE_TYPE], "id": name, "name": name, "endpoint": f"/{name}s",
               "description": f"{name}s of the tenant", "schema": urn, "schemaExtensions": extensions,
               "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"}}
        for name, urn, extensions in (("User", USER, [{"schema": ENTERPRISE, "required": False}]),
                                      ("Group", GROUP, []))
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
