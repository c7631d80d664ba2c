"""Tenant data key rotation: batch re-encryption, resumable, reads keep working, old key destroyed."""
import pytest
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.crypto import tasks
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.crypto.models import DataKey, KeyRotation
from privacy_saas.processor.users.models import RegisteredUser
from tests.lifecycle.conftest import seed


def live_versions(session, tenant):
    return sorted(session.scalars(sa.select(DataKey.version).where(
        DataKey.scope == tenant_scope(tenant.id), DataKey.purpose == "data", DataKey.destroyed_at.is_(None))))


def emails(session, tenant):
    session.expire_all()
    return sorted(u.email for u in session.scalars(sa.select(RegisteredUser).where(RegisteredUser.tenant_id == tenant.id)))


class Killed(Exception):
    pass


def test_rotation_interrupted_then_resumed(session):
    tenant = seed("rot", users=12, events_per_user=2, support=1)
    other = seed("other", users=3)
    expected, other_expected = emails(session, tenant), emails(session, other)
    batches = []

    def kill_after_two(rotation):
        batches.append(rotation.rows_done)
        if len(batches) == 2:
            raise Killed()

    with pytest.raises(Killed):
        tasks.rotate_scope(tenant_scope(tenant.id), batch_size=5, on_batch=kill_after_two)
    # Half-way: both versions live, every row readable, new writes use the new version.
    assert live_versions(session, tenant) == [1, 2]
    assert emails(session, tenant) == expected
    sealed_with = {RegisteredUser.email.version_of(u) for u in
                   session.scalars(sa.select(RegisteredUser).where(RegisteredUser.tenant_id == tenant.id))}
    assert sealed_with == {1, 2}
    assert keyring().writer(tenant_scope(tenant.id)).version == 2
    # The blind index is untouched by rotation: lookups keep working throughout.
    bidx = keyring().email_index(tenant_scope(tenant.id), "user3@rot.example")
    assert session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)
                          .where(RegisteredUser.tenant_id == tenant.id, RegisteredUser.email_bidx == bidx)) == 1

    rotation = tasks.rotate_scope(tenant_scope(tenant.id), batch_size=5)
    assert rotation.to_version == 2 and rotation.finished_at is not None
    assert live_versions(session, tenant) == [2]
    assert emails(session, tenant) == expected
    assert emails(session, other) == other_expected
    assert live_versions(session, other) == [1]
    assert session.scalar(sa.select(sa.func.count()).select_from(KeyRotation)
                          .where(KeyRotation.scope == tenant_scope(tenant.id))) == 1


def test_rotate_cli_with_progress(session, runner):
    tenant = seed("cli-rot", users=4, events_per_user=1)
    result = runner.invoke(args=["keys", "rotate", "cli-rot", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "now under data key version 2" in result.output
    assert live_versions(session, tenant) == [2]
    assert emails(session, tenant) == [f"user{n}@cli-rot.example" for n in range(4)]
    assert runner.invoke(args=["keys", "rotate", "nope"]).exit_code == 1
    status = runner.invoke(args=["keys", "status"])
    assert "destroyed" in status.output and "v2" in status.output


def test_rotation_is_audited_in_the_tenant_chain(session):
    tenant = seed("audited", users=2)
    tasks.rotate_scope(tenant_scope(tenant.id))
    actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.tenant_id == tenant.id)
                              .order_by(AuditEntry.seq)).all()
    assert actions[-2:] == ["keys.rotation_started", "keys.rotation_finished"]
