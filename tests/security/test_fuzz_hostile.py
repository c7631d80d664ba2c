"""Hostile input to every API and SCIM operation: zero 5xx.

Schemathesis generates what the OpenAPI document describes; these suites send what it does not:
nesting thousands deep, lone surrogates and NUL (escaped in JSON, percent-encoded in URLs), huge and
negative integers, NaN and Infinity, over-long strings, wrong types, broken syntax and encodings, in
bodies, query strings and path segments. Every route of the URL map under /api and /scim/v2 is called,
in-process, with a token that passes authentication, so the input reaches the schemas and services.
"""
from __future__ import annotations

import io
import json
import re
import uuid
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy_saas.auth.principal import declared_capability
from privacy_saas.processor.users import groups
from tests.controller.conftest import make_contact, ready  # noqa: F401  (fixtures)
from tests.helpers import bearer

#: Generated cases per operation and focus (FOCUS: 12 for a write, 2 for a read).
EXAMPLES = 4
CASES: dict[str, int] = {}
STATUSES: dict[str, Counter] = {}
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
QUERY_NAMES = ["page", "page_size", "startIndex", "count", "filter", "email", "status", "role", "action", "tenant",
               "since", "until", "chain", "attributes", "excludedAttributes", "outcome", "source", "basis"]
_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")

# --- hostile JSON values, as raw text (surrogates, NaN and depth cannot be built with json.dumps) ---------

#: Nesting depths: just past the limit, past Python's recursion limit, far past it.
depths = st.sampled_from([1_500, 5_000, 50_000, 33, 1_000])
#: One strategy per class of hostile value the issue names; a case draws a class, then a value.
HOSTILE = {
    "deep": st.one_of(depths.map(lambda d: "[" * d + "]" * d), depths.map(lambda d: '{"a":' * d + "1" + "}" * d)),
    "surrogate": st.sampled_from(['"Ada\\ud800"', '"\\udc00"', '"a\\udfffb"', '"\\udc00\\ud800"']),
    "nul": st.sampled_from(['"\\u0000"', '"Ada\\u0000x"']),
    "huge": st.one_of(st.sampled_from([str(2**63), str(-(2**63) - 1), "9" * 400, "1e23", "-1e23"]),
                      st.integers(min_value=2**31, max_value=10**40).map(str)),
    "negative": st.sampled_from(["-1", "-2147483649", "-9223372036854775808", "-0.5", "-0"]),
    "not_finite": st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]),
    "long": st.sampled_from([256, 1_000, 70_000, 300_000]).map(lambda n: json.dumps("x" * n)),
    "wrong_type": st.sampled_from(["[]", "{}", "true", "null", "0", "1.5", '[{"value": 1}]', '{"value": []}',
                                   '"true"', '""', '"not-a-date"', '"ada"']),
}
hostile = st.sampled_from(sorted(HOSTILE)).flatmap(HOSTILE.__getitem__)
broken = st.one_of(st.sampled_from([b"{", b'{"a":', b"[1,", b'{"a" 1}', b"", b" ", b"\xef\xbb\xbf{}",
                                    b'{"x": "\xff\xfe"}', b'{"x": "\xed\xa0\x80"}']), st.binary(max_size=64))


def good_value(name: str, prop: dict, ids: dict) -> str:
    """A value the schema accepts for an OpenAPI property, so the hostile one beside it is what is tested."""
    if prop.get("enum"):
        return json.dumps(prop["enum"][0])
    kind, fmt = prop.get("type"), prop.get("format")
    if fmt == "uuid":
        return json.dumps(str(ids.get(name, uuid.uuid4())))
    return {"email": json.dumps(f"fuzz-{uuid.uuid4().hex[:8]}@example.com"), "date": '"2030-01-01"',
            "date-time": '"2026-01-01T00:00:00Z"'}.get(fmt) or {
        "integer": "1", "number": "1", "boolean": "true", "array": "[]", "object": "{}"}.get(kind, '"Fuzz"')


def as_object(pairs) -> bytes:
    return ("{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}").encode()


def bodies(good: dict[str, str], values):
    """JSON bodies: a valid one with one value made hostile (mostly), or with a hostile key, or just the value."""
    names = sorted(good) or ["x"]

    def one_hostile(drawn):
        name, value = drawn
        return as_object([(json.dumps(k), v) for k, v in good.items() if k != name] + [(json.dumps(name), value)])

    replaced = st.tuples(st.sampled_from(names), values).map(one_hostile)
    bad_key = st.tuples(HOSTILE["surrogate"] | HOSTILE["nul"], values).map(
        lambda kv: as_object([(json.dumps(k), v) for k, v in good.items()] + [kv]))
    return st.one_of(replaced, replaced, replaced, bad_key, values.map(str.encode))


