"""Invitations from every way of adding a user, tenant-file admins, and the mail interface."""
import email
import email.policy
from pathlib import Path

import pytest

from privacy_saas import mail
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.tenants.files import load_dir
from privacy_saas.processor.users import importer, invitations, service

TENANT_FILE = """
slug = "initech"
name = "Initech"
region = "us"
[contract]
start = 2025-01-01
end_action = "delete"
[[admins]]
email = "bill@initech.example"
name = "Bill Lumbergh"
{extra}
"""


@pytest.fixture(autouse=True)
def own_outbox(app, tmp_path, monkeypatch):
    """Each test reads only the mail it sent."""
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))


def outbox(app):
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(Path(app.config["OUTBOX_DIR"]).rglob("*.eml"))]


def to(app, address):
    return [m for m in outbox(app) if m["To"] == address]


def write_file(tmp_path, extra=""):
    (tmp_path / "initech.toml").write_text(TENANT_FILE.format(extra=extra))
    specs, errors = load_dir(tmp_path)
    assert not errors
    return specs


def test_tenant_file_admins_are_created_as_admins_and_invited(app, session, tmp_path, caplog):
    specs = write_file(tmp_path)
    tenants.apply(specs)
    tenant = tenants.get_by_slug("initech")
    bill = service.find_by_email(tenant, "bill@initech.example")
    assert bill.role == "admin" and bill.display_name == "Bill Lumbergh" and bill.password_hash is None
    assert len(to(app, "bill@initech.example")) == 1
    assert "bill@initech.example" not in caplog.text and "Lumbergh" not in caplog.text
    # Applying again changes nothing and sends nothing.
    assert [c.action for c in tenants.plan(specs)] == ["unchanged"]
    tenants.apply(specs)
    assert len(to(app, "bill@initech.example")) == 1
    # A second admin added to the file is invited; an existing member named there is promoted.
    service.create(tenant, email="milton@initech.example", actor=("test", None))
    specs = write_file(tmp_path, '[[admins]]\nemail = "peter@initech.example"\nname = "Peter"\n'
                                 '[[admins]]\nemail = "milton@initech.example"\nname = "Milton"\n')
    change = tenants.plan(specs)[0]
    assert change.action == "update" and change.changes["admins"] == (1, 3)
    tenants.apply(specs)
    assert service.find_by_email(tenant, "peter@initech.example").role == "admin"
    assert service.find_by_email(tenant, "milton@initech.example").role == "admin"
    assert len(to(app, "peter@initech.example")) == 1 and not to(app, "milton@initech.example")


def test_cli_apply_invites_with_a_link_that_opens_the_set_password_page(app, runner, client, tmp_path):
    write_file(tmp_path)
    result = runner.invoke(args=["tenants", "apply", str(tmp_path), "--yes"])
    assert result.exit_code == 0, result.output
    [message] = to(app, "bill@initech.example")
    # No request to take a host from: the link is built from the URL map under the default root.
    link = next(line for line in message.get_content().splitlines() if "://" in line)
    assert link.startswith("http://localhost:5000/console/t/set-password/")
    page = client.get(link.removeprefix("http://localhost:5000"))
    assert page.status_code == 200 and "Initech" in page.get_data(as_text=True)


def test_import_invites_each_created_user(app, session, org):
    result = importer.import_csv(org, "a@example.com,A,member\nb@example.com,B,admin\n", actor=("test", None))
    assert result.created == 2 and len(result.invitations) == 2
    assert len(to(app, "a@example.com")) == 1 and len(to(app, "b@example.com")) == 1


def test_mail_uses_smtp_when_configured(app, monkeypatch):
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            sent.append(("starttls",))

        def send_message(self, message):
            sent.append(("send", message["To"]))

    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    with app.app_context():
        monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.net")
        mail.send(mail.Message(to="ada@example.com", subject="s", body="b"))
    assert sent == [("connect", "smtp.example.net", 587), ("starttls",), ("send", "ada@example.com")]


def test_invitation_link_uses_public_url(app, session, org, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://admin.example.com/")
    user = make_user(org, "ada@example.com")
    invitation = invitations.invite_user(org, user, actor=("test", None))
    assert invitation.url.startswith("https://admin.example.com/console/t/set-password/")


def test_scim_users_get_no_invitation(app, client, session, org, org_token):
    from tests.helpers import bearer

    response = client.post("/scim/v2/Users", json={"userName": "scim@example.com"}, headers=bearer(org_token))
    assert response.status_code == 201
    assert not to(app, "scim@example.com")


@pytest.mark.parametrize("password", [None, "a long enough password"])
def test_api_invites_only_without_password(app, client, session, org, org_token, password):
    from tests.helpers import bearer

    body = {"email": "new@example.com", **({"password": password} if password else {})}
    assert client.post("/api/v1/users", json=body, headers=bearer(org_token)).status_code == 201
    assert len(to(app, "new@example.com")) == (0 if password else 1)
