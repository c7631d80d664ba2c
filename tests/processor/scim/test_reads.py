"""SCIM reads run in read transactions: on SQLite beside a writer holding the lock; a token's first use is still
recorded (in a transaction of its own)."""
import sqlite3

import pytest
import sqlalchemy as sa

from privacy_saas import db as dbmodule
from privacy_saas.audit.models import AuditEntry
from privacy_saas.auth.models import ApiToken
from privacy_saas.extensions import db
from privacy_saas.processor.scim import service, views
from privacy_saas.processor.users.tokens import create_token
from tests.helpers import RequestContextClient, bearer, new_tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_a_tokens_first_use_by_a_read_is_recorded_and_audited(client, org, org_token):
    response = client.get("/scim/v2/Users", headers=bearer(org_token))
    assert response.status_code == 200, response.json
    db.session.expire_all()
    token = db.session.scalars(sa.select(ApiToken).where(ApiToken.tenant_id == org.id)).one()
    assert token.last_used_at is not None
    uses = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "token.use",
                                                          AuditEntry.tenant_id == org.id)).all()
    assert [(e.actor_kind, e.actor_id, e.detail) for e in uses] == [("tenant_token", str(token.id), {"method": "GET"})]


def test_searches_answer_while_another_process_holds_the_write_lock(app, committed, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single writer lock")
    org = new_tenant("readers")
    token = create_token(org, "scim", actor=("test", None))[1]
    committed.commit()
    client = RequestContextClient(app, app.response_class)
    created = client.post("/scim/v2/Users", headers=bearer(token),
                          json={"schemas": [USER], "userName": "ann@contoso.example"})
    assert created.status_code == 201
    monkeypatch.setattr(dbmodule, "SQLITE_LOCK_TIMEOUT", 0.3)  # a writer gives up after this
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing
        listed = client.get("/scim/v2/Users", headers=bearer(token),
                            query_string={"filter": 'userName eq "ann@contoso.example"'})
        searched = client.post("/scim/v2/Users/.search", headers=bearer(token),
                               json={"filter": 'userName eq "ann@contoso.example"'})
        one = client.get(f"/scim/v2/Users/{created.json['id']}", headers=bearer(token))
        # A write in the same moment waits for the lock (and here gives up: 503, nothing written).
        refused = client.post("/scim/v2/Users", headers=bearer(token),
                              json={"schemas": [USER], "userName": "bo@contoso.example"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert listed.status_code == 200, listed.json
    assert [r["id"] for r in listed.json["Resources"]] == [created.json["id"]]
    assert [r["id"] for r in searched.json["Resources"]] == [created.json["id"]]
    assert one.status_code == 200 and one.json["userName"] == "ann@contoso.example"
    assert refused.status_code == 503
    assert client.get("/scim/v2/Users", headers=bearer(token)).json["totalResults"] == 1


def _live(app, committed, slug):
    org = new_tenant(slug)
    token = create_token(org, "scim", actor=("test", None))[1]
    committed.commit()
    return RequestContextClient(app, app.response_class), token


@pytest.mark.parametrize("other_write, done", [
    # The user itself changed: done again, on the row the other writer left (version 1 + 10).
    ("UPDATE registered_users SET version = version + 10 WHERE id = :id", [1, 11]),
    # Something else changed (another user, another tenant): what this write read still holds.
    ("UPDATE tenants SET name = name || ' (renamed)'", [1]),
])
def test_a_write_after_another_writers_commit(app, committed, monkeypatch, other_write, done):
    client, token = _live(app, committed, "optimists")
    user = client.post("/scim/v2/Users", headers=bearer(token),
                       json={"schemas": [USER], "userName": "cy@contoso.example"}).json
    calls = []
    real_patch = service.patch_user

    def patch_after_another_writer(tenant, found, body):
        calls.append(found.version)
        if len(calls) == 1 and db.engine.dialect.name == "sqlite":
            # Another process commits after this request read the user, before it writes.
            other = sqlite3.connect(db.engine.url.database, isolation_level=None)
            other.execute(other_write, {"id": found.id.hex})
            other.close()
        return real_patch(tenant, found, body)

    monkeypatch.setitem(views.USERS.__dict__, "patch", patch_after_another_writer)  # a frozen dataclass
    response = client.patch(f"/scim/v2/Users/{user['id']}", headers=bearer(token), json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Cy"}]})
    assert response.status_code == 200, response.json
    assert response.json["displayName"] == "Cy"
    if db.engine.dialect.name == "sqlite":
        assert calls == done
        assert response.json["meta"]["version"] == f'W/"{done[-1] + 1}"'
    else:
        assert calls == [1] and response.json["meta"]["version"] == 'W/"2"'
    updates = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user.update")).all()
    assert len(updates) == 1  # the first attempt's entry went with its rollback


def test_an_undisturbed_write_is_done_once(app, committed, monkeypatch):
    client, token = _live(app, committed, "calm")
    user = client.post("/scim/v2/Users", headers=bearer(token),
                       json={"schemas": [USER], "userName": "di@contoso.example"}).json
    calls = []
    real_remove = views.USERS.remove

    def counted(tenant, found, **kwargs):
        calls.append(found.id)
        return real_remove(tenant, found, **kwargs)

    monkeypatch.setitem(views.USERS.__dict__, "remove", counted)
    assert client.delete(f"/scim/v2/Users/{user['id']}", headers=bearer(token)).status_code == 204
    assert len(calls) == 1
    assert client.get(f"/scim/v2/Users/{user['id']}", headers=bearer(token)).status_code == 404
