"""The issue-17 journeys end to end in a real browser (headless Debian Chromium through Playwright), from
what `make run` prints: staff first sign-in; a tenant admin from the invitation mail to a first user, a CSV
import with errors and their audit page; staff offboarding (confirmation, reinstate, end again, purge until
the certificate page); a DSR access request from intake to export download; a zero-match request closed;
a contact unsubscribed through its link and refused on re-import.

Screenshots go to $PRIVACY_SAAS_ARTIFACTS_DIR/journeys if set, else the test's tmp_path (printed)."""
import email
import email.policy
import os
import re
from pathlib import Path

import pytest

from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant
from tests.console.test_browser import page  # noqa: F401  (the Chromium fixture)
from tests.helpers import serving

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NEW_PASSWORD = "a long enough passphrase"


@pytest.fixture
def shots(request, tmp_path):
    """Save numbered full-page screenshots of a journey; returns shoot(page, name)."""
    root = os.environ.get("PRIVACY_SAAS_ARTIFACTS_DIR")
    folder = Path(root) / "journeys" / request.node.name if root else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    taken = []

    def shoot(tab, name: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    yield shoot
    assert taken and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in taken)


@pytest.fixture
def instance(app, committed, monkeypatch, tmp_path):
    """What `make run` sets up, served on a loopback port: the shipped tenant files applied, `demo welcome`'s
    output, a vendor contact; jobs run in-process as `make run` does without Redis."""
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))
    with serving(app) as url:
        monkeypatch.setitem(app.config, "PUBLIC_URL", url)
        cli = app.test_cli_runner()
        applied = cli.invoke(args=["tenants", "apply", str(REPO / "tenants"), "--yes"])
        assert applied.exit_code == 0, applied.output
        welcome = cli.invoke(args=["demo", "welcome", "--tenants-dir", str(REPO / "tenants")])
        assert welcome.exit_code == 0, welcome.output
        ensure_ready()
        contacts.create({"email": "grace@example.org", "name": "Grace Hopper", "source": "event",
                         "lawful_basis": "legitimate_interest"})
        committed.commit()
        yield {"url": url, "banner": welcome.output, "cli": cli, "outbox": tmp_path / "outbox"}


def staff_sign_in(tab, instance) -> None:
    password = re.search(r"demo-admin@vendor\.example / (\S+)", instance["banner"]).group(1)
    tab.goto(instance["url"] + "/")
    tab.click("#choose-staff a")
    tab.fill("#email", "demo-admin@vendor.example")
    tab.fill("#password", password)
    tab.click("button[type=submit]")
    tab.wait_for_url(instance["url"] + "/console/")


def test_staff_first_sign_in_from_the_make_run_banner(instance, page, shots):  # noqa: F811
    banner = instance["banner"]
    assert banner.startswith("┌") and f"privacy_saas is running at {instance['url']}/" in banner
    page.goto(instance["url"] + "/")
    shots(page, "arrival")
    staff_sign_in(page, instance)
    assert page.locator("#tenants tbody tr", has_text="acme").count() == 1
    shots(page, "tenants")


def test_tenant_admin_from_invitation_mail_to_users_import_and_audit(instance, page, shots, tmp_path):  # noqa: F811
    url = instance["url"]
    [mail] = [m for m in (email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                          for p in sorted(instance["outbox"].rglob("*.eml"), key=lambda p: p.stat().st_mtime))
              if m["To"] == "it-admin@acme.example"][-1:]
    body = mail.get_content()
    assert "Organisation: acme" in body
    link = next(line for line in body.splitlines() if "/set-password/" in line)
    assert link.startswith(url)
    page.goto(link)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    shots(page, "set-password")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/console/t/login?organisation=acme")
    assert page.input_value("#organisation") == "acme"
    page.fill("#email", "it-admin@acme.example")
    page.fill("#password", NEW_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/console/t/users")
    shots(page, "users")

    page.click("text=Add user")
    page.fill("#email", "first.user@acme.example")
    page.fill("#display_name", "First User")
    page.click("main button[type=submit]")
    assert "first.user@acme.example" in page.inner_text("main")
    shots(page, "user-added")

    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,name,role\nsecond@acme.example,Second Person,member\nnot-an-address,Bad,member\n"
                        "third@acme.example,Third,owner\n")
    page.goto(url + "/console/t/users/import")
    page.set_input_files("#file", str(csv_file))
    page.click("#import-form button[type=submit]")
    report = page.inner_text("#import-report")
    assert "1 added" in report and "2 rejected" in report
    shots(page, "import-report")
    with page.expect_download() as download:
        page.click("#download-rejects button")
    rejects = Path(download.value.path()).read_text()
    assert "not-an-address" in rejects and "third@acme.example" in rejects

    page.goto(url + "/console/t/users?q=person")
    assert "second@acme.example" in page.inner_text("#users") and "first.user" not in page.inner_text("#users")
    shots(page, "search")
    page.click("nav >> text=Audit log")
    page.wait_for_url(url + "/console/t/audit")
    table = page.inner_text("#audit")
    assert "user.import" in table and "user.create" in table and "it-admin@acme.example" in table
    shots(page, "audit")


