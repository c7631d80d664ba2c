"""Tenant admins decide forwarded data-subject requests in their console."""
import re

import pytest
import sqlalchemy as sa

from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights import service as rights
from tests.console.test_tenant_views import T, post


@pytest.fixture(autouse=True)
def eager(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def test_admin_approves_erasure_and_rejects_another(admin_client, session, org, other_org, make_user):
    subject = make_user(org, "subject@example.com", display_name="Sam Subject")
    keep = make_user(org, "keep@example.com", display_name="Kim Keep")
    make_user(other_org, "subject@example.com")
    subject_id, keep_id = subject.id, keep.id
    rights.receive("erase", "subject@example.com", "email", "staff:test")
    rights.receive("erase", "keep@example.com", "email", "staff:test")
    session.commit()
    page = admin_client.get(f"{T}/instructions").get_data(as_text=True)
    assert "Sam Subject" in page and "Kim Keep" in page
    assert len(re.findall(r'action="/console/t/instructions/', page)) == 4  # only this tenant's two

    def action(name, kind):
        row = [r for r in page.split("<tr>") if name in r][0]
        return re.search(rf'action="(/console/t/instructions/[^"]+/{kind})"', row).group(1)

    approve_sam, reject_kim = action("Sam Subject", "approve"), action("Kim Keep", "reject")
    post(admin_client, approve_sam, page=f"{T}/instructions")
    no_reason = post(admin_client, reject_kim, {"reason": ""}, page=f"{T}/instructions")
    assert no_reason.status_code == 302
    post(admin_client, reject_kim, {"reason": "Needed for an open contract"}, page=f"{T}/instructions")
    session.expire_all()
    remaining = set(session.scalars(sa.select(RegisteredUser.id).where(RegisteredUser.tenant_id == org.id)))
    assert subject_id not in remaining and keep_id in remaining
    page = admin_client.get(f"{T}/instructions").get_data(as_text=True)
    assert "Needed for an open contract" in page and "erased user" in page
