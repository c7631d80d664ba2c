"""Getting in: the arrival page, the organisation sign-in, the invitation mail as written, `demo welcome`."""
import re
from pathlib import Path

import pytest

from privacy_saas.auth import service as staff_service
from privacy_saas.processor.users import service as users
from tests.helpers import csrf_token

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_outbox(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setitem(app.config, "PUBLIC_URL", "http://127.0.0.1:5999")


def test_the_root_offers_both_sign_ins_and_takes_an_organisation(client, session):
    page = client.get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/console/login"' in text and 'name="organisation"' in text
    onward = client.get("/?organisation=%20Acme%20")
    assert onward.status_code == 302 and onward.headers["Location"] == "/console/t/login?organisation=Acme"


def test_the_organisation_login_is_prefilled_case_insensitive_and_names_an_unknown_one(client, session, org,
                                                                                       make_user):
    make_user(org, "ada@acme.example", role="admin", password="correct horse battery")
    session.commit()
    page = client.get("/console/t/login?organisation=acme").get_data(as_text=True)
    assert 'id="organisation" maxlength="63" name="organisation" required type="text" value="acme"' in page
    unknown = client.post("/console/t/login", data={"csrf_token": csrf_token(page), "organisation": "Acme Ltd",
                                                    "email": "ada@acme.example", "password": "correct horse battery"})
    text = unknown.get_data(as_text=True)
    assert unknown.status_code == 401 and "There is no organisation “Acme Ltd”" in text and "slug" in text
    wrong = client.post("/console/t/login", data={"csrf_token": csrf_token(page), "organisation": "acme",
                                                  "email": "ada@acme.example", "password": "wrong password!"})
    assert wrong.status_code == 401 and "Wrong e-mail or password" in wrong.get_data(as_text=True)
    right = client.post("/console/t/login", data={"csrf_token": csrf_token(page), "organisation": " ACME ",
                                                  "email": "ada@acme.example", "password": "correct horse battery"})
    assert right.status_code == 302


def test_the_invitation_mail_as_written_names_the_organisation_and_keeps_links_whole(app, session, org):
    users.create(org, email="new.person.with.a.long.address@acme.example", display_name="New Person",
                 role="admin", invite=True, actor=("test", None))
    session.commit()
    [path] = Path(app.config["OUTBOX_DIR"]).rglob("*.eml")
    raw = path.read_bytes().decode("ascii")
    assert "Content-Transfer-Encoding: 7bit" in raw and "=\n" not in raw and "=3D" not in raw
    # Each link is whole on one line of the file, under the configured public URL.
    lines = raw.splitlines()
    assert len([line for line in lines if re.fullmatch(r"http://127\.0\.0\.1:5999/console/t/set-password/[\w-]{43}",
                                                        line)]) == 1
    assert "http://127.0.0.1:5999/console/t/login?organisation=acme" in lines
    assert "Organisation: acme" in raw and "Acme Ltd" in raw
    assert max(len(line) for line in raw.splitlines()) < 100


def test_demo_welcome_prints_working_credentials_and_invitation_links(app, runner, client, session, tmp_path):
    applied = runner.invoke(args=["tenants", "apply", str(REPO / "tenants"), "--yes"])
    assert applied.exit_code == 0, applied.output
    result = runner.invoke(args=["demo", "welcome", "--tenants-dir", str(REPO / "tenants")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("┌") and out.rstrip().endswith("┘")
    password = re.search(r"demo-admin@vendor\.example / (\S+)", out).group(1)
    assert staff_service.authenticate("demo-admin@vendor.example", password) is not None
    assert "organisation: acme" in out and "/console/t/login?organisation=acme" in out
    links = re.findall(r"set a password at http://127\.0\.0\.1:5999(/console/t/set-password/\S+)", out)
    assert len(links) >= 2
    assert client.get(links[0]).status_code == 200  # the newest link works
    # Again (a second `make run`): a new password, and the staff account is still the one.
    again = runner.invoke(args=["demo", "welcome", "--tenants-dir", str(REPO / "tenants")])
    assert re.search(r"demo-admin@vendor\.example / (\S+)", again.output).group(1) != password
    assert client.get(links[0]).status_code == 404  # superseded by the newer invitation
