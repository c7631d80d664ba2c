"""Staff console: the request page shows matches as ids, and dpo/admin decide controller tasks."""
from __future__ import annotations

from privacy_saas.controller.contacts.models import Contact
from privacy_saas.extensions import db
from tests.helpers import csrf_token
from tests.rights.conftest import EMAIL


def test_request_page_and_decisions(client, session, world, role_headers, console_login):
    contact_id = world["contact"].id
    request_id = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=role_headers("dpo")).json["id"]
    console_login("dpo")
    page = client.get(f"/console/rights/{request_id}").get_data(as_text=True)
    assert str(contact_id) in page and "forwarded to Alpha Ltd (the controller)" in page
    assert "awaiting the tenant" in page and "grace" not in page.lower()
    from privacy_saas.rights.service import list_staff_tasks

    task_id = list_staff_tasks()[0].id
    token = csrf_token(page)
    refused = client.post(f"/console/rights/tasks/{task_id}/reject", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 400
    done = client.post(f"/console/rights/tasks/{task_id}/approve", data={"csrf_token": token})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, contact_id) is None


def test_support_sees_requests_but_cannot_decide(client, session, world, role_headers, console_login):
    from privacy_saas.rights.service import list_staff_tasks

    request_id = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=role_headers("dpo")).json["id"]
    console_login("support")
    page = client.get(f"/console/rights/{request_id}").get_data(as_text=True)
    assert "Approve and carry out" not in page
    task_id = list_staff_tasks()[0].id
    refused = client.post(f"/console/rights/tasks/{task_id}/approve", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    assert db.session.get(Contact, world["contact"].id) is not None
