"""schemathesis against /api/openapi.json on a live loopback server: no 5xx, responses match the spec."""
import re
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from privacy_saas.auth import service as staff_service
from privacy_saas.auth import tokens
from privacy_saas.auth.principal import declared_capability
from privacy_saas.processor.users.tokens import create_token
from tests.helpers import bearer, new_tenant, serving

#: Generated cases per operation (about 30 operations), bounded to keep `make test` short.
MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CASES = {"count": 0}


@pytest.fixture
def live(app, committed):
    tenant = new_tenant("fuzz")
    staff = staff_service.create_staff("fuzz-admin@vendor.example", "admin", "correct horse battery")
    staff_token = tokens.issue(kind="staff", name="fuzz", staff_id=staff.id)[1]
    tenant_token = create_token(tenant, "fuzz", actor=("test", None))[1]
    committed.commit()
    with serving(app) as base:
        yield base, staff_token, tenant_token


def _token_for(app, path: str, method: str, staff_token: str, tenant_token: str) -> str:
    concrete = re.sub(r"\{[a-z_]+_id\}", lambda _: str(uuid.uuid4()), path.replace("{slug}", "fuzz"))
    endpoint, _ = app.url_map.bind("localhost").match(concrete, method=method.upper())
    return staff_token if declared_capability(app.view_functions[endpoint], method) else tenant_token


def test_openapi_fuzz(app, live):
    base, staff_token, tenant_token = live
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures = []
    for operation in operations:
        token = _token_for(app, operation.path, operation.method, staff_token, tenant_token)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            CASES["count"] += 1
            response = case.call(base_url=base, headers=bearer(token))
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except BaseException as exc:  # every operation's failures, reported together
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    print(f"schemathesis: {CASES['count']} cases over {len(operations)} operations")
    assert not failures, "\n".join(failures)
