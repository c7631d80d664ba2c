"""Audit API fixtures: the processor fixtures (keyed tenants, users, tokens)."""
from tests.processor.conftest import (  # noqa: F401  (pytest fixtures)
    PASSWORD,
    make_keyed_tenant,
    make_token,
    make_user,
    org,
    org_admin,
    org_token,
    other_org,
    other_token,
)
