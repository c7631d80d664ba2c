"""Tenant console: return export after contract end, and the sub-processor register."""
import io
import zipfile
from datetime import date

import pytest

from privacy_saas import clock
from privacy_saas.subprocessors.models import Subprocessor
from tests.console.test_tenant_views import T, post


@pytest.fixture(autouse=True)
def eager(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def test_export_after_contract_end(admin_client, session, org):
    org.end_action = "return_then_delete"
    clock.travel_to(date(2026, 11, 23))
    page = admin_client.get(f"{T}/export").get_data(as_text=True)
    assert "becomes available when the contract ends" in page
    org.end_contract(date(2026, 10, 31))
    session.flush()
    page = admin_client.get(f"{T}/export").get_data(as_text=True)
    assert "2027-11-01" in page  # the purge date the admin must download before
    response = post(admin_client, f"{T}/export", page=f"{T}/export")
    assert response.status_code == 302
    page = admin_client.get(f"{T}/export").get_data(as_text=True)
    link = page.split('href="/api/v1/exports/')[1].split('"')[0]
    download = admin_client.get(f"/api/v1/exports/{link}")
    assert download.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert "registered_users.json" in names and "registered_users.csv" in names


def test_subprocessor_register_is_read_only_for_tenant_admins(admin_client, session):
    session.add(Subprocessor(name="Hosting Co", purpose="Cloud hosting", location="EU (Frankfurt)",
                             safeguards="EU only"))
    session.flush()
    page = admin_client.get(f"{T}/subprocessors").get_data(as_text=True)
    assert "Hosting Co" in page and "EU (Frankfurt)" in page
    assert "<form" not in page.split("<main>")[1]
