"""Cross-tenant property test: random API and SCIM calls by three tenants never leak across tenants."""
import itertools
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import bearer

#: Examples per run (each a sequence of up to 12 calls); bounded to keep `make test` short.
MAX_EXAMPLES = 50
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

OPS = ("api_create", "api_list", "api_get", "api_patch", "api_delete", "scim_create", "scim_list",
       "scim_get", "scim_filter", "scim_patch", "group_create", "group_get", "audit")
calls = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(OPS), st.integers(0, 2), st.integers(0, 50)),
                 min_size=1, max_size=12)


@pytest.fixture
def world(make_keyed_tenant, make_token):
    tenants = [make_keyed_tenant(f"iso{i}", name=f"Isolation {i}") for i in range(3)]
    return {"tenants": tenants, "tokens": [make_token(t) for t in tenants],
            "users": [[] for _ in tenants], "groups": [[] for _ in tenants], "counter": itertools.count()}


def marker(i: int) -> str:
    return f"zq{i}mark"


def _owned_ids(world, j):
    return [str(world["tenants"][j].id), *world["users"][j], *world["groups"][j]]


@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=calls)
def test_no_response_crosses_tenants(client, world, sequence):
    for actor, op, target, pick in sequence:
        # `target` chooses whose object the call names: its own or a foreign one.
        token = world["tokens"][actor]
        headers = bearer(token)
        n = next(world["counter"])
        foreign_ids = world["users"][target] if target != actor else []
        own_or_target = world["users"][target]
        user_id = own_or_target[pick % len(own_or_target)] if own_or_target else str(uuid.uuid4())
        groups = world["groups"][target]
        group_id = groups[pick % len(groups)] if groups else str(uuid.uuid4())
        name = f"{marker(actor)} person{n}"
        if op == "api_create":
            r = client.post("/api/v1/users", headers=headers,
                            json={"email": f"{marker(actor)}-{n}@example.com", "display_name": name})
            assert r.status_code == 201, r.json
            world["users"][actor].append(r.json["id"])
        elif op == "scim_create":
            r = client.post("/scim/v2/Users", headers=headers,
                            json={"schemas": [USER], "userName": f"{marker(actor)}-s{n}@example.com",
                                  "displayName": name})
            assert r.status_code == 201, r.json
            world["users"][actor].append(r.json["id"])
        elif op == "group_create":
            r = client.post("/scim/v2/Groups", headers=headers,
                            json={"schemas": [GROUP], "displayName": f"{marker(actor)} group{n}"})
            assert r.status_code == 201, r.json
            world["groups"][actor].append(r.json["id"])
        elif op == "api_list":
            r = client.get("/api/v1/users?page_size=200", headers=headers)
        elif op == "scim_list":
            r = client.get("/scim/v2/Users?count=200", headers=headers)
        elif op == "scim_filter":
            r = client.get("/scim/v2/Users", headers=headers,
                           query_string={"filter": f'userName sw "{marker(target)}"'})
        elif op == "audit":
            r = client.get("/api/v1/audit?page_size=500", headers=headers)
        elif op == "api_get":
            r = client.get(f"/api/v1/users/{user_id}", headers=headers)
        elif op == "scim_get":
            r = client.get(f"/scim/v2/Users/{user_id}", headers=headers)
        elif op == "group_get":
            r = client.get(f"/scim/v2/Groups/{group_id}", headers=headers)
        elif op == "api_patch":
            r = client.patch(f"/api/v1/users/{user_id}", headers=headers, json={"display_name": name})
        elif op == "scim_patch":
            r = client.patch(f"/scim/v2/Users/{user_id}", headers=headers, json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
        else:  # api_delete
            r = client.delete(f"/api/v1/users/{user_id}", headers=headers)
            if r.status_code == 204:
                world["users"][target].remove(user_id)
        assert r.status_code < 500, (op, r.status_code)
        names_foreign = op in ("api_get", "scim_get", "api_patch", "scim_patch", "api_delete") and \
            user_id in foreign_ids or op == "group_get" and target != actor and group_id in groups
        if names_foreign:
            assert r.status_code == 404, (op, r.status_code)
        text = r.get_data(as_text=True)
        for other in range(3):
            if other == actor:
                continue
            assert marker(other) not in text, (op, "foreign data")
            leaked = [i for i in _owned_ids(world, other) if i in text]
            assert not leaked, (op, "foreign ids")
