"""`[notices]` in tenant files (notice periods, privacy contacts) and the privacy contacts a tenant admin keeps."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.processor.privacy_contacts import service as privacy_contacts
from privacy_saas.processor.privacy_contacts.models import PrivacyContact
from privacy_saas.processor.tenants.files import load_file
from privacy_saas.processor.tenants.models import Tenant
from tests.helpers import bearer

ACME = """\
slug = "acme"
name = "Acme Ltd"
region = "eu"

[contract]
start = 2025-01-01
end_action = "delete"
{notices}
[[admins]]
email = "it-admin@acme.example"
name = "Ada Admin"
"""
NOTICES = """
[notices]
subprocessor_notice = "P45D"
breach_notice = "PT24H"
privacy_contacts = [{contacts}]
"""


@pytest.fixture(autouse=True)
def _today():
    clock.travel_to(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))


def write(directory, notices: str = "", contacts: str = '"dpo@acme.example"'):
    directory.mkdir(exist_ok=True)
    path = directory / "acme.toml"
    path.write_text(ACME.format(notices=notices.format(contacts=contacts) if notices else ""), encoding="utf-8")
    return path


def apply(runner, directory):
    return runner.invoke(args=["tenants", "apply", str(directory), "--yes"])


def acme(session) -> Tenant:
    session.expire_all()
    return session.scalar(sa.select(Tenant).where(Tenant.slug == "acme"))


def emails(session, tenant) -> dict:
    session.expire_all()
    return {c.email: c.source for c in privacy_contacts.list_for(tenant)}


def test_defaults_when_the_file_says_nothing(tmp_path):
    spec, errors = load_file(write(tmp_path / "t"))
    assert errors == []
    assert (spec.subprocessor_notice, spec.breach_notice, spec.privacy_contacts) == ("P30D", "PT48H", ())


@pytest.mark.parametrize("line,field,message", [
    ('subprocessor_notice = "30 days"', "notices.subprocessor_notice", "ISO-8601 period"),
    ('subprocessor_notice = "PT48H"', "notices.subprocessor_notice", "ISO-8601 period"),
    ('subprocessor_notice = "P0D"', "notices.subprocessor_notice", "positive"),
    ('breach_notice = "PT96H"', "notices.breach_notice", "72 hours"),
    ('breach_notice = "P1M"', "notices.breach_notice", "hours or days"),
    ('breach_notice = "PT0H"', "notices.breach_notice", "positive"),
    ('breach_notice = "-PT1H"', "notices.breach_notice", "ISO-8601 duration"),
    ('breach_notice = 48', "notices.breach_notice", "Not a valid string"),
    ('privacy_contacts = ["not-an-address"]', "notices.privacy_contacts.0", "email"),
    ('privacy_contacts = ["a@acme.example", "A@Acme.example"]', "notices.privacy_contacts", "twice"),
    ('privacy_contacts = "dpo@acme.example"', "notices.privacy_contacts", "list"),
    ('fax = "+44 20"', "notices.fax", "Unknown field"),
])
def test_bad_notice_terms_name_the_field(tmp_path, line, field, message):
    path = write(tmp_path / "t", notices=f"\n[notices]\n{line}\n")
    spec, errors = load_file(path)
    assert spec is None
    assert any(e.field == field and message.lower() in e.message.lower() for e in errors), [str(e) for e in errors]


def test_apply_stores_terms_and_sealed_contacts_then_follows_the_file(runner, session, tmp_path):
    directory = tmp_path / "tenants"
    write(directory, NOTICES, '"dpo@acme.example", "legal@acme.example"')
    result = apply(runner, directory)
    assert result.exit_code == 0, result.output
    tenant = acme(session)
    assert (tenant.subprocessor_notice, tenant.breach_notice) == ("P45D", "PT24H")
    assert emails(session, tenant) == {"dpo@acme.example": "file", "legal@acme.example": "file"}
    raw = session.execute(sa.text("SELECT email_ct FROM privacy_contacts")).scalars().all()
    assert len(raw) == 2 and not any(b"acme.example" in bytes(r) for r in raw)
    # A tenant admin adds one of its own; the file then drops one of its two and adds another.
    privacy_contacts.add(tenant, "ciso@acme.example", actor=("test", None))
    session.commit()
    write(directory, NOTICES, '"dpo@acme.example", "privacy@acme.example"')
    planned = runner.invoke(args=["tenants", "plan", str(directory)])
    assert "privacy_contacts: 2 -> 2 (+1 -1)" in planned.output
    assert "@" not in planned.output  # counts only: addresses never reach a terminal or a CI log
    assert apply(runner, directory).exit_code == 0
    assert emails(session, tenant) == {"dpo@acme.example": "file", "privacy@acme.example": "file",
                                       "ciso@acme.example": "console"}
    assert "nothing to apply" in apply(runner, directory).output
    # Audit entries name contact ids only.
    session.commit()
    details = session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("privacy_contact.%"))).all()
    assert details and not any("@" in str(e.targets) + str(e.detail) for e in details)


def test_a_contact_named_by_the_file_and_added_in_the_console_becomes_the_files(runner, session, tmp_path):
    directory = tmp_path / "tenants"
    write(directory)
    apply(runner, directory)
    tenant = acme(session)
    privacy_contacts.add(tenant, "DPO@acme.example", actor=("test", None))
    session.commit()
    write(directory, NOTICES, '"dpo@acme.example"')
    assert apply(runner, directory).exit_code == 0
    assert emails(session, tenant) == {"DPO@acme.example": "file"}


@pytest.fixture
def admin_headers(org, org_token):
    return bearer(org_token)


def test_api_lists_adds_and_removes(client, session, org, admin_headers, other_org, other_token):
    added = client.post("/api/v1/privacy-contacts", json={"email": "dpo@acme.example"}, headers=admin_headers)
    assert added.status_code == 201 and added.json["source"] == "console"
    assert client.post("/api/v1/privacy-contacts", json={"email": "DPO@acme.example "},
                       headers=admin_headers).status_code == 409
    assert client.post("/api/v1/privacy-contacts", json={"email": "nope"}, headers=admin_headers).status_code == 400
    assert [c["email"] for c in client.get("/api/v1/privacy-contacts", headers=admin_headers).json] == ["dpo@acme.example"]
    # Another tenant neither sees nor removes it.
    assert client.get("/api/v1/privacy-contacts", headers=bearer(other_token)).json == []
    assert client.delete(f"/api/v1/privacy-contacts/{added.json['id']}", headers=bearer(other_token)).status_code == 404
    assert client.delete(f"/api/v1/privacy-contacts/{added.json['id']}", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/privacy-contacts", headers=admin_headers).json == []


def test_contacts_from_the_file_are_not_removed_by_tenant_admins(client, session, org, admin_headers):
    privacy_contacts.sync_file(org, ["dpo@acme.example"])
    session.commit()
    [contact] = client.get("/api/v1/privacy-contacts", headers=admin_headers).json
    refused = client.delete(f"/api/v1/privacy-contacts/{contact['id']}", headers=admin_headers)
    assert refused.status_code == 409 and refused.json["code"] == "contact_from_file"


def test_notices_go_to_active_admins_and_contacts_once_each(session, org, make_user):
    make_user(org, "admin@acme.example", role="admin")
    make_user(org, "member@acme.example")
    gone = make_user(org, "former@acme.example", role="admin")
    from privacy_saas.processor.users import service as users

    users.disable(org, gone, actor=("test", None))
    privacy_contacts.add(org, "Admin@Acme.example", actor=("test", None))
    privacy_contacts.add(org, "dpo@acme.example", actor=("test", None))
    assert privacy_contacts.notice_recipients(org) == ["admin@acme.example", "dpo@acme.example"]
    assert session.scalar(sa.select(sa.func.count()).select_from(PrivacyContact)) == 2


@pytest.fixture
def both_contacts(session, org, other_org):
    privacy_contacts.add(org, "dpo@acme.example", actor=("test", None))
    privacy_contacts.add(other_org, "dpo@globex.example", actor=("test", None))
    session.commit()
    return org, other_org


@pytest.mark.postgres
def test_row_level_security_fences_privacy_contacts(session, both_contacts, as_app_role):
    from privacy_saas import rls

    org, other_org = both_contacts
    seen = lambda: {row[0] for row in as_app_role.exec_driver_sql("SELECT tenant_id FROM privacy_contacts")}  # noqa: E731
    assert seen() == set()
    rls.scope_to_tenant(org.id)
    assert seen() == {org.id}
    assert [c.email for c in privacy_contacts.list_for(other_org)] == []  # even asked by id, RLS answers nothing
