"""`privacy-saas keys migrate`: an installation on the layout before key stores (data keys wrapped by the
master key directly) moves into each key store, is interrupted once, resumes, and every user still reads."""
import os

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.crypto import tasks
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, Keyring, keyring, tenant_scope
from privacy_saas.crypto.models import DataKey, KeyCustody
from privacy_saas.crypto.providers import new_data_key
from privacy_saas.extensions import db
from privacy_saas.processor.users.models import RegisteredUser
from tests.lifecycle.conftest import seed
from tests.test_migrations import scratch_app  # noqa: F401  (pytest fixture)


def old_layout(session, scope):
    """Store the scope's keys as the code before key stores did: wrapped by the master key, no custody."""
    ring = keyring()
    rows = [r for r in ring._rows(scope) if r.destroyed_at is None]
    raws = ring._unwrap_rows(scope, rows) if rows else [new_data_key(), new_data_key()]
    session.execute(sa.delete(DataKey).where(DataKey.scope == scope))
    session.execute(sa.delete(KeyCustody).where(KeyCustody.scope == scope))
    for (purpose, version), raw in zip([(r.purpose, r.version) for r in rows] or [("data", 1), ("index", 1)], raws):
        master_version, wrapped = ring.provider.wrap(raw, f"{scope}:{purpose}:v{version}".encode())
        session.add(DataKey(scope=scope, purpose=purpose, version=version, master_version=master_version,
                            wrapped=wrapped))
    session.flush()
    ring._cache.clear()


def emails(session, tenant_id):
    session.expire_all()
    return sorted(u.email for u in session.scalars(sa.select(RegisteredUser)
                                                   .where(RegisteredUser.tenant_id == tenant_id)))


@pytest.fixture(params=["local", pytest.param("openbao", marks=pytest.mark.openbao)])
def target(request, app):
    """Make `backend` the configured key store for the test (as PRIVACY_SAAS_KEYSTORE would)."""
    original = app.extensions["privacy_saas.keyring"]
    if request.param not in original.stores:
        pytest.skip("needs OpenBao (OPENBAO_ADDR)")
    app.extensions["privacy_saas.keyring"] = Keyring(original.provider, original.stores, request.param)
    yield request.param
    app.extensions["privacy_saas.keyring"] = original


def test_old_installation_moves_to_a_key_store_interrupted_once_and_resumed(session, runner, target, monkeypatch):
    tenants = []
    for n in range(3):
        tenant = seed(f"old-{n}", users=2, events_per_user=0, support=0)
        tenants.append(tenant)
    ensure_ready()
    for scope in [tenant_scope(t.id) for t in tenants] + [CONTROLLER_SCOPE]:
        old_layout(session, scope)
    # Users and a contact written on the old layout.
    for tenant in tenants:
        seed_user = RegisteredUser(tenant_id=tenant.id, email=f"late@{tenant.slug}.example", display_name="Late",
                                   email_bidx=keyring().email_index(tenant_scope(tenant.id),
                                                                    f"late@{tenant.slug}.example"),
                                   user_name_bidx=keyring().email_index(tenant_scope(tenant.id),
                                                                        f"late@{tenant.slug}.example"))
        session.add(seed_user)
    contact = contacts.create({"email": "contact@vendor.example", "name": "Grace", "source": "event",
                               "lawful_basis": "legitimate_interest"})
    session.flush()
    expected = {t.id: emails(session, t.id) for t in tenants}
    assert all(len(v) == 3 for v in expected.values())
    scopes = sorted([tenant_scope(t.id) for t in tenants] + [CONTROLLER_SCOPE])
    assert sorted(tasks.scopes_to_move(target)) == scopes

    # A wrong --to is refused before anything moves.
    other = "openbao" if target == "local" else "local"
    refused = runner.invoke(args=["keys", "migrate", "--to", other])
    assert refused.exit_code == 1 and f"PRIVACY_SAAS_KEYSTORE is {target}" in refused.output

    moved = []

    def die_after_two(point):
        moved.append(point)
        if len(moved) == 2:
            raise SystemExit(9)

    monkeypatch.setattr(tasks, "fault", die_after_two)
    interrupted = runner.invoke(args=["keys", "migrate", "--to", target])
    assert interrupted.exit_code == 9
    session.rollback()
    assert len(tasks.scopes_to_move(target)) == len(scopes) - 2
    # Half-way: moved and unmoved scopes read alike.
    assert {t.id: emails(session, t.id) for t in tenants} == expected
    monkeypatch.setattr(tasks, "fault", lambda point: None)
    resumed = runner.invoke(args=["keys", "migrate", "--to", target])
    assert resumed.exit_code == 0, resumed.output
    assert f"moved {len(scopes) - 2} scope(s)" in resumed.output and "0 left" in resumed.output
    again = runner.invoke(args=["keys", "migrate", "--to", target])
    assert "moved 0 scope(s)" in again.output

    rows = session.execute(sa.select(DataKey.scope, DataKey.master_version, DataKey.kek_version)
                           .where(DataKey.scope.in_(scopes))).all()
    assert {r.master_version for r in rows} == {None}
    # Under each scope's newest KEK version (the controller's key may be older than this test: the
    # PostgreSQL and SQLite runs share one OpenBao, and the suite rotates it).
    assert all(r.kek_version == keyring().store.state(r.scope).versions[-1] for r in rows)
    custody = {c.scope: c for c in session.scalars(sa.select(KeyCustody).where(KeyCustody.scope.in_(scopes)))}
    assert {c.backend for c in custody.values()} == {target}
    assert {c.previous for c in custody.values()} == {"master:v1"}
    keyring()._cache.clear()
    assert {t.id: emails(session, t.id) for t in tenants} == expected
    assert contacts.get(contact.id).email == "contact@vendor.example"
    audited = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action == "keys.migrated")).all()
    assert len(audited) == len(scopes)
    status = runner.invoke(args=["keys", "status"])
    for tenant in tenants:
        assert f"{target} privacy-saas-tenant-{tenant.id} versions v1" in status.output

    # The purge of a moved tenant: the store's receipt, and a certificate honest about old backups.
    shred = keyring().destroy_scope(tenant_scope(tenants[0].id))
    assert [r.backend for r in shred.receipts] == [target]


