"""PostgreSQL row-level security: an unscoped query inside a tenant's request sees only that tenant."""
import pytest
import sqlalchemy as sa

from privacy_saas import rls
from privacy_saas.audit.models import AuditEntry
from privacy_saas.extensions import db
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import bearer

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_tenants(org, other_org, make_user):
    make_user(org, "a1@acme.example")
    make_user(org, "a2@acme.example")
    make_user(other_org, "g1@globex.example")
    return org, other_org


def tenant_ids(conn):
    return {row[0] for row in conn.exec_driver_sql("SELECT tenant_id FROM registered_users")}


def test_unscoped_select_in_a_tenant_scoped_transaction_sees_one_tenant(session, two_tenants, as_app_role):
    org, other_org = two_tenants
    assert tenant_ids(as_app_role) == set()  # no scope, no bypass: nothing
    rls.scope_to_tenant(org.id)
    assert tenant_ids(as_app_role) == {org.id}
    rls.scope_to_tenant(other_org.id)
    assert tenant_ids(as_app_role) == {other_org.id}
    # Another tenant's rows cannot be written either: they are not there.
    result = as_app_role.execute(sa.update(RegisteredUser).where(RegisteredUser.tenant_id == org.id)
                                 .values(role="admin"))
    assert result.rowcount == 0
    # Moving a visible row to another tenant fails the policy's WITH CHECK.
    with pytest.raises(sa.exc.DBAPIError, match="row-level security"), session.begin_nested():
        as_app_role.execute(sa.update(RegisteredUser).where(RegisteredUser.tenant_id == other_org.id)
                            .values(tenant_id=org.id))


def test_bypass_is_explicit_and_audited(session, two_tenants, as_app_role):
    org, other_org = two_tenants
    rls.scope_to_tenant(org.id)
    with rls.bypass("test"):
        assert tenant_ids(as_app_role) == {org.id, other_org.id}
    assert tenant_ids(as_app_role) == {org.id}
    session.commit()  # entries join their chain when the transaction commits
    assert session.scalar(sa.select(AuditEntry.detail).where(AuditEntry.action == "rls.bypass")) == {"reason": "test"}


def test_a_tenant_request_with_a_missing_filter_still_gets_its_own_rows(client, two_tenants, org_token,
                                                                        as_app_role, monkeypatch):
    org, other_org = two_tenants
    real_query = users.query

    def forgot_the_tenant_filter(tenant, **kwargs):
        stmt = real_query(tenant, **kwargs)
        return sa.select(RegisteredUser).order_by(RegisteredUser.id) if stmt is not None else stmt

    monkeypatch.setattr(users, "query", forgot_the_tenant_filter)
    response = client.get("/api/v1/users", headers=bearer(org_token))
    assert response.status_code == 200
    emails = {u["email"] for u in response.json}
    assert emails == {"a1@acme.example", "a2@acme.example"}


def test_sessions_are_scoped_by_who_calls(app, client, session, org, org_token, staff_token, monkeypatch):
    seen = []
    real = rls._apply

    def spy(connection, info):
        seen.append((info.get(rls.TENANT_KEY), bool(info.get(rls.BYPASS_KEY))))
        real(connection, info)

    monkeypatch.setattr(rls, "_apply", spy)
    assert client.get("/api/v1/users", headers=bearer(org_token)).status_code == 200
    assert (org.id, False) in seen and not any(b for _, b in seen)
    seen.clear()
    assert client.get("/api/v1/tenants", headers=bearer(staff_token)).status_code == 200
    assert seen and all(b and t is None for t, b in seen)
    assert "rls_tenant_id" not in db.session().info
