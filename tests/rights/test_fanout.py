"""One request, three scopes: a staff task and two tenant instructions; each decided by its controller."""
from __future__ import annotations

import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller.contacts.models import Contact
from privacy_saas.controller.suppression import service as suppression
from privacy_saas.extensions import db
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import statements
from tests.rights.conftest import EMAIL


def _count(model, **where):
    query = sa.select(sa.func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


def test_erase_fans_out_and_each_controller_decides(client, world, role_headers, tenant_headers):
    dpo, a, b = role_headers("dpo"), tenant_headers(world["a"]), tenant_headers(world["b"])
    user_a, user_b, bystander = world["user_a"].id, world["user_b"].id, world["a_other"].id
    tenant_a, contact_id = world["a"].id, world["contact"].id
    created = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL, "channel": "email"},
                          headers=role_headers("support"))
    assert created.status_code == 201, created.json
    body = created.json
    assert body["match_count"] == 3 and body["status"] == "open"
    assert "Grace" not in created.get_data(as_text=True) and "hopper" not in created.get_data(as_text=True).lower()
    assert {r["subject_id"] for r in body["routing"]} == {str(contact_id), str(user_a), str(user_b)}
    routes = sorted(r["routing"] for r in body["routing"])
    assert routes == ["forwarded to Alpha Ltd (the controller)", "forwarded to Beta Ltd (the controller)",
                      "handled by the vendor (the controller)"]

    staff_tasks = client.get("/api/v1/dsr-tasks", headers=dpo).json
    assert [t["subject_id"] for t in staff_tasks] == [str(contact_id)]
    queue_a = client.get("/api/v1/instructions", headers=a).json
    queue_b = client.get("/api/v1/instructions", headers=b).json
    assert [t["subject_id"] for t in queue_a] == [str(user_a)]
    assert [t["subject_id"] for t in queue_b] == [str(user_b)]
    assert queue_a[0]["due_at"] == body["due_at"]
    assert client.get("/api/v1/instructions", headers=tenant_headers(world["c"])).json == []

    # Staff can never decide for a tenant; tenants cannot see each other's instructions.
    assert client.post(f"/api/v1/dsr-tasks/{queue_a[0]['id']}/approve", headers=dpo).status_code == 403
    assert client.post(f"/api/v1/instructions/{queue_a[0]['id']}/approve", headers=b).status_code == 404
    assert client.post(f"/api/v1/instructions/{queue_b[0]['id']}/reject", json={}, headers=b).status_code == 400
    assert _count(RegisteredUser) == 4

    approved = client.post(f"/api/v1/instructions/{queue_a[0]['id']}/approve", headers=a)
    assert approved.status_code == 200 and approved.json["status"] == "executed"
    assert approved.json["outcome"] == {"usage_events": 4, "support_requests": 2, "registered_users": 1}
    assert client.post(f"/api/v1/instructions/{queue_a[0]['id']}/approve", headers=a).status_code == 409
    rejected = client.post(f"/api/v1/instructions/{queue_b[0]['id']}/reject",
                           json={"reason": "the user has an open contract dispute"}, headers=b)
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    assert client.post(f"/api/v1/instructions/{queue_b[0]['id']}/approve", headers=b).status_code == 409

    db.session.expire_all()
    assert db.session.get(RegisteredUser, (tenant_a, user_a)) is None
    assert _count(RegisteredUser, tenant_id=tenant_a) == 1  # the bystander
    assert _count(UsageEvent, user_id=user_a) == 0 and _count(SupportRequest, user_id=user_a) == 0
    assert _count(UsageEvent, user_id=user_b) == 3  # rejected: untouched
    assert _count(UsageEvent, user_id=bystander) == 3
    assert _count(RegisteredUser) == 3
    assert _count(Contact) == 2  # the staff task is still pending

    assert client.post(f"/api/v1/dsr-tasks/{staff_tasks[0]['id']}/approve", headers=role_headers("support")).status_code == 403
    done = client.post(f"/api/v1/dsr-tasks/{staff_tasks[0]['id']}/approve", headers=dpo)
    assert done.status_code == 200 and done.json["outcome"] == {"contacts_erased": 1, "suppressed": True}
    db.session.expire_all()
    assert _count(Contact) == 1 and suppression.is_suppressed(EMAIL)
    request = client.get(f"/api/v1/dsr/{body['id']}", headers=dpo).json
    assert request["status"] == "closed"

    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("dsr.%"))).all()
    actions = sorted(e.action for e in entries)
    assert actions.count("dsr.instruction.create") == 2 and "dsr.receive" in actions
    assert "dsr.instruction.reject" in actions and "dsr.task.execute" in actions
    for entry in entries:
        assert "grace" not in str(entry.detail).lower() and "grace" not in str(entry.targets).lower()


