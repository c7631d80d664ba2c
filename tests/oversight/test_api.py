"""Audit API, CSV export and console page: who sees which entries, filters, sign-in entries."""
import csv
import io
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.auth import tokens
from tests.console.test_console_login import sign_in
from tests.helpers import bearer


@pytest.fixture
def entries(session, org, other_org):
    clock.travel_to(datetime(2026, 1, 10, tzinfo=timezone.utc))
    audit.record("user.create", tenant_id=org.id, targets=[org.id], actor=("test", None))
    audit.record("user.remove", tenant_id=org.id, outcome="failed", actor=("test", None))
    clock.travel_to(datetime(2026, 2, 10, tzinfo=timezone.utc))
    audit.record("user.create", tenant_id=other_org.id, actor=("test", None))
    audit.record("tenant.apply", actor=("cli", None))
    session.commit()


def token_for(role, make_staff):
    staff = make_staff(role)[0]
    return tokens.issue(kind="staff", name="t", staff_id=staff.id)[1]


def actions(response):
    assert response.status_code == 200, response.json
    return [(e["action"], e["tenant_id"]) for e in response.json if e["action"] != "token.use"]


def test_staff_with_audit_read_sees_every_scope_newest_first(client, entries, make_staff, org, other_org):
    got = actions(client.get("/api/v1/audit", headers=bearer(token_for("dpo", make_staff))))
    assert ("tenant.apply", None) in got and ("user.create", str(org.id)) in got
    assert ("user.create", str(other_org.id)) in got
    assert got.index(("user.create", str(other_org.id))) < got.index(("user.create", str(org.id)))


@pytest.mark.parametrize("role", ["support", "account_manager"])
def test_staff_without_audit_read_is_refused(client, entries, make_staff, role):
    response = client.get("/api/v1/audit", headers=bearer(token_for(role, make_staff)))
    assert response.status_code == 403
    assert client.get("/api/v1/audit.csv", headers=bearer(token_for(role, make_staff))).status_code == 403


def test_anonymous_is_401(client):
    assert client.get("/api/v1/audit").status_code == 401
    assert client.get("/api/v1/audit.csv").status_code == 401


def test_tenant_token_sees_its_own_tenant_only(client, entries, org, other_org, org_token):
    got = actions(client.get("/api/v1/audit", headers=bearer(org_token)))
    assert got and {tenant_id for _, tenant_id in got} == {str(org.id)}
    # Its own slug is fine; another tenant's is refused rather than silently widened.
    assert client.get("/api/v1/audit?tenant=acme", headers=bearer(org_token)).status_code == 200
    assert client.get("/api/v1/audit?tenant=globex", headers=bearer(org_token)).status_code == 403


def test_filters(client, entries, make_staff, org):
    headers = bearer(token_for("admin", make_staff))
    assert actions(client.get("/api/v1/audit?tenant=acme&outcome=failed", headers=headers)) == [
        ("user.remove", str(org.id))]
    assert {a for a, _ in actions(client.get("/api/v1/audit?action=user.", headers=headers))} == {
        "user.create", "user.remove"}
    got = actions(client.get("/api/v1/audit?action=user.create&until=2026-02-01T00:00:00Z", headers=headers))
    assert got == [("user.create", str(org.id))]
    got = actions(client.get("/api/v1/audit?since=2026-02-01T00:00:00%2B00:00&action=user.create",
                             headers=headers))
    assert len(got) == 1 and got[0][1] != str(org.id)
    assert client.get("/api/v1/audit?tenant=nope", headers=headers).status_code == 404
    assert client.get("/api/v1/audit?outcome=maybe", headers=headers).status_code == 400


def test_pagination(client, session, org, make_staff):
    for _ in range(7):
        audit.record("user.update", tenant_id=org.id, actor=("test", None))
    session.commit()
    headers = bearer(token_for("admin", make_staff))
    first = client.get("/api/v1/audit?action=user.update&page_size=5", headers=headers)
    second = client.get("/api/v1/audit?action=user.update&page_size=5&page=2", headers=headers)
    assert len(first.json) == 5 and len(second.json) == 2
    assert '"total": 7' in first.headers["X-Pagination"]
    assert not {e["id"] for e in first.json} & {e["id"] for e in second.json}


def test_csv_export(client, entries, make_staff, org):
    response = client.get("/api/v1/audit.csv?tenant=acme", headers=bearer(token_for("dpo", make_staff)))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["user.remove", "user.create"]
    assert rows[1]["tenant_id"] == str(org.id) and len(rows[1]["hash"]) == 64


def test_staff_sign_ins_are_audited_by_id_never_by_email(client, session, make_staff):
    staff, password = make_staff("support", email="signin-canary@vendor.example")
    session.commit()
    assert sign_in(client, "signin-canary@vendor.example", "wrong password!!").status_code == 401
    assert sign_in(client, "nobody-canary@vendor.example", "wrong password!!").status_code == 401
    assert sign_in(client, "signin-canary@vendor.example", password).status_code == 302
    rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "staff.login")
                           .order_by(AuditEntry.seq)).all()
    assert [(r.outcome, r.actor_kind, r.actor_id, r.detail.get("reason")) for r in rows] == [
        ("failed", "staff", str(staff.id), "bad_credentials"),
        ("failed", "anonymous", None, "unknown_account"),
        ("ok", "staff", str(staff.id), None)]
    assert "canary" not in repr([(r.targets, r.detail) for r in rows])


def test_registered_user_failed_sign_in_is_audited(session, org, org_admin):
    from privacy_saas.processor.users import signin

    assert signin.authenticate(org, "admin@acme.example", "not the password") is None
    assert signin.authenticate(org, "ghost@acme.example", "not the password") is None
    session.commit()  # entries join their chain when the transaction commits
    rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user.login")
                           .order_by(AuditEntry.seq)).all()
    assert [(r.outcome, r.actor_id) for r in rows] == [("failed", str(org_admin.id)), ("failed", None)]
    assert all("@" not in repr(r.detail) + repr(r.targets) for r in rows)


def test_token_use_is_audited_at_the_touch_rate(client, session, org, org_token):
    client.get("/api/v1/users", headers=bearer(org_token))
    client.get("/api/v1/users", headers=bearer(org_token))
    rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "token.use")).all()
    assert len(rows) == 1 and rows[0].tenant_id == org.id and rows[0].actor_kind == "tenant_token"


def test_console_audit_page(client, session, entries, make_staff):
    _, password = make_staff("dpo", email="dpo-audit@vendor.example")
    _, support_password = make_staff("support", email="support-audit@vendor.example")
    session.commit()
    sign_in(client, "dpo-audit@vendor.example", password)
    page = client.get("/console/audit?tenant=acme&action=user.")
    assert page.status_code == 200 and "user.remove" in page.text and "tenant.apply" not in page.text
    assert client.get("/console/audit?since=garbage").status_code == 400
    client.post("/console/logout", data={})
    other = client.application.test_client()
    sign_in(other, "support-audit@vendor.example", support_password)
    assert other.get("/console/audit").status_code == 403