@pytest.mark.openbao
def test_a_scope_moved_from_the_local_file_to_openbao_is_destroyed_in_both(session, app, runner, monkeypatch):
    original = app.extensions["privacy_saas.keyring"]
    if "openbao" not in original.stores:
        pytest.skip("needs OpenBao (OPENBAO_ADDR)")
    local = Keyring(original.provider, original.stores, "local")
    monkeypatch.setitem(app.extensions, "privacy_saas.keyring", local)
    tenant = seed("local-then-bao", users=2, events_per_user=0, support=0)
    scope = tenant_scope(tenant.id)
    expected = emails(session, tenant.id)
    monkeypatch.setitem(app.extensions, "privacy_saas.keyring", Keyring(original.provider, original.stores, "openbao"))
    assert runner.invoke(args=["keys", "migrate", "--to", "openbao"]).exit_code == 0
    keyring()._cache.clear()
    assert emails(session, tenant.id) == expected
    assert original.stores["local"].state(scope).versions == (1,)  # left for backups taken before the move
    shred = keyring().destroy_scope(scope)
    assert sorted(r.backend for r in shred.receipts) == ["local", "openbao"]
    assert original.stores["local"].state(scope).destroyed and original.stores["openbao"].state(scope).destroyed
    assert os.path.exists(app.config["KEYSTORE_PATH"])


def test_rotate_kek_rewraps_the_scope_in_its_store(session, runner):
    tenant = seed("kek-rot", users=3, events_per_user=0, support=0)
    scope = tenant_scope(tenant.id)
    expected = emails(session, tenant.id)
    before = dict(session.execute(sa.select(DataKey.purpose, DataKey.wrapped).where(DataKey.scope == scope)).all())
    result = runner.invoke(args=["keys", "rotate-kek", "kek-rot"])
    assert result.exit_code == 0, result.output
    assert "key-encryption key now at version 2; 2 data key(s) re-wrapped" in result.output
    rows = session.execute(sa.select(DataKey.purpose, DataKey.kek_version, DataKey.wrapped)
                           .where(DataKey.scope == scope)).all()
    assert {r.kek_version for r in rows} == {2} and all(before[r.purpose] != r.wrapped for r in rows)
    assert keyring().store.state(scope).versions == (1, 2)
    keyring()._cache.clear()
    assert emails(session, tenant.id) == expected
    assert session.scalar(sa.select(AuditEntry.detail).where(AuditEntry.action == "keys.kek_rotated")) == {
        "kek_version": 2, "rewrapped": 2}
    assert runner.invoke(args=["keys", "rotate-kek"]).exit_code == 1
    assert runner.invoke(args=["keys", "rotate-kek", "nobody"]).exit_code == 1
    ensure_ready()
    controller = runner.invoke(args=["keys", "rotate-kek", "--controller"])
    assert controller.exit_code == 0 and "controller: key-encryption key now at version" in controller.output


def test_downgrading_past_0012_rewraps_under_the_master_key_and_every_user_still_reads(scratch_app):
    with scratch_app.app_context():
        upgrade()
        tenant = seed("down-and-up", users=3, events_per_user=0, support=0)
        db.session.commit()
        tenant_id, scope = tenant.id, tenant_scope(tenant.id)
        expected = emails(db.session, tenant_id)
        db.session.remove()
        downgrade(revision="0013")  # past 0012 (and whatever follows it): to the revision before it
        upgrade()
        keyring()._cache.clear()
        assert emails(db.session, tenant_id) == expected
        rows = db.session.execute(sa.select(DataKey.master_version, DataKey.kek_version)
                                  .where(DataKey.scope == scope)).all()
        assert {(r.master_version, r.kek_version) for r in rows} == {(keyring().provider.newest_version, None)}
        db.session.remove()
        db.engine.dispose()