def test_bad_input_is_400_and_nothing_recorded(client, world, role_headers):
    dpo = role_headers("dpo")
    for payload in ({"kind": "forget", "email": EMAIL}, {"kind": "erase", "email": "not-an-email"},
                    {"kind": "erase"}, {"kind": "rectify", "email": EMAIL},
                    {"kind": "rectify", "email": EMAIL, "changes": {"email": "x@y.z"}},
                    {"kind": "erase", "email": EMAIL, "changes": {"name": "X"}}):
        response = client.post("/api/v1/dsr", json=payload, headers=dpo)
        assert response.status_code == 400, payload
        assert response.json["errors"]
    assert client.get("/api/v1/dsr", headers=dpo).json == []


def test_unknown_subject_has_no_tasks(client, world, role_headers):
    body = client.post("/api/v1/dsr", json={"kind": "access", "email": "nobody@nowhere.org"},
                       headers=role_headers("dpo")).json
    assert body["match_count"] == 0 and body["routing"] == []


def test_lookup_skips_purged_tenants_and_decrypts_only_to_confirm(session, world, monkeypatch):
    from privacy_saas.crypto.fields import Encrypted
    from privacy_saas.rights import service

    world["b"].status = "purged"
    session.flush()
    decrypted = []
    real_get = Encrypted.__get__

    def spy(self, obj, owner=None):
        if obj is not None:
            decrypted.append((obj.__tablename__, obj.id, self.name))
        return real_get(self, obj, owner)

    monkeypatch.setattr(Encrypted, "__get__", spy)
    matches = service.lookup(EMAIL)
    assert matches.contact_id == world["contact"].id
    assert matches.users == [(world["a"].id, world["user_a"].id)]
    # Found by blind index, nothing decrypted to search: only the addresses of each row found, to confirm it
    # (a user's indexed values and e-mail list).
    assert set(decrypted) <= {("contacts", world["contact"].id, "email"),
                              *(("registered_users", world["user_a"].id, name)
                                for name in ("email", "user_name", "external_id", "emails"))}
    assert ("contacts", world["contact"].id, "email") in decrypted


def test_instruction_of_a_purged_tenant_is_not_executed(client, world, role_headers, tenant_headers, session):
    a = tenant_headers(world["a"])
    client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=role_headers("dpo"))
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    world["a"].status = "purging"
    session.commit()
    refused = client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a)
    assert refused.status_code == 409 and refused.json["code"] == "tenant_gone"
    assert client.get(f"/api/v1/instructions/{instruction['id']}", headers=a).json["status"] == "pending"


def test_shredded_tenant_is_counted_not_searched(session, world):
    from privacy_saas.crypto.service import destroy_tenant_keys
    from privacy_saas.rights import service

    destroy_tenant_keys(world["b"])
    session.flush()
    matches = service.lookup(EMAIL)
    assert matches.unsearchable_tenants == 1 and [t for t, _ in matches.users] == [world["a"].id]


def test_staff_cannot_download_a_tenants_export(client, world, role_headers, tenant_headers):
    a = tenant_headers(world["a"])
    client.post("/api/v1/dsr", json={"kind": "access", "email": EMAIL}, headers=role_headers("dpo"))
    instruction = client.get("/api/v1/instructions", headers=a).json[0]
    client.post(f"/api/v1/instructions/{instruction['id']}/approve", headers=a)
    assert client.get(f"/api/v1/dsr-tasks/{instruction['id']}/export", headers=role_headers("admin")).status_code == 403
    assert client.get(f"/api/v1/instructions/{instruction['id']}/export", headers=a).status_code == 200


def test_a_look_up_asks_as_many_queries_beside_thirty_tenants_as_beside_three(session, world, make_keyed_tenant):
    """Blind indexes and matches are read in bulk: the queries do not grow with the tenants."""
    from privacy_saas.rights import service

    with statements(session) as few:
        before = service.lookup(EMAIL)
    for n in range(27):
        make_keyed_tenant(f"more-{n}")
    with statements(session) as many:
        after = service.lookup(EMAIL)
    assert len(many) == len(few)
    assert sorted(after.users) == sorted(before.users) and len(before.users) == 2
    assert after.contact_id == before.contact_id is not None
