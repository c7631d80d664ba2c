"""Registered users service: scoping, uniqueness, last admin, tenant status, audit, removal."""
import uuid

import pytest
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.errors import AppError, Conflict, Forbidden, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import invitations, service
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import new_tenant, race


def actions(session, tenant):
    return session.scalars(sa.select(AuditEntry.action).where(AuditEntry.tenant_id == tenant.id)
                           .order_by(AuditEntry.seq)).all()


def test_create_get_find_and_audit_without_personal_data(session, org, make_user):
    user = make_user(org, "Ada@Example.com", display_name="Ada Lovelace", given_name="Ada",
                     family_name="Lovelace", external_id="okta-1")
    assert service.get(org, user.id) is user
    assert service.find_by_email(org, " ada@EXAMPLE.com ").id == user.id
    assert service.find_by_external_id(org, "okta-1").id == user.id
    assert user.password_hash is None and user.status == "active" and user.role == "member"
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert entry.targets == [str(user.id)] and entry.tenant_id == org.id
    assert "ada" not in str(entry.detail).lower()


def test_other_tenants_user_is_not_found(org, other_org, make_user):
    user = make_user(org, "ada@example.com")
    with pytest.raises(NotFound):
        service.get(other_org, user.id)
    with pytest.raises(NotFound):
        service.get(org, uuid.uuid4())
    assert service.find_by_email(other_org, "ada@example.com") is None


def test_same_email_allowed_in_two_tenants_but_not_twice_in_one(org, other_org, make_user):
    make_user(org, "ada@example.com")
    make_user(other_org, "ada@example.com")
    with pytest.raises(Conflict) as exc:
        make_user(org, "ADA@example.com")
    assert exc.value.code == "user_exists"
    with pytest.raises(Conflict) as exc:
        make_user(org, "x@example.com", external_id=service.find_by_email(org, "ada@example.com").external_id or "e1")
        make_user(org, "y@example.com", external_id="e1")
    assert exc.value.code == "external_id_exists"


@pytest.mark.parametrize("fields,bad", [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a" * 250 + "@x.io"}, "email"),
    ({"display_name": "x" * 201}, "display_name"),
    ({"role": "owner"}, "role"),
    ({"password": "short"}, "password"),
])
def test_invalid_input_writes_nothing(session, org, fields, bad):
    values = {"email": "ok@example.com", **fields}
    with pytest.raises(AppError) as exc:
        service.create(org, **values)
    assert bad in exc.value.errors
    assert session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)) == 0


def test_list_filters_and_pages(org, other_org, make_user):
    for n in range(5):
        make_user(org, f"m{n}@example.com")
    make_user(org, "boss@example.com", role="admin")
    make_user(other_org, "m0@example.com")
    service.disable(org, service.find_by_email(org, "m1@example.com"))
    items, total = service.list_for(org, page_number=1, page_size=4)
    assert total == 6 and len(items) == 4
    items, total = service.list_for(org, page_number=2, page_size=4)
    assert total == 6 and len(items) == 2
    assert service.list_for(org, role="admin")[1] == 1
    assert service.list_for(org, status="disabled")[1] == 1
    items, total = service.list_for(org, email="M0@example.com")
    assert total == 1 and items[0].tenant_id == org.id


def test_update_disable_enable_and_versions(org, make_user):
    user = make_user(org, "ada@example.com")
    assert user.version == 1
    service.update(org, user, display_name="Ada L.", role="admin")
    assert user.version == 2 and user.role == "admin" and user.display_name == "Ada L."
    service.update(org, user, display_name="Ada L.")
    assert user.version == 2  # nothing changed, nothing written
    make_user(org, "other-admin@example.com", role="admin")
    service.disable(org, user)
    assert user.status == "disabled" and user.disabled_at is not None
    service.enable(org, user)
    assert user.status == "active" and user.disabled_at is None
    service.update(org, user, email="ada.lovelace@example.com")
    assert service.find_by_email(org, "ada.lovelace@example.com").id == user.id
    assert service.find_by_email(org, "ada@example.com") is None


def test_update_to_taken_email_conflicts(org, make_user):
    make_user(org, "ada@example.com")
    bob = make_user(org, "bob@example.com")
    with pytest.raises(Conflict) as exc:
        service.update(org, bob, email="ada@example.com")
    assert exc.value.code == "user_exists"


def test_last_admin_cannot_be_removed_demoted_or_disabled(session, org, make_user):
    admin = make_user(org, "admin@example.com", role="admin")
    for attempt in (lambda: service.remove(org, admin), lambda: service.update(org, admin, role="member"),
                    lambda: service.disable(org, admin)):
        with pytest.raises(Conflict) as exc:
            attempt()
        assert exc.value.code == "last_admin"
    second = make_user(org, "second@example.com", role="admin")
    service.update(org, admin, role="member")
    with pytest.raises(Conflict):
        service.disable(org, second)
    # A disabled admin does not count as the last active one.
    service.update(org, admin, role="admin")
    service.disable(org, admin)
    with pytest.raises(Conflict):
        service.remove(org, second)


def test_remove_erases_the_row_and_keeps_a_tombstone(session, org, make_user):
    user = make_user(org, "ada@example.com")
    user_id, org_id = user.id, org.id
    service.remove(org, user)
    session.commit()  # entries join their chain when the transaction commits
    session.expunge_all()
    assert session.get(RegisteredUser, (org_id, user_id)) is None
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.remove"))
    assert entry.targets == [str(user_id)]


def test_ended_tenant_refuses_writes_but_reads(session, org, make_user):
    user = make_user(org, "ada@example.com")
    org.end_contract()
    for attempt in (lambda: make_user(org, "new@example.com"), lambda: service.update(org, user, display_name="x"),
                    lambda: service.disable(org, user), lambda: service.remove(org, user)):
        with pytest.raises(Forbidden) as exc:
            attempt()
        assert exc.value.code == "tenant_ended" and exc.value.status == 403
    assert service.get(org, user.id) is user


def test_concurrent_creates_of_one_email_give_one_user(app, committed):
    tenant_id = new_tenant("race", name="Race").id
    db.session.commit()
    db.session.close()  # on SQLite any open transaction holds the write lock (BEGIN IMMEDIATE)
    outcomes = race(app, lambda: service.create(db.session.get(Tenant, tenant_id), email="race@example.com",
                                                actor=("test", None)), threads=4)
    assert outcomes == ["ok", "user_exists", "user_exists", "user_exists"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RegisteredUser)) == 1


def test_remove_erases_usage_data_memberships_and_invitations(session, org, make_user):
    from privacy_saas import clock
    from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
    from privacy_saas.processor.users import groups
    from privacy_saas.processor.users.models import UserGroupMember, UserInvitation

    user = make_user(org, "ada@example.com")
    keep = make_user(org, "bob@example.com")
    for who in (user, keep):
        session.add(UsageEvent(tenant_id=org.id, user_id=who.id, kind="page_view", occurred_at=clock.now(),
                               detail={"path": "/reports"}))
        session.add(SupportRequest(tenant_id=org.id, user_id=who.id, subject="help", body="text"))
    groups.create(org, "Engineering", members=[user.id, keep.id], actor=("test", None))
    invitations.invite_user(org, user, actor=("test", None))
    session.flush()
    user_id = user.id
    service.remove(org, user)
    session.expire_all()
    for model in (UsageEvent, SupportRequest, UserGroupMember, UserInvitation):
        owners = session.scalars(sa.select(model.user_id).where(model.tenant_id == org.id)).all()
        assert user_id not in owners, model.__tablename__
    assert keep.id in session.scalars(sa.select(UsageEvent.user_id)).all()
