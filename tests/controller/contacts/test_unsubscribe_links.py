"""A contact's unsubscribe link comes from configuration, never from the request's Host header."""
import pytest

from tests.helpers import bearer

EVIL = "evil.example"


@pytest.fixture(autouse=True)
def unconfigured(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)


def test_unsubscribe_links_come_from_configuration(app, client, make_contact, staff_token, monkeypatch):
    contact = make_contact("ada@example.org")
    url = f"/api/v1/contacts/{contact.id}"
    assert client.get(url, headers=bearer(staff_token), base_url=f"http://{EVIL}").status_code == 421
    local = client.get(url, headers=bearer(staff_token)).json["unsubscribe_url"]
    assert local.startswith("http://localhost/unsubscribe/")
    assert client.get(local.removeprefix("http://localhost")).status_code == 200  # the link works
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://privacy.example.com")
    body = client.get(url, headers=bearer(staff_token), base_url=f"http://{EVIL}").json
    assert body["unsubscribe_url"] == local.replace("http://localhost", "https://privacy.example.com")