#: SCIM bodies as identity providers send them, one value left to the fuzzer ({0}).
SCIM_TEMPLATES = [
    '{{"schemas": ["%s"], "userName": {0}, "displayName": "Ada"}}' % USER,
    '{{"schemas": ["%s"], "userName": "fuzz@example.com", "name": {{"givenName": {0}}}, "active": true}}' % USER,
    '{{"schemas": ["%s"], "userName": "fuzz2@example.com", "externalId": {0}, "active": {0}}}' % USER,
    '{{"schemas": ["%s"], "userName": "fuzz3@example.com", "emails": [{{"value": {0}, "primary": true}}]}}' % USER,
    '{{"schemas": ["%s"], "Operations": [{{"op": "replace", "path": "displayName", "value": {0}}}]}}' % PATCH,
    '{{"schemas": ["%s"], "Operations": [{{"op": "add", "path": {0}, "value": "x"}}]}}' % PATCH,
    '{{"schemas": ["%s"], "Operations": [{{"op": "replace", "value": {{"active": {0}, "name": {0}}}}}]}}' % PATCH,
    '{{"schemas": ["%s"], "Operations": [{{"op": "remove", "path": "members", "value": {0}}}]}}' % PATCH,
    '{{"schemas": ["%s"], "Operations": {0}}}' % PATCH,
    '{{"schemas": ["%s"], "displayName": {0}, "members": []}}' % GROUP,
    '{{"schemas": ["%s"], "displayName": "G", "externalId": "g", "members": [{{"value": {0}}}]}}' % GROUP,
    '{{"filter": {0}, "startIndex": 1, "count": 10}}',
    '{{"filter": "userName pr", "startIndex": {0}, "count": {0}, "attributes": {0}}}',
]


def scim_bodies(values):
    """SCIM bodies with one hostile value, or just the value."""
    template = st.tuples(st.sampled_from(SCIM_TEMPLATES), values).map(lambda drawn: drawn[0].format(drawn[1]).encode())
    return st.one_of(template, template, template, values.map(str.encode))


# --- query strings and path segments ------------------------------------------------------------------

hostile_values = st.one_of(
    st.sampled_from(["99999999999999999999", "-99999999999999999999", "2147483648", "-1", "0", "1e23", "1.5",
                     "NaN", "%00", "a%00b", "%ED%A0%80", "%FF%FE", "%C0%80", "x" * 5000, "%", "%2", "",
                     "userName%20eq%20%22a%00%22", "0001-01-01T00:00:00%2B14:00", "9999-12-31T23:59:59-14:00",
                     "tenant:" + str(uuid.uuid4()), "platform", "[", "%5B%5B"]),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.text(max_size=30).map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")))
#: A query: an integer parameter at an extreme (the classic overflow), then any names with hostile values.
extreme_integer = st.tuples(st.sampled_from(["page", "page_size", "startIndex", "count"]),
                            st.sampled_from(["99999999999999999999", "-99999999999999999999", "9223372036854775808",
                                             "2147483648", "1e23", "-1", "0", "NaN", "%00"]))
queries = st.tuples(extreme_integer, st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), st.just("a%00b")),
                                                        hostile_values), max_size=4)).map(
    lambda drawn: "&".join(f"{k}={v}" for k, v in [drawn[0], *drawn[1]]))
