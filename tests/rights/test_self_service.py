"""Self-service deletion: honoured only where the tenant file says self_service_deletion = true."""
from __future__ import annotations

import sqlalchemy as sa

from privacy_saas.extensions import db
from privacy_saas.processor.usage.models import UsageEvent
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights import service


def test_allowed_tenant_deletes_at_once(session, make_keyed_tenant, make_subject):
    tenant = make_keyed_tenant("open", self_service_deletion=True)
    user, other = make_subject(tenant, events=5), make_subject(tenant)
    user_id = user.id
    result = service.self_service_delete(user)
    assert result == {"deleted": True, "usage_events": 5, "support_requests": 1, "registered_users": 1}
    assert db.session.get(RegisteredUser, (tenant.id, user_id)) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)
                             .where(UsageEvent.user_id == other.id)) == 3


def test_other_tenants_queue_an_instruction(client, session, make_keyed_tenant, make_subject, tenant_headers):
    tenant = make_keyed_tenant("closed")  # self_service_deletion defaults to false
    user = make_subject(tenant)
    session.commit()
    tenant_id, user_id = tenant.id, user.id
    headers = tenant_headers(tenant)
    response = client.post(f"/api/v1/users/{user.id}/self-deletion", headers=headers)
    assert response.status_code == 201 and response.json["deleted"] is False
    assert db.session.get(RegisteredUser, (tenant.id, user.id)) is not None
    queue = client.get("/api/v1/instructions", headers=headers).json
    assert [(i["id"], i["kind"], i["subject_id"]) for i in queue] == [
        (response.json["instruction_id"], "erase", str(user.id))]
    assert client.post(f"/api/v1/instructions/{queue[0]['id']}/approve", headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(RegisteredUser, (tenant_id, user_id)) is None


def test_forwarded_request_for_another_tenants_user_is_404(client, session, make_keyed_tenant, make_subject, tenant_headers):
    mine, theirs = make_keyed_tenant("mine", self_service_deletion=True), make_keyed_tenant("theirs")
    victim = make_subject(theirs)
    session.commit()
    assert client.post(f"/api/v1/users/{victim.id}/self-deletion", headers=tenant_headers(mine)).status_code == 404
    assert db.session.get(RegisteredUser, (theirs.id, victim.id)) is not None


def test_me_deletion_needs_a_signed_in_user(client, session):
    assert client.post("/api/v1/me/deletion").status_code == 401