def test_staff_offboarding_confirm_reinstate_end_again_purge_certificate(instance, page, shots):  # noqa: F811
    url = instance["url"]
    staff_sign_in(page, instance)
    page.goto(url + "/console/tenants/initech")
    page.fill("#on", "2024-01-31")
    page.click("text=End contract…")
    assert "The contract ends now" in page.inner_text("#offboarding-when")
    shots(page, "confirm-end")
    page.fill("#typed", "initech")
    page.click("#confirm-end button[type=submit]")
    page.wait_for_url(url + "/console/tenants/initech")
    assert page.inner_text("#purge-phase") == "due"
    shots(page, "ended-due")

    page.click("#reinstate button[type=submit]")
    page.wait_for_url(url + "/console/tenants/initech")
    assert "Contract renewed" in page.inner_text("main") and page.inner_text("#purge-phase") == "not ended"
    shots(page, "reinstated")

    page.fill("#on", "2024-01-31")
    page.click("text=End contract…")
    page.fill("#typed", "initech")
    page.click("#confirm-end button[type=submit]")
    page.wait_for_url(url + "/console/tenants/initech")
    page.click("text=Purge now…")
    shots(page, "confirm-purge")
    page.fill("#typed", "initech")
    page.click("#confirm-purge button[type=submit]")
    page.wait_for_url(url + "/console/tenants/initech")
    # Run in-process as `make run` does: the page shows where it got to (here, already certified).
    shots(page, "after-purge")
    assert "purged" in page.inner_text("h1")
    page.click("text=Read the deletion certificate")
    assert "verified" in page.inner_text("#signature") and "Keys destroyed" in page.inner_text("#certificate")
    shots(page, "certificate")
    db.session.expire_all()
    assert db.session.query(Tenant).filter_by(slug="initech").one().status == "purged"


def test_dsr_access_from_intake_to_export_download_and_a_zero_match_closed(instance, page, shots):  # noqa: F811
    url = instance["url"]
    staff_sign_in(page, instance)
    page.goto(url + "/console/rights/")
    page.click("summary")
    page.select_option("#kind", "access")
    page.fill("#email", "grace@example.org")
    page.click("form[action$='/new'] button[type=submit]")
    assert "Access request" in page.inner_text("h1")
    page.click("text=Approve and carry out")
    shots(page, "access-approved")
    with page.expect_download() as download:
        page.click("form[id^=export-] button")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    page.reload()
    assert "export downloaded" in page.inner_text("#routing")
    shots(page, "export-downloaded")

    page.goto(url + "/console/rights/")
    page.click("summary")
    page.fill("#email", "nobody@nowhere.example")
    page.fill("#notes", "asked by phone")
    page.click("form[action$='/new'] button[type=submit]")
    assert "No personal data about this address was found" in page.input_value("#reason")
    shots(page, "zero-match")
    page.click("#close-request button[type=submit]")
    assert "Request closed" in page.inner_text("main") and "closed" in page.inner_text("#request-status")
    shots(page, "closed")


def test_a_contact_unsubscribes_through_its_link_and_is_refused_on_re_import(instance, page, shots,  # noqa: F811
                                                                             tmp_path):
    url = instance["url"]
    staff_sign_in(page, instance)
    page.goto(url + "/console/controller/contacts")
    page.click("text=Grace Hopper")
    link = page.inner_text("#unsubscribe-url")
    shots(page, "contact")
    assert link.startswith(url + "/unsubscribe/")
    page.goto(link)
    shots(page, "unsubscribe-confirm")
    page.click("button[type=submit]")
    shots(page, "unsubscribed")
    page.goto(url + "/console/controller/suppressions")
    page.fill("#lookup-email", "Grace@Example.org")
    page.click("#suppression-lookup button[type=submit]")
    assert "On the list" in page.inner_text("#lookup-result")
    shots(page, "suppression-lookup")
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("email,name,phone,company,job_title\ngrace@example.org,Grace Hopper,,,\n")
    result = instance["cli"].invoke(args=["contacts", "import", str(csv_file), "--source", "event",
                                          "--basis", "legitimate_interest"])
    assert result.exit_code == 0 and re.search(r"suppressed:\s+1", result.output), result.output