segments = st.one_of(st.sampled_from(["%00", "a%00", "%ED%A0%80", "x" * 3000, "..", "%2F", "acme", "-1",
                                      "99999999999999999999", str(uuid.uuid4())]),
                     st.text(min_size=1, max_size=20).map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")))
content_types = st.sampled_from(["application/json", "application/json", "application/json",
                                 "application/scim+json", "text/plain", "text/csv", None])
csv_bodies = st.one_of(st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
                       st.sampled_from([b"email,name,role\n=cmd|' /C calc'!A0,\x00,admin\n", b"\xff\xfe\x00",
                                        b'"unterminated\n', b"a\x00b,c\n", b"email\n" + b"x@y.z," * 5000]))


def operations(app, prefix: str):
    """Yield (rule, method) for every route under `prefix`, deletions last."""
    routes = [(rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)
              for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(routes, key=lambda route: (route[1] == "DELETE", route[0].rule, route[1]))


def request_properties(spec: dict, path: str, method: str) -> dict:
    """The properties of an operation's JSON request body in the OpenAPI document."""
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema.get("properties", {})


@pytest.fixture
def world(session, org, org_admin, make_user, org_token, staff_token, make_contact):  # noqa: F811
    """Objects the routes' ids point at, so hostile bodies reach the services behind them."""
    member = make_user(org, "member@example.com", display_name="Member")
    group = groups.create(org, "Engineers", members=[str(member.id)])
    contact = make_contact("contact@example.org")
    session.commit()
    return {"ids": {"user_id": member.id, "group_id": group.id, "contact_id": contact.id, "slug": "acme"},
            "tenant_token": org_token, "staff_token": staff_token}


def _url(rule, world, data, hostile_path: bool) -> str:
    def fill(match):
        converter, name = match.group(1), match.group(2)
        if converter == "uuid":
            return str(world["ids"].get(name, uuid.uuid4()))
        if name in world["ids"] and not hostile_path:
            return str(world["ids"][name])
        return data.draw(segments)
    return _ARG.sub(fill, rule.rule)


#: Where a case puts its hostility, each reaching its own parser (a bad query is refused before the body
#: is read): the query, a path segment, a multipart form, or the body with one class of hostile value.
FOCUS = ["query", "path", "form", "broken", *sorted(HOSTILE)]


def _fuzz(app, client, world, prefix: str, bodies_of) -> tuple[int, list[str]]:
    """Run EXAMPLES generated cases for every operation under `prefix` and every focus; return count, failures."""
    failures, before = [], CASES.get(prefix, 0)
    for rule, method in operations(app, prefix):
        capability = declared_capability(app.view_functions[rule.endpoint], method)
        token = world["staff_token"] if capability else world["tenant_token"]
        for focus in FOCUS if method != "GET" else ["query", "path"]:
            if focus == "broken":
                body = broken
            elif focus in HOSTILE:
                body = bodies_of(rule, method, HOSTILE[focus])

            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(data=st.data())
            def run(data):
                CASES[prefix] = CASES.get(prefix, 0) + 1
                url = _url(rule, world, data, hostile_path=focus == "path")
                if focus == "query":
                    url += "?" + data.draw(queries)
                kwargs = {"headers": {**bearer(token), "If-Match": data.draw(st.sampled_from(["*", 'W/"1"', "x"]))}}
                if focus == "form":
                    kwargs["data"] = {"file": (io.BytesIO(data.draw(csv_bodies)), "contacts.csv"),
                                      "source": data.draw(st.sampled_from(["event", "event\x00", "x" * 10_000])),
                                      "basis": data.draw(st.sampled_from(["consent", "", "\x00"]))}
                elif focus not in ("query", "path"):
                    content_type = data.draw(content_types)
                    kwargs["data"] = data.draw(csv_bodies if content_type == "text/csv" else body)
                    if content_type:
                        kwargs["content_type"] = content_type
                response = client.open(url, method=method, **kwargs)
                STATUSES.setdefault(prefix, Counter())[response.status_code] += 1
                assert response.status_code < 500, (method, url[:200], response.status_code,
                                                     response.get_data(as_text=True)[:300])

            try:
                run()
            except Exception as exc:  # every operation's failures, reported together
                failures.append(f"{method} {rule.rule} ({focus}): {str(exc)[:800]}")
    return CASES.get(prefix, 0) - before, failures


def test_hostile_input_to_every_api_operation(app, client, world):
    spec = client.get("/api/openapi.json").json
    flask_path = re.compile(r"<(?:\w+:)?(\w+)>")

    def bodies_of(rule, method, values):
        properties = request_properties(spec, flask_path.sub(r"{\1}", rule.rule), method)
        return bodies({name: good_value(name, prop, world["ids"]) for name, prop in properties.items()}, values)

    cases, failures = _fuzz(app, client, world, "/api/", bodies_of)
    statuses = STATUSES["/api/"]
    print(f"hostile API suite: {cases} cases over {len(operations(app, '/api/'))} operations; "
          f"statuses {sorted(statuses.items())}")
    assert not failures, "\n".join(failures)
    assert cases >= 200 * EXAMPLES and statuses[400] and (statuses[200] + statuses[201])


def test_hostile_input_to_every_scim_operation(app, client, world):
    cases, failures = _fuzz(app, client, world, "/scim/v2", lambda rule, method, values: scim_bodies(values))
    statuses = STATUSES["/scim/v2"]
    print(f"hostile SCIM suite: {cases} cases over {len(operations(app, '/scim/v2'))} operations; "
          f"statuses {sorted(statuses.items())}")
    assert not failures, "\n".join(failures)
    assert cases >= 200 * EXAMPLES and statuses[400] and statuses[200]
