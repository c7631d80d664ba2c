"""A tenant admin objects to a sub-processor change in a real browser (headless Debian Chromium)."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.notices import changes
from privacy_saas.notices.models import Notice, NoticeTask
from privacy_saas.processor.users import service as users
from tests.console.test_browser import page  # noqa: F401  (the Chromium fixture)
from tests.helpers import new_tenant, serving

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
REASON = "Our DPA allows EU-hosted sub-processors only; please keep MailCo out of our data."


@pytest.fixture
def live_server(app, committed, monkeypatch):
    """A tenant with an admin and a published change, committed, served on a loopback port."""
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    tenant = new_tenant("acme", name="Acme Ltd")
    users.create(tenant, email="ada@acme.example", display_name="Ada Admin", role="admin", password=PASSWORD,
                 actor=("test", None))
    changes.propose({"action": "add", "name": "MailCo", "purpose": "transactional e-mail", "country": "US",
                     "location": "United States (Virginia)", "transfer_mechanism": "EU-US Data Privacy Framework",
                     "data_categories": ["contact_details"],
                     "effective_on": clock.today() + timedelta(days=31)})
    committed.commit()
    with serving(app) as url:
        yield url


def test_a_tenant_admin_objects_to_a_change(live_server, page, committed, tmp_path):  # noqa: F811
    page.goto(live_server + "/console/t/login")
    page.fill("#organisation", "acme")
    page.fill("#email", "ada@acme.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/console/t/users")

    banner = page.locator("#notices-banner")
    assert "1 notice from us" in banner.inner_text()
    page.screenshot(path=str(tmp_path / "1-banner.png"), full_page=True)
    banner.locator("a").click()
    page.wait_for_url(live_server + "/console/t/notices")

    notice = page.locator("section.notice", has_text="MailCo")
    assert "EU-US Data Privacy Framework" in notice.inner_text()
    notice.locator("textarea[name=reason]").fill(REASON)
    page.screenshot(path=str(tmp_path / "2-objecting.png"), full_page=True)
    notice.locator("button.danger", has_text="Object").click()
    page.wait_for_url(live_server + "/console/t/notices")

    assert "Objection recorded" in page.inner_text("main")
    answer = page.locator("section.notice", has_text="MailCo").locator("dd.answer").inner_text()
    assert answer.startswith("objected on") and REASON in answer
    assert page.locator("#notices-banner").count() == 0
    page.screenshot(path=str(tmp_path / "3-objected.png"), full_page=True)
    for shot in ("1-banner", "2-objecting", "3-objected"):
        assert (tmp_path / f"{shot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshots in {tmp_path}")

    committed.expire_all()
    stored = committed.scalar(sa.select(Notice))
    assert stored.answer == "objected" and stored.objection_reason == REASON
    assert stored.answered_by.startswith("tenant_admin:")
    assert committed.scalar(sa.select(NoticeTask.status)) == "open"
