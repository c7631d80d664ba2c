"""The staff console in a real browser (headless Chromium through Playwright)."""
import os
import threading
from datetime import date

import pytest
from werkzeug.serving import make_server

from privacy_saas.auth import service as staff_service
from privacy_saas.processor.tenants.models import Tenant

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"
TIMEOUT_MS = 15_000


@pytest.fixture
def live_server(app, committed):
    """The app served on a free loopback port, over data that is really committed."""
    staff_service.create_staff("browser@vendor.example", "account_manager", PASSWORD)
    committed.add(Tenant(slug="acme", name="Acme Ltd", region="eu", contract_start=date(2025, 1, 1),
                         contract_end=date(2027, 12, 31), end_action="return_then_delete"))
    committed.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            context = browser.new_context()
            tab = context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            tab.set_default_navigation_timeout(TIMEOUT_MS)
            yield tab
            context.close()
        finally:
            browser.close()


def test_staff_signs_in_and_sees_the_tenants(live_server, page, tmp_path):
    page.goto(live_server + "/console/")
    assert page.url.startswith(live_server + "/console/login")

    page.fill("#email", "browser@vendor.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/console/")

    row = page.locator("#tenants tbody tr", has_text="acme")
    assert row.count() == 1
    assert "Acme Ltd" in row.inner_text()
    assert "2029-01-01" in row.inner_text()

    shot = tmp_path / "tenants.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.click("text=Sign out")
    page.wait_for_url(live_server + "/console/login")
    page.goto(live_server + "/console/")
    assert page.url.startswith(live_server + "/console/login")


def test_wrong_password_in_the_browser_stays_on_the_login_page(live_server, page):
    page.goto(live_server + "/console/login")
    page.fill("#email", "browser@vendor.example")
    page.fill("#password", "not the password")
    with page.expect_response(lambda r: r.url.startswith(live_server + "/console/login")
                              and r.request.method == "POST") as posted:
        page.click("button[type=submit]")
    assert posted.value.status == 401
    assert "Wrong e-mail or password" in page.inner_text("main")
